"""One batch interface over every loader: ``(B, T)`` waveforms, labels and track positions on the device, with
``--loader auto``'s choice and what TensorBoard shows of a subset."""
from __future__ import annotations

import logging
import os
from typing import Iterator

import torch

from gtzan_gpu.data.loaders import CROP_ON_DEVICE, Loader
from gtzan_gpu.data.loaders import LOADERS as LOADER_BUILDERS
from gtzan_gpu.data.loaders.sampler import EpochSampler, epoch_generator
from gtzan_gpu.data.segments import Batch, SegmentSpec, TrackSource

log = logging.getLogger(__name__)

__all__ = ["Batch", "LOADERS", "SegmentBatches", "choose_loader", "epoch_generator"]
LOADERS = ("auto", *LOADER_BUILDERS)  # --loader choices: auto; DeviceLoader; StoreLoader; StreamLoader
DEVICE_MEMORY_SHARE = 0.5  # --loader auto keeps a split on the device when it takes at most this share of free memory


def choose_loader(loader: str, tracks: list[TrackSource], device: torch.device) -> str:
    """``auto`` -> ``device`` when the split's int16 samples fit in DEVICE_MEMORY_SHARE of the device's free
    memory (RAM on a CPU), else ``store`` for a store's tracks, else ``stream``. Other names pass through."""
    if loader != "auto":
        return loader
    needed = 2 * sum(t.samples for t in tracks)
    if device.type == "cuda":
        free = torch.cuda.mem_get_info(device)[0]
    else:
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    if needed <= DEVICE_MEMORY_SHARE * free:
        return "device"
    chosen = "store" if tracks and all(t.stored for t in tracks) else "stream"
    log.info("--loader auto: the split needs %.1f GB, more than %.0f %% of the %.1f GB free on %s: %s loader",
             needed / 1e9, 100 * DEVICE_MEMORY_SHARE, free / 1e9, device, chosen)
    return chosen


class SegmentBatches:
    """Batches of one subset from the loader ``loader`` names (:data:`gtzan_gpu.data.loaders.LOADERS`: DeviceLoader,
    StoreLoader, StreamLoader), as (waveforms ``(B, T)`` float32, labels ``(B,)``, track positions ``(B,)``) on
    ``device``, plus what TensorBoard shows of them (a fixed batch, captions)."""

    def __init__(self, tracks: list[TrackSource], spec: SegmentSpec, device: torch.device, loader: str,
                 batch_size: int, workers: int = 0, sampler: EpochSampler | None = None):
        self.device = device
        self.batch_size = batch_size
        self.loader_name = choose_loader(loader, tracks, device)
        self.workers = workers
        self.loader: Loader = LOADER_BUILDERS[self.loader_name](tracks, spec, device, workers)
        self.track_ids = self.loader.track_ids
        self.sampler = sampler or EpochSampler(0)  # the order of every epoch (``set_epoch`` it before each)
        self.sampler.num_segments = len(self.loader)

    def __len__(self) -> int:
        return len(self.loader)

    def epoch(self, crop_seed: int | None = None) -> Iterator[Batch]:
        """One epoch of batches in :attr:`sampler`'s order (``set_epoch`` it first when it shuffles); with
        ``crop_seed`` each segment starts at a random sample of its track (device and store loaders), drawn from a
        generator seeded with it."""
        sampler = self.sampler
        crop = None
        if crop_seed is not None:
            crop = torch.Generator(self.device if self.loader_name in CROP_ON_DEVICE else "cpu").manual_seed(crop_seed)
        yield from self.loader.batches(self.batch_size, sampler.shuffle, sampler.generator(), crop=crop)

    @property
    def index(self):
        """The :class:`~gtzan_gpu.data.segments.SegmentIndex` of this subset's segments (epoch order)."""
        return self.loader.index

    def showcase(self, count: int) -> list[int]:
        """Indices of up to ``count`` segments for TensorBoard's fixed batch, as varied as the subset allows:
        each track's first segment, taken round robin over the genres (the first track of every genre, then the
        second, ...), so eight images show eight genres rather than eight cuts of one track."""
        index = self.index
        tracks = index.track_of_segment.tolist()
        labels = index.labels.tolist()
        by_genre: dict[int, list[int]] = {}
        seen: set[int] = set()
        for segment, track in enumerate(tracks):
            if track not in seen:
                seen.add(track)
                by_genre.setdefault(labels[segment], []).append(segment)
        queues = [by_genre[genre] for genre in sorted(by_genre)]
        chosen: list[int] = []
        for rank in range(max((len(queue) for queue in queues), default=0)):
            chosen += [queue[rank] for queue in queues if rank < len(queue)]
        return chosen[:count]

    def labels_of(self, indices: list[int]) -> list[int]:
        """The genre labels of segments by index."""
        index = self.index
        labels = index.labels
        return [int(labels[i]) for i in indices]

    def captions(self, indices: list[int], genres: list[str]) -> list[str]:
        """"<genre>\\n<track id>" of segments by index (the unshuffled epoch order)."""
        index = self.index
        labels = index.labels
        return [f"{genres[int(labels[i])]}\n{index.tracks[int(index.track_of_segment[i])].track_id}" for i in indices]

    def segments(self, indices: list[int]) -> torch.Tensor:
        """Segments by index (the unshuffled epoch order), ``(len(indices), T)`` on the device."""
        return self.loader.gather(torch.tensor(indices, dtype=torch.long, device=self.device))[0]
