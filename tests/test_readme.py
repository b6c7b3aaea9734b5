"""The README stays short and true: every command and option its command table names exists in the parser, and
every docs/ page is linked from it."""
import re
from pathlib import Path

from gtzan_gpu.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def command_rows() -> list[tuple[str, str]]:
    """(command, the whole row) of each row of the command table that starts with `gtzan-gpu COMMAND`."""
    rows = []
    for line in README.splitlines():
        found = re.match(r"\| `gtzan-gpu ([a-z]+)", line)
        if found:
            rows.append((found.group(1), line))
    return rows


def test_every_command_and_option_the_readme_names_exists():
    parser = build_parser()
    commands = parser.command_parsers
    rows = command_rows()
    assert {command for command, _ in rows} == set(commands)  # each command has its row, no row names a ghost
    for command, row in rows:
        if command == "launch":  # its options are torchrun's own
            continue
        known = {flag for action in commands[command]._actions for flag in action.option_strings}
        ours = re.sub(r"`(tensorboard|pip) [^`]*`", "", row)  # other programs' options
        named = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", ours))
        assert named <= known, (command, sorted(named - known))


def test_the_readme_is_short_and_links_every_docs_page():
    assert len(README.splitlines()) <= 260
    pages = sorted(p.name for p in (ROOT / "docs").glob("*.md"))
    assert pages and all(f"docs/{name}" in README for name in pages)
