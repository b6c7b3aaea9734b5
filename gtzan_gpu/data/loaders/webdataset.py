"""ShardStreamLoader (``--loader webdataset``): segments streamed from WebDataset tar shards by the ``webdataset``
library, for corpora larger than the local disk or memory (any URL ``webdataset`` opens: files, ``pipe:``, http).

The shard files are dealt to ranks (``files[rank::world_size]``, as ``webdataset.split_by_node`` does) and each
rank's to its DataLoader workers (``split_by_worker``), so within an epoch no two ranks, and no two workers, read
one sample. Each epoch a worker visits its files in an order drawn from (seed, epoch, rank, worker), decodes each
sample of the subset once, cuts it into the spec's segments and passes them through a shuffle buffer; the main
process gathers the segments into batches of exactly ``batch_size``. The order is a function of the sampler's
generator alone (and the worker count), so a resumed run, which restarts at an epoch, sees the epoch an
uninterrupted run sees. Samples of other subsets in the same shards are skipped without decoding.
"""
from __future__ import annotations

import random
from typing import Iterator

import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from gtzan_gpu.data.audio import INT16_SCALE, AudioDecodeError, decode_bytes_validated, fit_length, to_int16
from gtzan_gpu.data.segments import Batch, SegmentIndex, SegmentSpec, TrackSource
from gtzan_gpu.data.shards import webdataset_key
from gtzan_gpu.errors import GtzanError, optional_module

SHUFFLE_BUFFER = 512  # segments held for shuffling per worker (a track gives 10 segments of 3 s)


def _webdataset():
    return optional_module("webdataset", "--loader webdataset needs the webdataset package", "formats")


def _file_name(location: str) -> str:
    """The shard file's name in a path, a URL or a ``pipe:`` command (its last word's last part)."""
    return location.split()[-1].rstrip("/").rsplit("/", 1)[-1] if location.strip() else location


class ShardSegments(IterableDataset):
    """One epoch of one rank's segments, ``(int16 segment (T,), label, track position)``, from its shard files."""

    def __init__(self, files: list[str], wanted: dict[tuple[str, str], tuple[int, TrackSource, str]],
                 spec: SegmentSpec, seed: int | None, buffer: int = SHUFFLE_BUFFER):
        self.files, self.wanted, self.spec, self.seed, self.buffer = files, wanted, spec, seed, buffer

    def __iter__(self) -> Iterator[tuple[torch.Tensor, int, int]]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        files = self.files[worker::workers]  # what webdataset.split_by_worker gives this worker
        rng = random.Random(None if self.seed is None else self.seed * 1_000_003 + worker)
        if self.seed is not None:
            rng.shuffle(files)
        dataset = _webdataset().WebDataset(files, shardshuffle=False, nodesplitter=None, workersplitter=None,
                                           empty_check=False)
        held: list[tuple[torch.Tensor, int, int]] = []
        for sample in dataset:
            for segment in self._segments(sample):
                if self.seed is None:
                    yield segment
                    continue
                held.append(segment)
                if len(held) >= self.buffer:
                    yield held.pop(rng.randrange(len(held)))
        rng.shuffle(held)
        yield from held

    def _segments(self, sample: dict) -> list[tuple[torch.Tensor, int, int]]:
        found = self.wanted.get((_file_name(sample["__url__"]), sample["__key__"]))
        if found is None:
            return []  # another subset's sample (or none of ours)
        position, track, extension = found
        try:
            samples = to_int16(decode_bytes_validated(sample[extension], self.spec.sample_rate)[1])
        except (AudioDecodeError, KeyError) as error:
            raise GtzanError(f"{sample['__url__']}: sample {sample['__key__']} does not decode ({error})") from None
        length = self.spec.length
        return [(fit_length(samples[start:start + length], length), track.label, position)
                for start in self.spec.starts(track.samples)]


