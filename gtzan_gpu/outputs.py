"""One rule for every file a command writes where the user names it (``--out``, ``--timeline``): it never overwrites
what the command reads or what another owner keeps.

:func:`check_output` refuses, in one line naming the option, an output that is

- one of the command's own inputs (an audio file it classifies, the run or checkpoint it reads, the corpus or
  table it scans), or inside an input folder where a file of that name already exists;
- an existing file of a run folder (``run.json`` / ``last.pt`` above it) or a store (``store.json``): those files
  belong to the run or the store, and only ``train`` / ``evaluate`` / ``pack`` write them;
- an existing audio file (a corpus file, wherever it lies).

A new file anywhere else, or the command's own earlier output (a timeline PNG drawn again), is fine.
"""
from __future__ import annotations

from pathlib import Path

from gtzan_gpu.data.audio import AUDIO_EXTENSIONS
from gtzan_gpu.errors import GtzanError

OWNER_MARKERS = {"run.json": "run folder", "last.pt": "run folder", "store.json": "store"}


def _owner(path: Path) -> tuple[Path, str] | None:
    """The run folder or store ``path`` lies in (a marker file in one of its parents), if any."""
    for folder in path.parents:
        for marker, kind in OWNER_MARKERS.items():
            if (folder / marker).is_file():
                return folder, kind
    return None


def check_output(path: str | Path, option: str, inputs: tuple[str | Path, ...] = ()) -> Path:
    """``path`` resolved, or a GtzanError if writing it could destroy an input or a file another owner keeps."""
    target = Path(path).resolve()
    for given in inputs:
        source = Path(given).resolve()
        if target == source:
            raise GtzanError(f"{option} {path} is an input of this command; it would be overwritten")
        if source.is_dir() and source in target.parents and target.exists():
            raise GtzanError(f"{option} {path} is a file of the input folder {given}; it would be overwritten")
    if target.exists() and target.is_file():
        if target.suffix.lower() in AUDIO_EXTENSIONS:
            raise GtzanError(f"{option} {path} is an audio file; outputs never overwrite audio")
        owner = _owner(target)
        if owner is not None:
            raise GtzanError(f"{option} {path} is a file of the {owner[1]} {owner[0]}; only its own commands "
                             f"write there")
    return target
