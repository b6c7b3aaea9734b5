"""The ``gtzan-gpu`` command line: one entry point, a subcommand per job, ``--help`` on each.

Each module of this package owns a group of commands (:mod:`.data`, :mod:`.training`, :mod:`.runs`,
:mod:`.encoders`, :mod:`.tools`): it registers their parsers (its ``PARSERS``) and holds thin handlers around a
library call. User errors (:class:`GtzanError`, bad options) print one line and exit with status 2, never a
traceback.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

from gtzan_gpu import __version__
from gtzan_gpu.allocator import retain_freed_memory
from gtzan_gpu.cli import data, encoders, runs, tools, training
from gtzan_gpu.errors import GtzanError
from gtzan_gpu.plugins import load_all as load_all_plugins

log = logging.getLogger("gtzan_gpu")

# the order of `gtzan-gpu --help`: data in, training, what is done with runs, encoders, tools
COMMAND_PARSERS = (*data.PARSERS, *training.PARSERS, *runs.PARSERS, *encoders.PARSERS, *tools.PARSERS)


def build_parser() -> argparse.ArgumentParser:
    """The ``gtzan-gpu`` command line: each command module's ``PARSERS``, each
    beside nothing but its own arguments; ``-q`` / ``-v`` work before or after the command."""
    parser = OneLineErrorParser(
        prog="gtzan-gpu",
        description="Music-genre classification on GTZAN-style corpora, features computed on the GPU.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only; no progress bars")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_command_parser in COMMAND_PARSERS:
        add_command_parser(commands)
    parser.command_parsers = commands.choices
    for command in commands.choices.values():  # -q / -v after the command too (`evaluate RUN -q`)
        command.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="debug logging")
        command.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                             help="warnings and errors only; no progress bars")
    return parser


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse with its errors on one line (``gtzan-gpu train: error: ... (see --help)``), exit status 2, as every
    other bad input; subcommand parsers inherit it."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


GLOBAL_FLAGS = ("-q", "--quiet", "-v", "--verbose")


def _launch_argv(argv: list[str]) -> tuple[list[str], bool] | None:
    """``launch``'s own words and whether -v was given, when the command is ``launch`` (its words are torchrun's
    options and another command's, which no parser here knows), else None."""
    flags = 0
    while flags < len(argv) and argv[flags] in GLOBAL_FLAGS:
        flags += 1
    if argv[flags:flags + 1] != ["launch"]:
        return None
    return argv[flags + 1:], any(flag in ("-v", "--verbose") for flag in argv[:flags])


def _run_launch(argv: list[str], verbose: bool) -> int:
    from gtzan_gpu.launch import launch

    try:
        return launch(argv, verbose)
    except GtzanError as error:
        print(f"gtzan-gpu launch: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gtzan-gpu launch: interrupted", file=sys.stderr)
        return 130


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    launched = _launch_argv(argv)
    if launched is not None:
        return _run_launch(*launched)
    retain_freed_memory()  # CPU batches reuse freed host memory instead of faulting fresh pages (allocator.py)
    load_all_plugins()  # the user's own models and front ends (entry points), before the choices are read
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # named by the command that was given: `gtzan-gpu train: error: unrecognized arguments: ...`
        parser.command_parsers[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    # our own loggers at the chosen level; libraries (onnxscript, torch.onnx, ...) say only warnings and errors
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s: %(message)s", stream=sys.stderr)
    logging.getLogger("gtzan_gpu").setLevel(level)
    log.setLevel(level)  # also when logging was configured before (an embedding program, pytest)
    rank, world_size = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    try:
        return args.run(args)
    except GtzanError as error:
        # under torchrun an error every rank meets (bad input, a refused resume) is said once, by rank 0; an
        # error of one rank's own data or numbers is said by that rank
        if rank == 0 or getattr(error, "rank_specific", False):
            prefix = f"rank {rank}: " if world_size > 1 and rank > 0 else ""
            print(f"gtzan-gpu {args.command}: error: {prefix}{error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"gtzan-gpu {args.command}: interrupted", file=sys.stderr)
        return 130
    except RuntimeError as error:
        from gtzan_gpu.training.distributed import lost_peer

        if world_size == 1 or not lost_peer(error):
            raise
        print(f"gtzan-gpu {args.command}: error: rank {rank} stopped: another rank failed first (its error is "
              f"above)", file=sys.stderr)
        return 1
