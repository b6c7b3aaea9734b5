"""One Loader protocol for DeviceCorpus, StoreLoader and StreamLoader, and the ``--loader`` name -> loader map.

A loader holds the segments of one subset (its :class:`~gtzan_gpu.data.segments.SegmentIndex`) and yields
``(waveforms (B, T) float32, labels (B,), track positions (B,))`` on its device, in the visiting order an
:class:`~gtzan_gpu.data.sampler.EpochSampler` draws. Adding a loader is one class and one entry in ``LOADERS``.
"""
from __future__ import annotations

from typing import Callable, Iterator, Protocol

import torch

from gtzan_gpu.data.device_corpus import DeviceCorpus
from gtzan_gpu.data.segments import Batch, SegmentIndex, SegmentSpec, TrackSource
from gtzan_gpu.data.store_loader import StoreLoader
from gtzan_gpu.data.stream_loader import StreamLoader


class Loader(Protocol):
    index: SegmentIndex
    track_ids: list[str]

    def __len__(self) -> int: ...

    def batches(self, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None,
                drop_last: bool = False, crop: torch.Generator | None = None) -> Iterator[Batch]: ...

    def gather(self, segments: torch.Tensor) -> Batch: ...


# name -> (tracks, spec, device, workers) -> Loader
LOADERS: dict[str, Callable[[list[TrackSource], SegmentSpec, torch.device, int], Loader]] = {
    "device": lambda tracks, spec, device, workers: DeviceCorpus(tracks, spec, device),
    "store": lambda tracks, spec, device, workers: StoreLoader(tracks, spec, device),
    "stream": lambda tracks, spec, device, workers: StreamLoader(tracks, spec, device, workers),
}
CROP_ON_DEVICE = {"device"}  # loaders whose crop generator lives on the device (the others draw on the CPU)
