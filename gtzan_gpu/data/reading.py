"""Samples of a TrackSource, wherever they live: each kind of source reads itself (an audio file decodes, a
store shard is memory-mapped); these functions are the loaders' entry points."""
from __future__ import annotations

import torch

from gtzan_gpu.data.segments import TrackSource
from gtzan_gpu.data.store import INT16_SCALE

__all__ = ["INT16_SCALE", "segment_float", "track_int16"]


def track_int16(track: TrackSource, sample_rate: int) -> torch.Tensor:
    """The whole track at ``sample_rate``: ``(samples,)`` int16 (a store's samples are checked by crc32)."""
    return track.read_int16(sample_rate)


def segment_float(track: TrackSource, start: int, length: int, sample_rate: int,
                  shards: dict | None = None) -> torch.Tensor:
    """``length`` samples from ``start``: ``(length,)`` float32 in [-1, 1], zero-padded past the end.
    ``shards``: a cache of open memory maps (path -> array), e.g. one per DataLoader worker."""
    return track.read_float(start, length, sample_rate, shards)
