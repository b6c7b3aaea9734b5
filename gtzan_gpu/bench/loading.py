"""Loading throughput: SegmentDataset from disk with workers, an in-RAM dataset, and DeviceLoader."""
from __future__ import annotations

import os
import time

import torch
from torch.utils.data import DataLoader, Dataset

from gtzan_gpu.bench.timing import PeakMemory, synchronize
from gtzan_gpu.data.audio import read_track
from gtzan_gpu.data.dataset import SegmentDataset
from gtzan_gpu.data.loaders.device import DeviceLoader
from gtzan_gpu.data.segments import SegmentIndex, SegmentSpec, TrackSource
from gtzan_gpu.data.loaders.store import StoreLoader


class InMemorySegments(Dataset):
    """Tracks decoded once into float32 tensors in RAM; an item is a slice (the usual in-RAM dataset)."""

    def __init__(self, tracks: list[TrackSource], spec: SegmentSpec):
        self.index = SegmentIndex.build(tracks, spec)
        self.waveforms = [read_track(t.path, spec.sample_rate) for t in tracks]
        self.labels = [t.label for t in tracks]
        self.length = spec.length

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int):
        track = int(self.index.track_of_segment[i])
        start = int(self.index.start_of_segment[i])
        return self.waveforms[track][start:start + self.length], self.labels[track]


def _epoch_rate(batches, device: torch.device) -> tuple[int, int, float]:
    start = time.perf_counter()
    count = segments = 0
    for batch in batches:
        waveforms = batch[0].to(device, non_blocking=True)
        count += 1
        segments += waveforms.shape[0]
    synchronize(device)
    return count, segments, time.perf_counter() - start


def bench_loading(tracks: list[TrackSource], device: torch.device, seconds: float = 5.0, batch_size: int = 32,
                  epochs: int = 2, stored_tracks: list[TrackSource] | None = None) -> list[dict]:
    """Batches/s over whole shuffled epochs (median epoch), every path ending with the batch on ``device``.
    ``stored_tracks``: the same tracks in a store, for the StoreLoader row."""
    spec = SegmentSpec(seconds)
    worker_counts = sorted({0, 2, os.cpu_count() or 1})
    paths = {f"SegmentDataset from disk, {n} workers": (lambda n=n: DataLoader(
        SegmentDataset(tracks, spec), batch_size=batch_size, shuffle=True, num_workers=n,
        pin_memory=device.type == "cuda")) for n in worker_counts}
    in_memory = InMemorySegments(tracks, spec)
    paths["in-RAM dataset (decoded float32), 0 workers"] = lambda: DataLoader(in_memory, batch_size=batch_size,
                                                                              shuffle=True)
    if stored_tracks:
        paths[f"StoreLoader (memory-mapped shards, pinned buffers) to {device.type}"] = \
            lambda: StoreLoader(stored_tracks, spec, device).batches(batch_size, shuffle=True)
    with PeakMemory(device) as corpus_memory:
        corpus = DeviceLoader(tracks, spec, device)
    paths[f"DeviceLoader on {device.type}"] = lambda: corpus.batches(batch_size, shuffle=True)
    rows = []
    for name, make in paths.items():
        results = []
        with PeakMemory(device) as memory:
            for _ in range(epochs):
                results.append(_epoch_rate(make(), device))
        count, segments, elapsed = sorted(results, key=lambda r: r[2])[len(results) // 2]
        rows.append({"path": name, "seconds": seconds, "batch": batch_size, "batches": count, "segments": segments,
                     "epoch_s": elapsed, "batches_per_s": count / elapsed, "segments_per_s": segments / elapsed,
                     **memory.as_dict()})
    rows[-1]["device_corpus_bytes"] = corpus.nbytes
    rows[-1]["device_corpus_build"] = corpus_memory.as_dict()
    return rows
