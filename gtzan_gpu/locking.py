"""One process at a time per output folder: an OS file lock (``flock``) on ``FOLDER/.lock``.

The kernel releases the lock when its holder exits, however it exits (a kill -9 included), so a stale lock
never blocks a later run. The lock file holds who took it (pid, host, command, time), so a refused second
process can name the holder.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Iterator

from gtzan_gpu.errors import GtzanError

LOCK_NAME = ".lock"


def _holder_text(lock_path: Path) -> str:
    try:
        holder = json.loads(lock_path.read_text() or "{}")
    except (OSError, ValueError):
        holder = {}
    if not holder.get("pid"):
        return "another process"
    return (f"pid {holder['pid']} on {holder.get('host', '?')} since {holder.get('since', '?')} "
            f"({holder.get('command', '?')})")


@contextlib.contextmanager
def exclusive_lock(folder: str | Path, what: str = "folder") -> Iterator[Path]:
    """Hold ``folder``'s lock for the block (creating ``folder``); a second holder gets a GtzanError naming the first.

    Args:
        what: how the error names the folder ("run directory", "experiment folder").
    """
    folder = Path(folder)
    lock_path = folder / LOCK_NAME
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise GtzanError(f"{what} {folder} is not writable ({error.strerror})") from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise GtzanError(f"{what} {folder} is in use by {_holder_text(lock_path)}; wait for it to finish "
                             f"or choose another folder") from None
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "command": " ".join(sys.argv[:6])[:200],
                  "since": time.strftime("%Y-%m-%d %H:%M:%S")}
        os.ftruncate(handle, 0)
        os.pwrite(handle, json.dumps(holder).encode(), 0)
        yield folder
    finally:
        os.close(handle)  # closing the descriptor releases the flock


def remove_if_only_lock(folder: str | Path) -> None:
    """Remove ``folder`` if it holds nothing but its lock file (a command that made it and then failed leaves no
    trace); anything else in it is left alone."""
    folder = Path(folder)
    try:
        if [entry.name for entry in folder.iterdir()] == [LOCK_NAME]:
            (folder / LOCK_NAME).unlink()
            folder.rmdir()
    except OSError:
        pass
