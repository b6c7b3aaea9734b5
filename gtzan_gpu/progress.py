"""Progress on long work: a tqdm bar on a terminal, a plain line every ``PLAIN_EVERY_SECONDS`` otherwise
(logs, CI), nothing when logging is above INFO (``--quiet``)."""
from __future__ import annotations

import logging
import sys
import time
from typing import Iterable, Iterator, TypeVar

from tqdm import tqdm

log = logging.getLogger("gtzan_gpu.progress")
PLAIN_EVERY_SECONDS = 30.0
Item = TypeVar("Item")


def progress(items: Iterable[Item], total: int | None = None, description: str = "", unit: str = "it"
             ) -> Iterator[Item]:
    """Yield ``items`` while showing how far along they are and the ETA."""
    if not log.isEnabledFor(logging.INFO):
        yield from items
        return
    if sys.stderr.isatty():
        yield from tqdm(items, total=total, desc=description, unit=unit, leave=False, dynamic_ncols=True)
        return
    started = last = time.monotonic()
    done = 0
    for item in items:
        yield item
        done += 1
        now = time.monotonic()
        if now - last >= PLAIN_EVERY_SECONDS:
            last = now
            rate = done / (now - started)
            remaining = f", about {(total - done) / rate:.0f} s left" if total and rate > 0 else ""
            log.info("%s: %d%s %s done (%.1f %s/s%s)", description, done, f"/{total}" if total else "", unit,
                     rate, unit, remaining)
