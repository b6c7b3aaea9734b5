"""One batch interface over every loader: ``(B, T)`` waveforms, labels and track positions on the device, with
``--loader auto``'s choice and what TensorBoard shows of a subset."""
from __future__ import annotations

import logging
import os
from typing import Iterator

import torch

from gtzan_gpu.data.loaders import LOADERS, Loader, get_loader
from gtzan_gpu.data.loaders.sampler import EpochSampler, epoch_generator
from gtzan_gpu.data.segments import Batch, SegmentSpec, TrackSource
from gtzan_gpu.errors import GtzanError

log = logging.getLogger(__name__)

__all__ = ["Batch", "SegmentBatches", "choose_loader", "epoch_generator"]
DEVICE_MEMORY_SHARE = 0.5  # --loader auto keeps a split on the device when it takes at most this share of free memory


def choose_loader(loader: str, tracks: list[TrackSource], device: torch.device) -> str:
    """``auto`` -> the first automatic loader of ``LOADERS`` that reads these tracks and, when it holds the split on
    the device, whose int16 samples fit in DEVICE_MEMORY_SHARE of the device's free memory (RAM on a CPU): the
    device loader, else the store loader for a store's tracks, else the stream loader; when none of those reads
    them (shards elsewhere, ``--shard-url``), the first loader that does. A named loader that cannot read the
    tracks is refused in one line."""
    if loader != "auto":
        spec = get_loader(loader)
        if tracks and not spec.reads(tracks):
            raise GtzanError(f"--loader {loader} {spec.needs}")
        return loader
    needed = 2 * sum(t.samples for t in tracks)
    free = None
    readers = [spec for spec in LOADERS.values() if spec.reads(tracks)]
    for spec in readers:
        if not spec.automatic:
            continue
        if not spec.holds_split:
            break
        free = torch.cuda.mem_get_info(device)[0] if device.type == "cuda" else \
            os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        if needed <= DEVICE_MEMORY_SHARE * free:
            return spec.name
    else:  # no automatic loader reads them (shards elsewhere): the first that does
        spec = readers[0]
    log.info("--loader auto: the split needs %.1f GB%s: %s loader", needed / 1e9,
             f", more than {100 * DEVICE_MEMORY_SHARE:.0f} % of the {free / 1e9:.1f} GB free on {device}"
             if free is not None else "", spec.name)
    return spec.name


class SegmentBatches:
    """Batches of one subset from the loader ``loader`` names (:data:`gtzan_gpu.data.loaders.LOADERS`: DeviceLoader,
    StoreLoader, StreamLoader, ShardStreamLoader), as (waveforms ``(B, T)`` float32, labels ``(B,)``, track
    positions ``(B,)``) on ``device``, plus what TensorBoard shows of them (a fixed batch, captions)."""

    def __init__(self, tracks: list[TrackSource], spec: SegmentSpec, device: torch.device, loader: str,
                 batch_size: int, workers: int = 0, sampler: EpochSampler | None = None):
        self.device = device
        self.batch_size = batch_size
        self.loader_name = choose_loader(loader, tracks, device)
        self.workers = workers
        self.sampler = sampler or EpochSampler(0)  # the order of every epoch (``set_epoch`` it before each)
        self.loader: Loader = LOADERS[self.loader_name].build(tracks, spec, device, workers, self.sampler.rank,
                                                              self.sampler.world_size)
        self.track_ids = self.loader.track_ids
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
            on_device = LOADERS[self.loader_name].crop_on_device
            crop = torch.Generator(self.device if on_device else "cpu").manual_seed(crop_seed)
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
