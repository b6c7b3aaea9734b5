"""StreamLoader: batches read from the audio files (or store shards) by DataLoader workers, one segment at a time.

The loader for corpora that neither fit on the device nor were packed; the same batches, in the same order for
the same generator, as DeviceLoader gives (tested).
"""
from __future__ import annotations

from typing import Iterator

import torch
from torch.utils.data import DataLoader

from gtzan_gpu.data.dataset import SegmentDataset
from gtzan_gpu.data.segments import Batch, SegmentSpec, TrackSource, epoch_order
from gtzan_gpu.errors import GtzanError


class StreamLoader:
    """All segments of a list of tracks, decoded per item by ``workers`` DataLoader processes."""

    def __init__(self, tracks: list[TrackSource], spec: SegmentSpec, device: torch.device | str = "cpu",
                 workers: int = 0):
        self.device = torch.device(device)
        self.workers = workers
        self.dataset = SegmentDataset(tracks, spec)
        self.index = self.dataset.index
        self.track_ids = [t.track_id for t in self.index.tracks]
        self._position = {track_id: i for i, track_id in enumerate(self.track_ids)}

    def __len__(self) -> int:
        return len(self.dataset)

    def batches(self, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None,
                drop_last: bool = False, crop: torch.Generator | None = None) -> Iterator[Batch]:
        """One epoch of ``(B, T)`` batches on the device in :func:`epoch_order`; NaN samples are an error."""
        if crop is not None:
            raise GtzanError("--augment crop needs --loader device or store")
        order = epoch_order(len(self), shuffle, generator)
        # its own generator for the worker base seed, so the global RNG (dropout) is left as DeviceLoader leaves it
        loader = DataLoader(self.dataset, batch_size=batch_size, sampler=order.tolist(), num_workers=self.workers,
                            pin_memory=self.device.type == "cuda", drop_last=drop_last,
                            generator=torch.Generator().manual_seed(0))
        for waveforms, labels, track_ids in loader:
            if not torch.isfinite(waveforms).all():  # checked on the CPU copy: no device sync
                raise GtzanError(f"NaN or infinite samples in a batch from tracks {sorted(set(track_ids))[:3]}")
            tracks = torch.tensor([self._position[t] for t in track_ids])
            yield (waveforms.to(self.device, non_blocking=True), labels.to(self.device, non_blocking=True),
                   tracks.to(self.device, non_blocking=True))

    def gather(self, segments: torch.Tensor) -> Batch:
        """Segments by index -> (waveforms ``(B, T)``, labels ``(B,)``, track positions ``(B,)``) on the device."""
        chosen = segments.tolist()
        waveforms = torch.stack([self.dataset[i][0] for i in chosen]).to(self.device)
        labels = self.index.labels[chosen].to(self.device)
        return waveforms, labels, self.index.track_of_segment[chosen].to(self.device)
