"""A decode-once corpus store: int16 ``.npy`` shards that numpy memory-maps, plus a JSON index.

``gtzan-gpu pack DATA --out STORE`` decodes every track once (worker processes), downmixes and resamples it to
the corpus rate, and writes::

    STORE/store.json          the index: every track (id, genre, shard, offset, length, source path, size,
                              mtime, crc32; artist and given split from a label table) and the scan report
                              (excluded files with reasons, table rows left out by rule)
    STORE/shard-00000.npy     int16, 1-D: the tracks of this shard back to back
    STORE/shard-00000.json    what the shard was packed from (so an unchanged shard is never packed again)

This module reads stores; :mod:`gtzan_gpu.data.store_pack` writes them. A store is a corpus:
:func:`gtzan_gpu.data.corpus.scan_corpus` opens it (no decoding), and its track ids,
genres and exclusions are the source folder's, so a split of the store is byte-identical to a split of the
folder and its samples are those DeviceLoader decodes from the folder.

Every write is atomic; a killed ``pack`` resumes at the first shard not yet written; re-running it on an
unchanged corpus writes nothing; a changed source file re-packs its shard. Opening a store checks every shard
against the index (missing, truncated, wrong shape), and reading a whole track checks its crc32, so a damaged
store is a one-line error naming the shard, never wrong samples.
"""
from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch

from gtzan_gpu.data.audio import INT16_SCALE
from gtzan_gpu.data.catalogue import CorpusSpec
from gtzan_gpu.data.corpus import Corpus, CorpusSource, Track
from gtzan_gpu.data.layout import ExcludedFile
from gtzan_gpu.data.segments import TrackSource
from gtzan_gpu.errors import GtzanError

STORE_FORMAT = "gtzan-gpu/store"
STORE_VERSION = 1
INDEX_NAME = "store.json"
DEFAULT_SHARD_GB = 2.0
DEFAULT_SAMPLE_RATE = 22050


@dataclass(frozen=True)
class StoredTrack:
    """One track in a store: where its int16 samples are, and what source file they came from."""

    track_id: str
    genre: str
    shard: int
    offset: int        # first sample inside the shard
    length: int        # samples at the store's rate
    crc32: int         # of the int16 samples' bytes
    source: str        # path relative to the source corpus's genre root
    size: int          # source file size and mtime when packed
    mtime_ns: int
    source_rate: int
    channels: int
    frames: int
    artist: str | None = None  # from a label table
    split: str | None = None


def shard_name(index: int) -> str:
    return f"shard-{index:05d}.npy"


def is_store(path: str | Path) -> bool:
    return (Path(path) / INDEX_NAME).is_file()


def open_store_corpus(spec: CorpusSpec) -> Corpus | None:
    """The corpus source of a packed store: the store's Corpus when ``spec.data`` holds a store index, else None.
    A store keeps the labels it was packed with, so a label table beside it is refused."""
    if not is_store(spec.data):
        return None
    if spec.labels is not None:
        raise GtzanError(f"{spec.data} is a store: it keeps the labels it was packed with; leave out --labels")
    return Store.open(spec.data).corpus()


def _damaged(root: Path, what: str) -> GtzanError:
    return GtzanError(f"store {root}: {what}; run `gtzan-gpu pack` again to repair it")


def _shard_samples(path: Path) -> int:
    """Samples the ``.npy`` header of ``path`` declares, after checking it is a complete 1-D int16 array."""
    with open(path, "rb") as handle:
        version = np.lib.format.read_magic(handle)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
            np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(handle)
        data_start = handle.tell()
    if dtype != np.int16 or len(shape) != 1:
        raise ValueError(f"holds {dtype} {shape}, not 1-D int16")
    size = path.stat().st_size
    if size != data_start + 2 * shape[0]:
        raise ValueError(f"truncated ({size} bytes; its header declares {data_start + 2 * shape[0]})")
    return int(shape[0])


