"""Host memory that stays with the process: glibc's malloc told to keep the blocks PyTorch frees.

By default glibc serves each block over 128 KiB (adaptively up to 32 MiB) with a fresh ``mmap`` and hands the top of
its heap back to the kernel whenever 128 KiB (adaptively twice the mmap threshold) of it is free. A CPU front end
frees and reallocates the same megabytes every batch (frames, spectra, dB maps), so calls fault those pages back in
and the kernel zeroes them again: per call of the compiled spectrogram image here, 39 page faults at 3 s, 205 at
10 s, 1,576 at a batch of sixteen 3-s segments; none with the settings below, once a few calls have grown the heap.
Measured in turns on this project's 2-core CPU (``benchmarks.frontend_ab --default-malloc``): the median call of the
torch.stft image 1.3-1.5x faster compiled and up to 1.9x eager, mostly at batch 16; log-mel and the waveform view
1.0-1.2x; the fastest call unchanged (it is the one that faulted nothing). PyTorch's CPU performance guide
recommends jemalloc or tcmalloc for the same reason; those must be preloaded before the process starts, while
glibc's own switches can be set from inside it (``mallopt``): blocks from the heap, never from mmaps (``M_MMAP_MAX``
0), and the heap trimmed only when over 1 GiB of its top is free (``M_TRIM_THRESHOLD``). The cost is the one
PyTorch's CUDA caching allocator makes on a GPU: the process keeps its peak heap between batches.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # glibc's malloc.h
TRIM_THRESHOLD_BYTES = 1 << 30
# the same settings as environment variables, for a child process whose allocations start before our code runs
ENVIRONMENT = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(TRIM_THRESHOLD_BYTES)}
# a user's own malloc settings win: any of these in the environment leaves malloc alone (a preloaded jemalloc or
# tcmalloc ignores glibc's mallopt anyway)
USER_MALLOC_SETTINGS = ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_MAX_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_",
                        "GLIBC_TUNABLES")


def without_malloc_settings(environ: dict[str, str]) -> dict[str, str]:
    """A copy of ``environ`` without any glibc malloc setting (``MALLOC_*``, ``GLIBC_TUNABLES``): a child process
    started with it gets glibc's defaults, or what ``retain_freed_memory`` then sets."""
    return {key: value for key, value in environ.items() if not key.startswith("MALLOC_") and key != "GLIBC_TUNABLES"}


def retain_freed_memory() -> dict[str, int | str]:
    """Keep freed host memory in the process (see the module docstring); idempotent. -> what was done, for a
    benchmark's record: ``{"malloc": "glibc", "mmap_max": 0, "trim_threshold": 1073741824}``, or
    ``{"malloc": "<why it was left as it is>"}`` (not glibc, or the environment already configures malloc)."""
    configured = [name for name in USER_MALLOC_SETTINGS if os.environ.get(name)]
    if configured:
        return {"malloc": f"left as the environment sets it ({', '.join(configured)})"}
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return {"malloc": f"left as it is (not glibc: {platform.system()} {platform.libc_ver()[0] or 'libc'})"}
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    if not (libc.mallopt(M_MMAP_MAX, 0) and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)):
        return {"malloc": "left as it is (glibc refused mallopt)"}
    return {"malloc": "glibc", "mmap_max": 0, "trim_threshold": TRIM_THRESHOLD_BYTES}
