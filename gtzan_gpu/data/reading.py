"""Samples of a TrackSource, wherever they live: an audio file (decoded) or a store shard (memory-mapped)."""
from __future__ import annotations

import numpy as np
import torch

from gtzan_gpu.data.audio import read_segment, read_track, to_int16
from gtzan_gpu.data.segments import TrackSource
from gtzan_gpu.data.store import read_stored_track

INT16_SCALE = 1.0 / 32768.0


def track_int16(track: TrackSource, sample_rate: int) -> torch.Tensor:
    """The whole track at ``sample_rate``: ``(samples,)`` int16 (a store's samples are checked by crc32)."""
    if track.stored:
        return torch.from_numpy(read_stored_track(track.path, track.offset, track.samples, track.crc32))
    return to_int16(read_track(track.path, sample_rate))


def segment_float(track: TrackSource, start: int, length: int, sample_rate: int,
                  shards: dict | None = None) -> torch.Tensor:
    """``length`` samples from ``start``: ``(length,)`` float32 in [-1, 1], zero-padded past the end.
    ``shards``: a cache of open memory maps (path -> array), e.g. one per DataLoader worker."""
    if not track.stored:
        return read_segment(track.path, start, length, sample_rate, track.source_rate)
    shards = {} if shards is None else shards
    if track.path not in shards:
        shards[track.path] = np.load(track.path, mmap_mode="r")
    first = track.offset + start
    stop = track.offset + min(track.samples, start + length)
    out = torch.zeros(length, dtype=torch.float32)
    piece = torch.from_numpy(np.array(shards[track.path][first:stop]))
    out[: piece.numel()] = piece.float() * INT16_SCALE
    return out
