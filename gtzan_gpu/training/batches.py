"""One batch interface over both loaders: ``(B, T)`` waveforms, labels and track positions on the device."""
from __future__ import annotations

import logging
import os
from typing import Iterator

import torch
from torch.utils.data import DataLoader

from gtzan_gpu.data.dataset import SegmentDataset
from gtzan_gpu.data.device_corpus import DeviceCorpus
from gtzan_gpu.data.store_loader import StoreLoader
from gtzan_gpu.data.segments import SegmentSpec, TrackSource, epoch_order
from gtzan_gpu.errors import GtzanError

log = logging.getLogger(__name__)

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]
LOADERS = ("auto", "device", "store", "stream")  # auto; DeviceCorpus; StoreLoader; SegmentDataset + workers
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


def epoch_generator(seed: int, epoch: int, rank: int = 0) -> torch.Generator:
    """The shuffling generator of one epoch (of one rank's shard): a resumed run draws the same order as an
    uninterrupted one."""
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch + rank * 7_919)


class SegmentBatches:
    """Batches of one subset from ``DeviceCorpus`` (``loader="device"``) or ``SegmentDataset`` workers
    (``loader="stream"``), as (waveforms ``(B, T)`` float32, labels ``(B,)``, track positions ``(B,)``) on ``device``.
    """

    def __init__(self, tracks: list[TrackSource], spec: SegmentSpec, device: torch.device, loader: str,
                 batch_size: int, workers: int = 0):
        self.device = device
        self.batch_size = batch_size
        self.loader = choose_loader(loader, tracks, device)
        self.workers = workers
        if self.loader in ("device", "store"):
            self.corpus = DeviceCorpus(tracks, spec, device) if self.loader == "device" else \
                StoreLoader(tracks, spec, device)
            self.track_ids = self.corpus.track_ids
        else:
            self.dataset = SegmentDataset(tracks, spec)
            self.track_ids = [t.track_id for t in self.dataset.index.tracks]
        self._position = {track_id: i for i, track_id in enumerate(self.track_ids)}

    def __len__(self) -> int:
        return len(self.corpus) if self.loader != "stream" else len(self.dataset)

    def epoch(self, shuffle: bool = False, generator: torch.Generator | None = None,
              crop_seed: int | None = None) -> Iterator[Batch]:
        """One epoch of batches; with ``crop_seed`` each segment starts at a random sample of its track (device and
        store loaders), drawn from a generator seeded with it."""
        if self.loader != "stream":
            crop = None
            if crop_seed is not None:
                crop = torch.Generator(self.device if self.loader == "device" else "cpu").manual_seed(crop_seed)
            yield from self.corpus.batches(self.batch_size, shuffle, generator, crop=crop)
            return
        if crop_seed is not None:
            raise GtzanError("--augment crop needs --loader device or store")
        order = epoch_order(len(self), shuffle, generator)
        # its own generator for the worker base seed, so the global RNG (dropout) is left as DeviceCorpus leaves it
        loader = DataLoader(self.dataset, batch_size=self.batch_size, sampler=order.tolist(),
                            num_workers=self.workers, pin_memory=self.device.type == "cuda",
                            generator=torch.Generator().manual_seed(0))
        for waveforms, labels, track_ids in loader:
            if not torch.isfinite(waveforms).all():  # checked on the CPU copy: no device sync
                raise GtzanError(f"NaN or infinite samples in a batch from tracks {sorted(set(track_ids))[:3]}")
            tracks = torch.tensor([self._position[t] for t in track_ids])
            yield (waveforms.to(self.device, non_blocking=True), labels.to(self.device, non_blocking=True),
                   tracks.to(self.device, non_blocking=True))

    @property
    def index(self):
        """The :class:`~gtzan_gpu.data.segments.SegmentIndex` of this subset's segments (epoch order)."""
        return self.dataset.index if self.loader == "stream" else self.corpus.index

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
        if self.loader != "stream":
            return self.corpus.gather(torch.tensor(indices, dtype=torch.long, device=self.device))[0]
        return torch.stack([self.dataset[i][0] for i in indices]).to(self.device)
