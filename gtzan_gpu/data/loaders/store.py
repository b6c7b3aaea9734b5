"""StoreLoader: batches for corpora larger than GPU memory, from the memory-mapped shards of a store.

A background thread gathers each batch's segments from the shards into one of a few pinned host buffers;
the main thread copies a filled buffer to the GPU on a side CUDA stream (``non_blocking``) and converts it
there, while the thread is already filling the next buffer. Only the batches in flight occupy memory, so the
corpus may be any size. The visiting order is :func:`gtzan_gpu.data.segments.epoch_order`, as for
DeviceLoader, and a segment is the same int16 samples in both, so one order gives identical batches.
"""
from __future__ import annotations

import queue
import threading
from typing import Iterator

import numpy as np
import torch

from gtzan_gpu.data.audio import INT16_SCALE
from gtzan_gpu.data.segments import Batch, SegmentIndex, SegmentSpec, TrackSource, epoch_order
from gtzan_gpu.data.store import samples_intact
from gtzan_gpu.errors import GtzanError

_DONE = object()


class StoreLoader:
    """All segments of a list of stored tracks, read on demand.

    Args:
        tracks: tracks of a store (``TrackSource.stored``), e.g. from ``track_sources`` on a store's corpus.
        spec: segment length, hop and corpus sample rate.
        device: where batches are delivered.
        buffers: pinned host buffers in rotation (2 = double buffering).
    """

    def __init__(self, tracks: list[TrackSource], spec: SegmentSpec, device: torch.device | str = "cpu",
                 buffers: int = 2):
        not_stored = [t.track_id for t in tracks if not t.stored]
        if not_stored:
            raise GtzanError(f"--loader store reads a STORE (made by `gtzan-gpu pack`); track {not_stored[0]!r} "
                             f"comes from an audio folder")
        self.spec = spec
        self.device = torch.device(device)
        self.buffers = max(2, buffers)
        self.index = SegmentIndex.build(tracks, spec)
        shard_paths = sorted({str(t.path) for t in self.index.tracks})
        shard_of_track = np.array([shard_paths.index(str(t.path)) for t in self.index.tracks], dtype=np.int64)
        track_offset = np.array([t.offset for t in self.index.tracks], dtype=np.int64)
        track = self.index.track_of_segment.numpy()
        self._shard_of_segment = shard_of_track[track] if len(track) else np.zeros(0, dtype=np.int64)
        self._offset_of_segment = (track_offset[track] + self.index.start_of_segment.numpy()) if len(track) else \
            np.zeros(0, dtype=np.int64)
        self._shards = [np.load(path, mmap_mode="r") for path in shard_paths]
        room = np.array([max(1, t.samples - spec.length + 1) for t in self.index.tracks], dtype=np.int64)
        self._track_offset, self._track_room, self._track = track_offset, room, track
        self._shard_paths = shard_paths
        self._shard_of_track = shard_of_track
        self._verified = np.zeros(len(self.index.tracks), dtype=bool)  # crc32 checked once per track per process
        self.labels = self.index.labels.to(self.device)
        self.track_of_segment = self.index.track_of_segment.to(self.device)
        self._copy_stream = torch.cuda.Stream(self.device) if self.device.type == "cuda" else None

    def __len__(self) -> int:
        return len(self.index)

    @property
    def track_ids(self) -> list[str]:
        return [t.track_id for t in self.index.tracks]

    def _verify(self, tracks: np.ndarray) -> None:
        """Check the crc32 of each of ``tracks`` (indices into ``index.tracks``) not yet checked by this loader:
        a flipped byte or an offset pointing at another track's samples is a one-line error naming the shard,
        never a batch of wrong samples. Each track is read in full once per process, then never again."""
        for number in np.unique(tracks[~self._verified[tracks]]):
            track = self.index.tracks[number]
            shard = self._shards[self._shard_of_track[number]]
            if not samples_intact(shard[track.offset:track.offset + track.samples], track.samples, track.crc32):
                raise GtzanError(f"store shard {self._shard_paths[self._shard_of_track[number]]} is damaged: "
                                 f"the samples of {track.track_id} do not match the index's crc32; run "
                                 f"`gtzan-gpu pack` again to repair it")
            self._verified[number] = True

    def _fill(self, buffer: np.ndarray, segments: np.ndarray, starts: np.ndarray | None = None) -> None:
        length = self.spec.length
        if len(segments):
            self._verify(self._track[segments])
        starts = self._offset_of_segment[segments] if starts is None else starts
        for row, (segment, start) in enumerate(zip(segments, starts)):
            buffer[row] = self._shards[self._shard_of_segment[segment]][start:start + length]

    def gather(self, segments: torch.Tensor) -> Batch:
        """Segment indices ``(B,)`` -> (waveforms ``(B, T)`` float32, labels ``(B,)``, track ``(B,)``) on ``device``,
        synchronously (for a fixed TensorBoard batch)."""
        chosen = segments.cpu().numpy()
        host = np.empty((len(chosen), self.spec.length), dtype=np.int16)
        self._fill(host, chosen)
        on_device = segments.to(self.device)
        return (torch.from_numpy(host).to(self.device).float().mul_(INT16_SCALE), self.labels[on_device],
                self.track_of_segment[on_device])

    def batches(self, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None,
                drop_last: bool = False, crop: torch.Generator | None = None) -> Iterator[Batch]:
        """One epoch of ``(B, T)`` batches in :func:`epoch_order`; read ahead by a background thread. With
        ``crop`` (a CPU generator), each segment starts at a random sample of its track instead."""
        order = epoch_order(len(self), shuffle, generator).numpy()
        starts = self._offset_of_segment[order]
        if crop is not None and len(order):
            track = self._track[order]
            draw = torch.rand(len(order), generator=crop, dtype=torch.float64).numpy()
            starts = self._track_offset[track] + (draw * self._track_room[track]).astype(np.int64)
        stop = len(order) - (len(order) % batch_size if drop_last else 0)
        chunks = [(order[first:min(first + batch_size, stop)], starts[first:min(first + batch_size, stop)])
                  for first in range(0, stop, batch_size)]
        pin = self.device.type == "cuda"
        pool = [torch.empty((batch_size, self.spec.length), dtype=torch.int16, pin_memory=pin)
                for _ in range(self.buffers)]
        free: queue.Queue = queue.Queue()
        for slot in range(len(pool)):
            free.put(slot)
        ready: queue.Queue = queue.Queue()
        halt = threading.Event()

        def produce() -> None:
            try:
                for chunk, chunk_starts in chunks:
                    slot = None
                    while slot is None:
                        if halt.is_set():
                            return
                        try:
                            slot = free.get(timeout=0.1)
                        except queue.Empty:
                            pass
                    self._fill(pool[slot].numpy(), chunk, chunk_starts)
                    ready.put((slot, chunk))
                ready.put(_DONE)
            except BaseException as error:  # handed to the consumer, raised there
                ready.put(error)

        worker = threading.Thread(target=produce, name="gtzan-store-loader", daemon=True)
        worker.start()
        try:
            while True:
                item = ready.get()
                if item is _DONE:
                    return
                if isinstance(item, GtzanError):
                    raise item
                if isinstance(item, BaseException):
                    raise GtzanError(f"reading a batch from the store failed: {item}") from item
                slot, chunk = item
                yield self._deliver(pool[slot][: len(chunk)], chunk)
                free.put(slot)
        finally:
            halt.set()
            worker.join()

    def _deliver(self, host: torch.Tensor, chunk: np.ndarray) -> Batch:
        """Move one filled pinned buffer to the device (side stream on CUDA) and convert it to float."""
        segments = torch.from_numpy(chunk).to(self.device, non_blocking=True)
        if self._copy_stream is None:
            waveforms = host.float().mul_(INT16_SCALE)
        else:
            with torch.cuda.stream(self._copy_stream):
                moved = host.to(self.device, non_blocking=True)
                copied = torch.cuda.Event()
                copied.record(self._copy_stream)
            current = torch.cuda.current_stream(self.device)
            current.wait_event(copied)
            moved.record_stream(current)
            copied.synchronize()  # the pinned buffer may be refilled only once its copy has finished
            waveforms = moved.float().mul_(INT16_SCALE)
        return waveforms, self.labels[segments], self.track_of_segment[segments]