_TRACK_INTEGERS = ("shard", "offset", "length", "crc32", "size", "mtime_ns", "source_rate", "channels", "frames")
_TRACK_TEXTS = ("track_id", "genre", "source")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def index_problem(index: dict) -> str | None:
    """What is wrong with a store index's structure (a tampered or hand-edited store.json), or None: every field of
    every track typed as pack writes it, no track id twice, every genre listed, a crc32 for every track (a store
    without one would serve bit flips unchecked)."""
    if not isinstance(index, dict):
        return "not a JSON object"
    if not _is_int(index.get("sample_rate")) or not 1000 <= index["sample_rate"] <= 384000:
        return f"sample_rate {index.get('sample_rate')!r} is not a rate in Hz"
    genres, tracks, shards = index.get("genres"), index.get("tracks"), index.get("shard_samples")
    if not isinstance(genres, list) or not all(isinstance(g, str) for g in genres):
        return "genres is not a list of names"
    if not isinstance(tracks, list) or not isinstance(shards, list) or not all(_is_int(n) for n in shards):
        return "tracks or shard_samples is not a list"
    if not isinstance(index.get("excluded"), list):
        return "excluded is not a list"
    seen = set()
    for position, track in enumerate(tracks):
        if not isinstance(track, dict):
            return f"track {position} is not an object"
        wrong = [k for k in _TRACK_INTEGERS if not _is_int(track.get(k))] + \
            [k for k in _TRACK_TEXTS if not isinstance(track.get(k), str)]
        if wrong:
            return f"track {track.get('track_id', position)!r} has no valid {', '.join(wrong)}"
        if track["track_id"] in seen:
            return f"track {track['track_id']!r} is listed twice"
        seen.add(track["track_id"])
        if track["genre"] not in genres:
            return f"track {track['track_id']!r} has genre {track['genre']!r}, which the genre list lacks"
    return None


class Store:
    """An opened, checked store. ``tracks`` are in the source corpus's scan order."""

    def __init__(self, root: Path, index: dict):
        self.root = root
        self.sample_rate = int(index["sample_rate"])
        self.source_root = index["source_root"]
        self.genres: list[str] = list(index["genres"])
        self.tracks = [StoredTrack(**t) for t in index["tracks"]]
        self.excluded = [ExcludedFile(**e) for e in index["excluded"]]
        self.label_table: dict = dict(index.get("labels", {}))  # the label table packed from, if any
        self.left_out: dict[str, int] = dict(index.get("left_out", {}))
        self.shard_samples: list[int] = list(index["shard_samples"])
        self._by_id = {t.track_id: t for t in self.tracks}
        self._maps: dict[int, np.ndarray] = {}

    @classmethod
    def open(cls, path: str | Path) -> "Store":
        """Read the index and check every shard against it (existence, header, size, track extents)."""
        root = Path(path)
        try:
            index = json.loads((root / INDEX_NAME).read_text())
        except OSError as error:
            raise GtzanError(f"cannot read store index {root / INDEX_NAME}: {error.strerror}") from None
        except ValueError:
            raise _damaged(root, f"{INDEX_NAME} is not valid JSON") from None
        if index.get("format") != STORE_FORMAT or index.get("version") != STORE_VERSION:
            raise GtzanError(f"{root / INDEX_NAME} is not a version-{STORE_VERSION} gtzan-gpu store index")
        problem = index_problem(index)
        if problem:
            raise _damaged(root, f"{INDEX_NAME} does not match this format ({problem})")
        try:
            store = cls(root, index)
        except (KeyError, TypeError, ValueError) as error:
            raise _damaged(root, f"{INDEX_NAME} does not match this format ({error})") from None
        for number, expected in enumerate(store.shard_samples):
            name = shard_name(number)
            if not (root / name).is_file():
                raise _damaged(root, f"shard {name} is missing")
            try:
                found = _shard_samples(root / name)
            except (OSError, ValueError) as error:
                raise _damaged(root, f"shard {name} is unreadable: {error}") from None
            if found != expected:
                raise _damaged(root, f"shard {name} holds {found} samples; the index expects {expected}")
        for track in store.tracks:
            if not 0 <= track.shard < len(store.shard_samples):
                raise _damaged(root, f"the index places {track.track_id} in shard number {track.shard}, which "
                                     f"does not exist (the store has {len(store.shard_samples)})")
            if track.offset < 0 or track.length < 0 or \
                    track.offset + track.length > store.shard_samples[track.shard]:
                raise _damaged(root, f"the index places {track.track_id} outside shard {shard_name(track.shard)} "
                                     f"(offset {track.offset}, length {track.length})")
        return store

    def shard_path(self, number: int) -> Path:
        return self.root / shard_name(number)

    def shard(self, number: int) -> np.ndarray:
        """Shard ``number`` memory-mapped, read-only: ``(samples,)`` int16."""
        if number not in self._maps:
            self._maps[number] = np.load(self.shard_path(number), mmap_mode="r")
        return self._maps[number]

    def location(self, track_id: str) -> StoredTrack:
        return self._by_id[track_id]

    def track_source(self, track_id: str, label: int, sample_rate: int) -> "ShardTrack":
        """The loaders' view of a stored track (the corpus-source hook :func:`~gtzan_gpu.data.segments.track_sources`
        calls); the store's rate must be the run's."""
        if self.sample_rate != sample_rate:
            raise GtzanError(f"store {self.root} holds {self.sample_rate}-Hz samples, not {sample_rate} Hz; pack it "
                             f"again at this rate")
        stored = self.location(track_id)
        return ShardTrack(track_id, label, self.shard_path(stored.shard), sample_rate, stored.length, stored.offset,
                          stored.crc32)

    def corpus(self) -> Corpus:
        """The store as a Corpus: the source's track ids, genres, rates and exclusions; samples come from here."""
        tracks = [Track(t.track_id, t.genre, t.source, t.source_rate, t.channels, t.frames, t.artist, t.split)
                  for t in self.tracks]
        return Corpus(root=self.root, genres=list(self.genres), tracks=tracks, excluded=list(self.excluded),
                      store=self, left_out=dict(self.left_out), label_table=dict(self.label_table))