class ShardStreamLoader:
    """The segments of the tracks in this rank's shard files (see the module docstring).

    Args:
        tracks: every track of the subset, each in a tar (``TrackSource.kind == "tar"``); this rank keeps those
            in its files.
        spec: segment length, hop and corpus rate.
        device: where batches go.
        workers: DataLoader worker processes (0: read in this process).
        rank, world_size: this process's place under torchrun.
    """

    def __init__(self, tracks: list[TrackSource], spec: SegmentSpec, device: torch.device | str = "cpu",
                 workers: int = 0, rank: int = 0, world_size: int = 1):
        if not tracks or any(t.kind != "tar" for t in tracks):
            raise GtzanError("--loader webdataset streams WebDataset shards: give --data a folder of .tar shards "
                             "(`gtzan-gpu shards` writes them)")
        _webdataset()
        files = sorted({t.location for t in tracks})
        if len(files) < world_size:
            raise GtzanError(f"--loader webdataset deals shard files to ranks: {len(files)} file(s) for {world_size} "
                             f"ranks; write smaller shards (gtzan-gpu shards --shard-mb)")
        mine = set(files[rank::world_size])
        order = {name: i for i, name in enumerate(files)}
        kept = sorted((t for t in tracks if t.location in mine), key=lambda t: (order[t.location], t.offset))
        self.device, self.workers, self.spec, self.files = torch.device(device), workers, spec, sorted(mine)
        self.index = SegmentIndex.build(kept, spec)
        self.track_ids = [t.track_id for t in self.index.tracks]
        self._wanted = {(_file_name(t.location), webdataset_key(t.member)[0]): (i, t, webdataset_key(t.member)[1])
                        for i, t in enumerate(self.index.tracks)}

    def __len__(self) -> int:
        return len(self.index)

    def batches(self, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None,
                drop_last: bool = False, crop: torch.Generator | None = None) -> Iterator[Batch]:
        """One epoch of ``(B, T)`` batches on the device; shuffled from ``generator``'s first draw."""
        if crop is not None:
            raise GtzanError("--augment crop needs --loader device or store")
        seed = int(torch.randint(1 << 62, (1,), generator=generator)) if shuffle else None
        segments = ShardSegments(self.files, self._wanted, self.spec, seed)
        stream = DataLoader(segments, batch_size=None, num_workers=self.workers) if self.workers else segments
        pending: list[tuple[torch.Tensor, int, int]] = []
        for item in stream:
            pending.append(item)
            if len(pending) == batch_size:
                yield self._batch(pending)
                pending = []
        if pending and not drop_last:
            yield self._batch(pending)

    def _batch(self, items: list[tuple[torch.Tensor, int, int]]) -> Batch:
        waveforms = torch.stack([item[0] for item in items]).float() * INT16_SCALE
        labels = torch.tensor([int(item[1]) for item in items])
        tracks = torch.tensor([int(item[2]) for item in items])
        return (waveforms.to(self.device, non_blocking=True), labels.to(self.device, non_blocking=True),
                tracks.to(self.device, non_blocking=True))

    def gather(self, segments: torch.Tensor) -> Batch:
        """Segments by index (TensorBoard's fixed batch): read by seeking into their tars, or, for shards elsewhere
        (``--shard-url``), by streaming the files that hold them."""
        chosen = segments.tolist()
        tracks, starts = self.index.track_of_segment[chosen], self.index.start_of_segment[chosen]
        length = self.spec.length
        if any(getattr(self.index.tracks[int(t)], "url", None) for t in tracks):
            whole = self._streamed({int(t) for t in tracks})
            waveforms = torch.stack([fit_length(whole[int(t)][int(s):int(s) + length], length).float() * INT16_SCALE
                                     for t, s in zip(tracks, starts)])
        else:
            cache: dict = {}
            waveforms = torch.stack([self.index.tracks[int(t)].read_float(int(s), length, self.spec.sample_rate,
                                                                          cache) for t, s in zip(tracks, starts)])
        return waveforms.to(self.device), self.index.labels[chosen].to(self.device), tracks.to(self.device)

    def _streamed(self, positions: set[int]) -> dict[int, torch.Tensor]:
        """The int16 samples of the tracks at ``positions``, streamed from the files that hold them."""
        wanted = {key: value for key, value in self._wanted.items() if value[0] in positions}
        files = sorted({self.index.tracks[p].location for p in positions})
        found = {}
        for sample in _webdataset().WebDataset(files, shardshuffle=False, nodesplitter=None, workersplitter=None,
                                               empty_check=False):
            match = wanted.get((_file_name(sample["__url__"]), sample["__key__"]))
            if match is not None:
                found[match[0]] = to_int16(decode_bytes_validated(sample[match[2]], self.spec.sample_rate)[1])
        return found
