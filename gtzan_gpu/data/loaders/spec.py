"""What each ``--loader`` is, said once: a :class:`LoaderSpec` per loader in ``LOADERS`` (its builder, where its
crop generator lives, whether it crops at all, whether it holds a whole split in device memory, which tracks it
reads, whether it deals shards to ranks itself, whether ``--loader auto`` may choose it). The option's choices,
``auto``'s choice, the crop rule and the rank split are all read from here."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Protocol

import torch

from gtzan_gpu.data.loaders.device import DeviceLoader
from gtzan_gpu.data.loaders.store import StoreLoader
from gtzan_gpu.data.loaders.stream import StreamLoader
from gtzan_gpu.data.loaders.webdataset import ShardStreamLoader
from gtzan_gpu.data.segments import Batch, SegmentIndex, SegmentSpec, TrackSource
from gtzan_gpu.data.shards import is_remote
from gtzan_gpu.errors import GtzanError


class Loader(Protocol):
    index: SegmentIndex
    track_ids: list[str]

    def __len__(self) -> int: ...

    def batches(self, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None,
                drop_last: bool = False, crop: torch.Generator | None = None) -> Iterator[Batch]: ...

    def gather(self, segments: torch.Tensor) -> Batch: ...


# (tracks, segment spec, device, DataLoader workers, rank, world size) -> Loader
LoaderBuilder = Callable[[list[TrackSource], SegmentSpec, torch.device, int, int, int], Loader]


@dataclass(frozen=True)
class LoaderSpec:
    """One ``--loader`` choice.

    ``crop_on_device``: ``--augment crop``'s generator lives on the device (else the CPU); ``supports_crop``: the
    loader can start segments at random samples; ``holds_split``: it keeps the split's int16 samples in device
    memory, so ``auto`` picks it only when they fit; ``reads``: which tracks it can read (``auto`` skips it
    otherwise; a named choice that cannot is refused in one line saying what it ``needs``); ``deals_shards``: it
    is given every track of a subset and deals its shard files to ranks itself (else each rank is given its share
    of the tracks); ``automatic``: ``auto`` may choose it."""

    name: str
    description: str
    build: LoaderBuilder
    crop_on_device: bool = False
    supports_crop: bool = True
    holds_split: bool = False
    reads: Callable[[list[TrackSource]], bool] = lambda tracks: True
    needs: str = ""  # what ``reads`` asks of DATA, for the one-line refusal
    deals_shards: bool = False
    automatic: bool = True


def _stored(tracks: list[TrackSource]) -> bool:
    return bool(tracks) and all(t.stored for t in tracks)


def _local(tracks: list[TrackSource]) -> bool:
    """Every track can be read at any offset here (not a shard only webdataset opens, ``--shard-url``)."""
    return not is_remote(tracks)


def _in_tars(tracks: list[TrackSource]) -> bool:
    return bool(tracks) and all(t.kind == "tar" for t in tracks)


REMOTE_NEEDS = "reads files on this machine; shards elsewhere (--shard-url) are streamed by --loader webdataset"
LOADERS: dict[str, LoaderSpec] = {spec.name: spec for spec in (
    LoaderSpec("device", "DeviceLoader: the whole split as int16 on the device",
               lambda tracks, spec, device, workers, rank, world: DeviceLoader(tracks, spec, device),
               crop_on_device=True, holds_split=True, reads=_local, needs=REMOTE_NEEDS),
    LoaderSpec("store", "memory-mapped shards of a STORE, read ahead into pinned buffers (corpora larger than the "
                        "device)",
               lambda tracks, spec, device, workers, rank, world: StoreLoader(tracks, spec, device), reads=_stored,
               needs="reads a STORE: give --data a folder `gtzan-gpu pack` wrote"),
    LoaderSpec("stream", "SegmentDataset + DataLoader workers, one segment at a time from any DATA",
               lambda tracks, spec, device, workers, rank, world: StreamLoader(tracks, spec, device, workers),
               supports_crop=False, reads=_local, needs=REMOTE_NEEDS),
    LoaderSpec("webdataset", "the webdataset library streaming WebDataset shards (DATA written by `gtzan-gpu "
                             "shards` or any), shard files dealt to ranks and workers, a shuffle buffer",
               lambda tracks, spec, device, workers, rank, world: ShardStreamLoader(tracks, spec, device, workers,
                                                                                    rank, world),
               supports_crop=False, reads=_in_tars, deals_shards=True, automatic=False,
               needs="streams WebDataset shards: give --data a folder of .tar shards (`gtzan-gpu shards` writes them)"),
)}
LOADER_CHOICES = ("auto", *LOADERS)  # the --loader option's choices


def get_loader(name: str) -> LoaderSpec:
    if name not in LOADERS:
        raise GtzanError(f"unknown --loader {name!r} (choose from {', '.join(LOADER_CHOICES)})")
    return LOADERS[name]
