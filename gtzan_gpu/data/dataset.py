"""SegmentDataset: raw audio segments streamed from disk, one soundfile read per item."""
from __future__ import annotations

import torch
from torch.utils.data import Dataset

from gtzan_gpu.data.segments import SegmentIndex, SegmentSpec, TrackSource


class SegmentDataset(Dataset):
    """Item ``i`` -> (waveform ``(T,)`` float32 mono at the corpus rate, label int, track id str).

    Only the segment's frames are decoded (soundfile ``start``/``frames``); stereo is averaged to mono and
    a file at another rate is resampled. From a store, the segment is a slice of a memory-mapped shard. Holds no open file handles, so it works with
    ``DataLoader(num_workers>0)``.

    Args:
        tracks: the subset's tracks (see :func:`gtzan_gpu.data.segments.track_sources`).
        spec: segment length, hop and corpus sample rate.
    """

    def __init__(self, tracks: list[TrackSource], spec: SegmentSpec):
        self.spec = spec
        self.index = SegmentIndex.build(tracks, spec)
        self._read_cache: dict = {}  # what track sources keep between reads (store shard memory maps), per worker

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, str]:
        track = self.index.tracks[int(self.index.track_of_segment[i])]
        start = int(self.index.start_of_segment[i])
        waveform = track.read_float(start, self.spec.length, self.spec.sample_rate, self._read_cache)
        return waveform, track.label, track.track_id

    @property
    def labels(self) -> torch.Tensor:
        return self.index.labels
