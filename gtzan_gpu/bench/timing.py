"""Honest timing: warm-up first, device synchronisation around every timed call, median of repeats."""
from __future__ import annotations

import os
import statistics
import time
from typing import Callable

import torch


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_call(fn: Callable[[], object], device: torch.device, repeats: int = 5, warmup: int = 1,
              budget_seconds: float = 10.0, min_seconds: float = 0.0) -> dict:
    """Seconds per call of ``fn``: median, min, max over ``repeats`` calls, or more while less than
    ``min_seconds`` is spent (so a call of a millisecond is sampled more than a few times), fewer once
    ``budget_seconds`` is spent (never fewer than one), after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    times: list[float] = []
    spent = 0.0
    while (len(times) < repeats or spent < min_seconds) and (not times or spent < budget_seconds):
        start = time.perf_counter()
        fn()
        synchronize(device)
        elapsed = time.perf_counter() - start
        times.append(elapsed)
        spent += elapsed
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "repeats": len(times)}


def host_rss_mib() -> float:
    """Current resident set size of this process, MiB (Linux /proc; 0 where unavailable)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20
    except (OSError, ValueError):
        return 0.0


class PeakMemory:
    """Peak CUDA memory allocated inside a ``with`` block, and host RSS at its end."""

    def __init__(self, device: torch.device):
        self.device = device
        self.cuda_max_allocated_mib: float | None = None
        self.host_rss_mib = 0.0

    def __enter__(self) -> "PeakMemory":
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.cuda_max_allocated_mib = torch.cuda.max_memory_allocated(self.device) / 2 ** 20
        self.host_rss_mib = host_rss_mib()

    def as_dict(self) -> dict:
        return {"host_rss_mib": round(self.host_rss_mib, 1), "cuda_max_allocated_mib":
                None if self.cuda_max_allocated_mib is None else round(self.cuda_max_allocated_mib, 1)}