@dataclass(frozen=True)
class ShardTrack(TrackSource):
    """A track in a store shard (int16 ``.npy``): samples ``offset : offset + samples``, already at the corpus rate,
    checked against ``crc32`` when read whole."""

    kind: ClassVar[str] = "shard"
    offset: int = 0
    crc32: int | None = None

    def read_int16(self, sample_rate: int) -> torch.Tensor:
        return torch.from_numpy(read_stored_track(self.path, self.offset, self.samples, self.crc32))

    def samples_crc32(self, sample_rate: int) -> int:
        """The index's crc32 (that of the int16 samples at the corpus rate): nothing to read."""
        return self.crc32 if self.crc32 is not None else super().samples_crc32(sample_rate)

    def read_float(self, start: int, length: int, sample_rate: int, cache: dict | None = None) -> torch.Tensor:
        """A segment from the memory-mapped shard; the track's crc32 is checked the first time ``cache`` (one per
        reader, e.g. per DataLoader worker) sees it, so a damaged shard is never served."""
        cache = {} if cache is None else cache
        if self.path not in cache:
            cache[self.path] = np.load(self.path, mmap_mode="r")
        shard = cache[self.path]
        if (self.path, self.offset) not in cache:
            if not samples_intact(shard[self.offset:self.offset + self.samples], self.samples, self.crc32):
                raise damaged_samples(self.path, self.offset)
            cache[(self.path, self.offset)] = True
        first, stop = self.offset + start, self.offset + min(self.samples, start + length)
        out = torch.zeros(length, dtype=torch.float32)
        piece = torch.from_numpy(np.array(shard[first:stop]))
        out[: piece.numel()] = piece.float() * INT16_SCALE
        return out


def samples_intact(samples: np.ndarray, length: int, crc32: int | None) -> bool:
    """Whether a track's int16 samples are what the index says: ``length`` of them, with its crc32 (when known).
    Every reader of a store (whole tracks, the store loader, the stream loader's workers) checks with this."""
    return len(samples) == length and (crc32 is None or zlib.crc32(np.ascontiguousarray(samples).tobytes()) == crc32)


def damaged_samples(shard: Path, offset: int) -> GtzanError:
    return GtzanError(f"store shard {shard} is damaged (samples at {offset} do not match the index); "
                      f"run `gtzan-gpu pack` again to repair it")


def read_stored_track(shard: Path, offset: int, length: int, crc32: int | None = None) -> np.ndarray:
    """A whole track's int16 samples, copied out of its memory-mapped shard and checked against ``crc32``."""
    try:
        samples = np.array(np.load(shard, mmap_mode="r")[offset:offset + length])
    except (OSError, ValueError) as error:
        raise GtzanError(f"cannot read store shard {shard}: {error}") from None
    if not samples_intact(samples, length, crc32):
        raise damaged_samples(shard, offset)
    return samples


STORE_SOURCE = CorpusSource("store", "a store written by `gtzan-gpu pack` (its index is read, nothing decoded)",
                            open_store_corpus, is_store)
