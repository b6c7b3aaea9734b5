"""DeviceLoader: a whole split decoded once into one int16 tensor on the training device.

GTZAN (1,000 x 30 s x 22,050 Hz x 2 bytes) is about 1.3 GB, which fits on any training GPU. A batch is
then a gather from device memory: no decoding, no CPU work and no host-to-device copy per step.
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Iterator

import torch

from gtzan_gpu.data.audio import INT16_SCALE, describe_decode_error
from gtzan_gpu.data.segments import Batch, SegmentIndex, SegmentSpec, TrackSource, epoch_order
from gtzan_gpu.errors import GtzanError

log = logging.getLogger(__name__)


class DeviceLoader:
    """All segments of a list of tracks, resident on ``device``.

    Tracks are decoded (downmixed, resampled) and concatenated into ``samples``, a flat int16 tensor; a
    track that fails to decode now is reported and left out. ``segment_offsets`` holds each segment's
    start inside ``samples``. On CPU the tensor is pinned (when CUDA is available) so moving it later is fast.

    Args:
        tracks: the subset's tracks.
        spec: segment length, hop and corpus sample rate.
        device: where the samples and indices live.
    """

    def __init__(self, tracks: list[TrackSource], spec: SegmentSpec, device: torch.device | str = "cpu"):
        self.spec = spec
        self.device = torch.device(device)
        decoded: list[torch.Tensor] = []
        kept: list[TrackSource] = []
        for track in tracks:
            try:
                waveform = track.read_int16(spec.sample_rate)
            except GtzanError:  # a damaged store: never train on wrong samples
                raise
            except Exception as error:  # the file changed since the scan: report it, keep the rest
                log.warning("skipping %s: cannot decode (%s)", track.path, describe_decode_error(error))
                continue
            decoded.append(waveform)
            kept.append(dataclasses.replace(track, samples=waveform.numel()))
        self.index = SegmentIndex.build(kept, spec)
        track_starts = torch.tensor([0] + [w.numel() for w in decoded], dtype=torch.long).cumsum(0)
        flat = torch.cat(decoded) if decoded else torch.zeros(0, dtype=torch.int16)
        if self.device.type == "cpu" and torch.cuda.is_available():
            flat = flat.pin_memory()
        self.samples = flat.to(self.device)
        offsets = track_starts[self.index.track_of_segment] + self.index.start_of_segment
        self.segment_offsets = offsets.to(self.device)
        self.labels = self.index.labels.to(self.device)
        self.track_of_segment = self.index.track_of_segment.to(self.device)
        lengths = torch.tensor([t.samples for t in kept], dtype=torch.long)
        self._track_first = track_starts[:-1].to(self.device)                       # (tracks,)
        self._track_room = (lengths - spec.length + 1).clamp_min(1).to(self.device)  # possible starts per track
        # row p of this view is samples[p : p + T]: gathering rows copies B segments, no (B, T) index tensor
        window_count = max(0, self.samples.numel() - spec.length + 1)
        self._windows = self.samples.as_strided((window_count, spec.length), (1, 1))

    def __len__(self) -> int:
        return len(self.index)

    @property
    def nbytes(self) -> int:
        """Device memory held by the samples and index tensors."""
        tensors = (self.samples, self.segment_offsets, self.labels, self.track_of_segment)
        return sum(t.numel() * t.element_size() for t in tensors)

    @property
    def track_ids(self) -> list[str]:
        return [t.track_id for t in self.index.tracks]

    def gather(self, segments: torch.Tensor, crop: torch.Generator | None = None
               ) -> Batch:
        """Segment indices ``(B,)`` on ``device`` -> (waveforms ``(B, T)`` float32, labels ``(B,)``, track ``(B,)``).
        With ``crop`` (a generator on ``device``), each segment starts at a random sample of its track instead."""
        if crop is None:
            offsets = self.segment_offsets[segments]
        else:
            track = self.track_of_segment[segments]
            draw = torch.rand(segments.shape, generator=crop, device=self.device)
            offsets = self._track_first[track] + (draw * self._track_room[track]).long()
        rows = self._windows.index_select(0, offsets)
        waveforms = rows.float().mul_(INT16_SCALE)
        return waveforms, self.labels[segments], self.track_of_segment[segments]

    def batches(self, batch_size: int, shuffle: bool = False, generator: torch.Generator | None = None,
                drop_last: bool = False, crop: torch.Generator | None = None
                ) -> Iterator[Batch]:
        """One epoch of ``(B, T)`` batches; the order is drawn once per epoch on the CPU generator."""
        order = epoch_order(len(self), shuffle, generator).to(self.device)
        stop = len(self) - (len(self) % batch_size if drop_last else 0)
        for first in range(0, stop, batch_size):
            yield self.gather(order[first:first + batch_size], crop)
