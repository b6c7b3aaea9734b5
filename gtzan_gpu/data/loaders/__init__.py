"""The segment loaders: one Loader protocol for DeviceLoader (``device``), StoreLoader (``store``), StreamLoader
(``stream``) and ShardStreamLoader (``webdataset``), each described once by a :class:`LoaderSpec` in ``LOADERS``
(:mod:`.spec`), and the EpochSampler that orders every one (``sampler``).

A loader holds the segments of one subset (its :class:`~gtzan_gpu.data.segments.SegmentIndex`) and yields
``(waveforms (B, T) float32, labels (B,), track positions (B,))`` on its device, in the visiting order an
:class:`~gtzan_gpu.data.loaders.sampler.EpochSampler` draws. Adding a loader is one class and one LoaderSpec.
"""
from __future__ import annotations

from gtzan_gpu.data.loaders.device import DeviceLoader
from gtzan_gpu.data.loaders.sampler import EpochSampler
from gtzan_gpu.data.loaders.spec import LOADER_CHOICES, LOADERS, Loader, LoaderSpec, get_loader
from gtzan_gpu.data.loaders.store import StoreLoader
from gtzan_gpu.data.loaders.stream import StreamLoader
from gtzan_gpu.data.segments import Batch

__all__ = ["Batch", "DeviceLoader", "EpochSampler", "LOADERS", "LOADER_CHOICES", "Loader", "LoaderSpec",
           "StoreLoader", "StreamLoader", "get_loader"]
