"""Atomic writes: a file or a whole folder is built under a temporary name beside its target, then renamed
into place. A crash or Ctrl-C mid-write leaves the old file (or none), never a half-written one; what a
killed process leaves is a hidden ``.<name>.*.tmp`` / ``.<name>.*.partial`` that :func:`remove_stale_temporaries`
clears. Written files get the permissions the user's umask gives (``mkstemp`` alone would make them 0600).
"""
from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

from gtzan_gpu.errors import GtzanError

FILE_SUFFIX, FOLDER_SUFFIX = ".tmp", ".partial"


def current_umask() -> int:
    """The process umask, read without changing it where Linux says it (/proc), else by setting it back."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _cannot_write(path: Path, error: OSError) -> GtzanError:
    return GtzanError(f"cannot write {path}: {error.strerror or error}")


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write to a temporary file in the same folder, then rename over ``path``."""
    atomic_write_bytes(path, text.encode())


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically. An unwritable place is a GtzanError naming ``path``."""
    atomic_write_with(path, lambda file: file.write(data))


def atomic_write_with(path: str | Path, write: Callable[[BinaryIO], object]) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it over ``path`` (for large
    outputs streamed to disk, e.g. ``numpy.save``). An unwritable place is a GtzanError naming ``path``."""
    path = Path(path)
    if path.is_dir():
        raise GtzanError(f"cannot write {path}: it is a directory")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{pid_tag()}",
                                             suffix=FILE_SUFFIX)
    except OSError as error:
        raise _cannot_write(path, error) from None
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fchmod(file.fileno(), 0o666 & ~current_umask())
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        Path(temporary).unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise _cannot_write(path, error) from None
        raise


@contextlib.contextmanager
def atomic_directory(target: str | Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``target``; when the block succeeds it is renamed to ``target``,
    when it fails (or is interrupted) it is removed. ``target`` must not exist yet."""
    target = Path(target)
    if target.exists():
        raise GtzanError(f"{target} already exists")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.{pid_tag()}",
                                          suffix=FOLDER_SUFFIX))
    except OSError as error:
        raise _cannot_write(target, error) from None
    try:
        yield temporary
        os.chmod(temporary, 0o777 & ~current_umask())
        os.rename(temporary, target)
        remove_dead_temporaries(target)  # what killed earlier writers of this target left
    except BaseException as error:
        shutil.rmtree(temporary, ignore_errors=True)
        if isinstance(error, OSError):
            raise _cannot_write(target, error) from None
        raise


_PID_TAG = re.compile(r"\.p(\d+)_")


def pid_tag() -> str:
    """The writer's process id in its temporaries' names (``.<name>.p<pid>_<random>.tmp``), so a later run can
    tell a dead writer's leftovers from a live writer's work in progress."""
    return f"p{os.getpid()}_"


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_dead_temporaries(target: str | Path, extra_suffixes: tuple[str, ...] = ()) -> list[Path]:
    """Remove ``target``'s temporaries whose writer (the pid in their name) is dead, without a lock: a live
    writer's are left alone. ``extra_suffixes``: other endings a writer uses (``.old``)."""
    target = Path(target)
    removed = []
    for suffix in (FILE_SUFFIX, FOLDER_SUFFIX, *extra_suffixes):
        for stale in target.parent.glob(f".{glob.escape(target.name)}.p*{suffix}"):
            found = _PID_TAG.match(stale.name[len(target.name) + 1:])
            if not found or int(found.group(1)) == os.getpid() or pid_alive(int(found.group(1))):
                continue
            removed.append(_remove(stale))
    return removed


def _remove(entry: Path) -> Path:
    """Remove a leftover file or folder (a link is unlinked, never followed)."""
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry, ignore_errors=True)
    else:
        entry.unlink(missing_ok=True)
    return entry


def remove_stale_temporaries(target: str | Path) -> list[Path]:
    """Remove what killed writers of ``target`` left beside it (``.<name>.*.tmp`` files, ``.<name>.*.partial``
    folders). Call it only while no other process can be writing ``target`` (e.g. under the run's lock)."""
    target = Path(target)
    removed = []
    for suffix in (FILE_SUFFIX, FOLDER_SUFFIX):
        # the random part has no dot: '.corpus.json.x.tmp' belongs to corpus.json, not to corpus
        ours = re.compile(rf"\.{re.escape(target.name)}\.[A-Za-z0-9_]+{re.escape(suffix)}")
        for stale in target.parent.glob(f".{glob.escape(target.name)}.*{suffix}"):
            if not ours.fullmatch(stale.name):
                continue
            removed.append(_remove(stale))
    return removed
