"""A run directory owned by one training process: locked, never silently reused, cleaned when a run fails early.

- Two processes never train into one RUN_DIR: the second gets a one-line error naming the first
  (:func:`gtzan_gpu.locking.exclusive_lock`).
- A RUN_DIR that holds a run is continued (``resume``) or cleared first (``overwrite``); a plain new run
  there is refused, so checkpoints, reports and TensorBoard logs of two runs never mix. A non-empty folder
  that is not a run is never cleared.
- Temporary files that a killed checkpoint write left behind are removed at start.
- A new run that fails before its first checkpoint leaves no folder behind (or an empty one, if it existed).
"""
from __future__ import annotations

import contextlib
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Iterator

from gtzan_gpu import __version__
from gtzan_gpu.atomic import atomic_write_text, remove_stale_temporaries
from gtzan_gpu.errors import GtzanError
from gtzan_gpu.locking import LOCK_NAME, exclusive_lock

LAST, BEST = "last.pt", "best.pt"
DEFAULT_RUNS = "runs"  # train without --out: runs/<TrainConfig.run_name()>
RUN_MARKER = "run.json"
RUN_MODES = ("new", "resume", "overwrite")
OWN_FILES = (LAST, BEST, "manifest.json", RUN_MARKER)


def _entries(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.name != LOCK_NAME) if path.is_dir() else []


def holds_a_run(path: Path) -> bool:
    return (path / LAST).is_file() or (path / RUN_MARKER).is_file()


def check_resumable(path: Path) -> None:
    """RUN_DIR has a checkpoint to resume from; a run that stopped before its first one says so and offers
    --overwrite (the same message from a new run on that folder)."""
    if not (path / LAST).is_file():
        if (path / RUN_MARKER).is_file():
            raise GtzanError(f"{path} holds a run that stopped before its first checkpoint: nothing to resume; "
                             f"start it again with --overwrite")
        raise GtzanError(f"no checkpoint at {path / LAST}")


def _check_mode(path: Path, mode: str) -> None:
    entries = _entries(path)
    if mode == "resume":
        check_resumable(path)
    elif entries and not holds_a_run(path):
        raise GtzanError(f"run directory {path} is not empty and holds no gtzan-gpu run; choose a new or empty "
                         f"folder (it is never cleared)")
    elif entries and mode == "new" and not (path / LAST).is_file():
        check_resumable(path)
    elif entries and mode == "new":
        raise GtzanError(f"run directory {path} already holds a run; continue it with `gtzan-gpu train --resume "
                         f"{path}` or replace it with --overwrite")


@contextlib.contextmanager
def claim_run_dir(path: str | Path, mode: str = "new") -> Iterator[Path]:
    """Own RUN_DIR for the block: lock it, check it suits ``mode`` (new / resume / overwrite), clear stale
    temporaries (and, for ``overwrite``, the old run), write ``run.json``. A new run that fails before its
    first checkpoint is removed again."""
    if mode not in RUN_MODES:
        raise ValueError(f"mode must be one of {RUN_MODES}, not {mode!r}")
    path = Path(path)
    created = not path.exists()
    made_parents = [parent for parent in path.parents if not parent.exists()]  # innermost first
    if path.exists() and not path.is_dir():
        raise GtzanError(f"run directory {path} is a file")
    with exclusive_lock(path, "run directory"):
        _check_mode(path, mode)  # before the try: a refused folder is left exactly as it was
        try:
            for name in OWN_FILES:
                remove_stale_temporaries(path / name)
            if mode == "overwrite":
                for entry in _entries(path):
                    shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
            if mode != "resume":
                atomic_write_text(path / RUN_MARKER, json.dumps({
                    "format": "gtzan-gpu/run", "gtzan_gpu": __version__, "command": sys.argv[1:],
                    "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}, indent=2) + "\n")
            yield path
        except BaseException:
            if mode != "resume" and not (path / LAST).is_file():
                _remove_failed_run(path, created, made_parents)
            raise


def _remove_failed_run(path: Path, created: bool, made_parents: list[Path]) -> None:
    """A run that failed before its first checkpoint: remove what it made (the folder itself if it made it, and
    the parents it made while they are empty: another run may have started in one meanwhile)."""
    if created:
        shutil.rmtree(path, ignore_errors=True)
        for parent in made_parents:
            try:
                parent.rmdir()
            except OSError:
                break
        return
    for entry in _entries(path):
        shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() and not entry.is_symlink() else \
            entry.unlink(missing_ok=True)
