"""The segment loaders: one Loader protocol for DeviceLoader (``device``), StoreLoader (``store``) and StreamLoader
(``stream``), the ``--loader`` name -> loader map, and the EpochSampler that orders every one (``sampler``).

A loader holds the segments of one subset (its :class:`~gtzan_gpu.data.segments.SegmentIndex`) and yields
``(waveforms (B, T) float32, labels (B,), track positions (B,))`` on its device, in the visiting order an
:class:`~gtzan_gpu.data.loaders.sampler.EpochSampler` draws. Adding a loader is one class and one entry in
``LOADERS``.
"""
from __future__ import annotations

from typing import Callable, Iterator, Protocol

import torch

from gtzan_gpu.data.loaders.device import DeviceLoader
from gtzan_gpu.data.loaders.sampler import EpochSampler
from gtzan_gpu.data.loaders.store import StoreLoader
from gtzan_gpu.data.loaders.stream import StreamLoader
from gtzan_gpu.data.segments import Batch, SegmentIndex, SegmentSpec, TrackSource

__all__ = ["Batch", "CROP_ON_DEVICE", "DeviceLoader", "EpochSampler", "LOADERS", "Loader", "StoreLoader",
           "StreamLoader"]


class Loader(Protocol):
    index: SegmentIndex
    track_ids: list[str]

    def __len__(self) -> int: ...

    def batches(self, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None,
                drop_last: bool = False, crop: torch.Generator | None = None) -> Iterator[Batch]: ...

    def gather(self, segments: torch.Tensor) -> Batch: ...


# name -> (tracks, spec, device, workers) -> Loader
LOADERS: dict[str, Callable[[list[TrackSource], SegmentSpec, torch.device, int], Loader]] = {
    "device": lambda tracks, spec, device, workers: DeviceLoader(tracks, spec, device),
    "store": lambda tracks, spec, device, workers: StoreLoader(tracks, spec, device),
    "stream": lambda tracks, spec, device, workers: StreamLoader(tracks, spec, device, workers),
}
CROP_ON_DEVICE = {"device"}  # loaders whose crop generator lives on the device (the others draw on the CPU)
