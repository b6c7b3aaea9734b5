"""Segments are indexed, never materialised: a segment is (track, start sample) at the corpus rate.

Evaluation uses the seed's windows (start 0, T, 2T, ...; a trailing partial window is dropped, so a
30-s track gives 10 / 6 / 3 segments of 3 / 5 / 10 s). Training may use a shorter hop (overlap).
"""
from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch

from gtzan_gpu.data.audio import INT16_SCALE, fit_length, read_segment, read_track, resampled_length, to_int16
from gtzan_gpu.data.corpus import Corpus
from gtzan_gpu.errors import GtzanError

log = logging.getLogger(__name__)

DEFAULT_SAMPLE_RATE = 22050


@dataclass(frozen=True)
class SegmentSpec:
    """Segment length and hop in seconds at ``sample_rate``; ``hop_seconds=None`` means no overlap."""

    seconds: float = 5.0
    sample_rate: int = DEFAULT_SAMPLE_RATE
    hop_seconds: float | None = None

    def __post_init__(self):
        if not self.seconds > 0:
            raise GtzanError(f"--segment-seconds must be positive, got {self.seconds}")
        if self.hop_seconds is not None and not self.hop_seconds > 0:
            raise GtzanError(f"--hop-seconds must be positive, got {self.hop_seconds}")

    @property
    def length(self) -> int:
        """Samples per segment."""
        return int(round(self.seconds * self.sample_rate))

    @property
    def hop(self) -> int:
        return self.length if self.hop_seconds is None else int(round(self.hop_seconds * self.sample_rate))

    def starts(self, num_samples: int) -> list[int]:
        """Window starts inside a track of ``num_samples`` samples; a trailing partial window is dropped."""
        return list(range(0, num_samples - self.length + 1, self.hop))


Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # every loader's: waveforms (B, T), labels (B,), tracks (B,)


def epoch_order(count: int, shuffle: bool, generator: torch.Generator | None = None) -> torch.Tensor:
    """Segment visiting order for one epoch, ``(count,)`` int64 on the CPU: every loader draws it here, so
    DeviceLoader and SegmentDataset batches visit segments in the same order for the same generator."""
    return torch.randperm(count, generator=generator) if shuffle else torch.arange(count)


@dataclass(frozen=True)
class TrackSource:
    """A track as the loaders need it: where it is, its label, its length at the corpus rate, and how to read it.

    This class reads an audio file (decoded, downmixed and resampled on every read); other kinds of source are
    subclasses with their own read methods (a packed store's shard: :class:`gtzan_gpu.data.store.ShardTrack`),
    so a loader never asks which kind a track is.
    """

    kind: ClassVar[str] = "file"
    track_id: str
    label: int
    path: Path
    source_rate: int
    samples: int

    @property
    def stored(self) -> bool:
        """Whether the samples are already int16 at the corpus rate in a store (the store loader needs that)."""
        return self.kind == "shard"

    def read_int16(self, sample_rate: int) -> torch.Tensor:
        """The whole track at ``sample_rate``: ``(samples,)`` int16."""
        return to_int16(read_track(self.path, sample_rate))

    def read_float(self, start: int, length: int, sample_rate: int, cache: dict | None = None) -> torch.Tensor:
        """``length`` samples from ``start``: ``(length,)`` float32 in [-1, 1], zero-padded past the end.
        ``cache``: per-reader state a source may keep (open memory maps), e.g. one per DataLoader worker."""
        return read_segment(self.path, start, length, sample_rate, self.source_rate)

    def segment_of_whole(self, start: int, length: int, sample_rate: int, cache: dict | None, key: tuple
                         ) -> torch.Tensor:
        """:meth:`read_float` for sources that decode only whole tracks (a tar member, a dataset row): the track
        read once by :meth:`read_int16` and kept in ``cache`` (the last one, by ``key``), so the segments of one
        track read in a row decode it once."""
        cache = {} if cache is None else cache
        if cache.get("whole_key") != key:
            cache["whole_key"], cache["whole_samples"] = key, self.read_int16(sample_rate)
        return fit_length(cache["whole_samples"][start:start + length].float() * INT16_SCALE, length)

    def samples_crc32(self, sample_rate: int) -> int:
        """crc32 of the whole track's int16 samples at ``sample_rate`` (an audio file is decoded for it)."""
        return zlib.crc32(self.read_int16(sample_rate).numpy().tobytes())


def track_sources(corpus: Corpus, track_ids: list[str], sample_rate: int, genres: list[str] | None = None) -> list[TrackSource]:
    """The tracks of one subset, in the order given. Labels index ``genres`` (default: the corpus's)."""
    genres = genres if genres is not None else corpus.genres
    by_id = corpus.tracks_by_id()
    missing = [i for i in track_ids if i not in by_id]
    if missing:
        raise GtzanError(f"{len(missing)} track(s) of the split are not in {corpus.root}, e.g. {missing[0]!r}")
    sources = []
    for track_id in track_ids:
        track = by_id[track_id]
        if track.genre not in genres:
            raise GtzanError(f"track {track_id!r} has genre {track.genre!r}, which the split does not list")
        if corpus.store is not None:  # the corpus's own reader (a packed store) makes its tracks' sources
            sources.append(corpus.store.track_source(track_id, genres.index(track.genre), sample_rate))
            continue
        sources.append(TrackSource(
            track_id, genres.index(track.genre), corpus.absolute_path(track), track.sample_rate,
            resampled_length(track.frames, track.sample_rate, sample_rate),
        ))
    return sources


@dataclass
class SegmentIndex:
    """Every segment of a list of tracks: parallel tensors of track position and start sample."""

    tracks: list[TrackSource]
    track_of_segment: torch.Tensor  # (N,) int64, index into ``tracks``
    start_of_segment: torch.Tensor  # (N,) int64, sample offset inside the track
    skipped: list[str]               # ids of tracks shorter than one segment

    @classmethod
    def build(cls, tracks: list[TrackSource], spec: SegmentSpec) -> "SegmentIndex":
        track_positions: list[int] = []
        starts: list[int] = []
        skipped = []
        for position, track in enumerate(tracks):
            track_starts = spec.starts(track.samples)
            if not track_starts:
                skipped.append(track.track_id)
                continue
            track_positions += [position] * len(track_starts)
            starts += track_starts
        if skipped:
            log.info("skipped %d track(s) shorter than one %.3g-s segment", len(skipped), spec.seconds)
        return cls(tracks, torch.tensor(track_positions, dtype=torch.long),
                   torch.tensor(starts, dtype=torch.long), skipped)

    def __len__(self) -> int:
        return self.track_of_segment.numel()

    @property
    def labels(self) -> torch.Tensor:
        """(N,) int64 label of each segment."""
        track_labels = torch.tensor([t.label for t in self.tracks], dtype=torch.long)
        return track_labels[self.track_of_segment] if len(self) else torch.empty(0, dtype=torch.long)
