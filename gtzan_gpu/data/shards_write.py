"""Writing a corpus as WebDataset tar shards (``gtzan-gpu shards``): one sample per track, read by ``webdataset``,
Hugging Face ``datasets``, lhotse, and by this tool as DATA (:mod:`gtzan_gpu.data.shards`).

A sample is two members sharing a key: ``<key>.flac`` (or ``.wav``: 16-bit PCM, mono, the decoded samples at the
corpus rate, exactly the int16 samples ``pack`` stores) and ``<key>.json`` (track id, label, label index, split,
artist, sample rate, samples, crc32 of the int16 samples). A key is the track's position and its id with every
character WebDataset would split on made ``_`` (``0000012_blues_00012``): unique, and free of dots.
``DIR/shards.json`` lists the shards (name, samples, bytes, sha256), the labels, and every track with its shard and
the byte range of its audio member (so a reader needs no pass over the tars).

Writes are atomic and resumable: each shard is written under a temporary name and renamed, then ``shards.json``
records it; a killed run, run again with the same corpus and options, keeps the shards it recorded and writes the
rest. Tar headers carry no time, owner or host, so a resumed run's shards are byte for byte an uninterrupted run's.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from gtzan_gpu.atomic import atomic_write_text, atomic_write_with, remove_dead_temporaries
from gtzan_gpu.data.catalogue import CorpusSpec
from gtzan_gpu.data.corpus import Corpus, report_exclusions
from gtzan_gpu.data.segments import DEFAULT_SAMPLE_RATE, track_sources
from gtzan_gpu.data.shards import SHARDS_FORMAT, SHARDS_INDEX, SHARDS_VERSION
from gtzan_gpu.data.sources import scan_corpus
from gtzan_gpu.data.splits import SplitManifest
from gtzan_gpu.errors import GtzanError
from gtzan_gpu.progress import progress

log = logging.getLogger(__name__)

AUDIO_FORMATS = {"flac": "FLAC", "wav": "WAV"}  # --audio -> soundfile format; both 16-bit PCM, lossless
MAX_SHARD_MB = 1 << 20


@dataclass(frozen=True)
class ShardOptions:
    """How shards are cut and encoded: at most ``shard_mb`` MB a shard (a longer sample is a shard alone),
    ``audio`` one of :data:`AUDIO_FORMATS`."""

    shard_mb: float = 256.0
    audio: str = "flac"

    def __post_init__(self):
        if not 0 < self.shard_mb <= MAX_SHARD_MB:
            raise GtzanError(f"--shard-mb must be in (0, {MAX_SHARD_MB}], got {self.shard_mb:g}")
        if self.audio not in AUDIO_FORMATS:
            raise GtzanError(f"--audio must be one of {', '.join(AUDIO_FORMATS)}, got {self.audio!r}")

    @property
    def shard_bytes(self) -> int:
        return int(self.shard_mb * 1e6)


def sample_key(position: int, track_id: str) -> str:
    """The WebDataset key of the track at ``position``: unique, no dot (WebDataset's extension separator), no
    slash, short enough for a plain tar header."""
    return f"{position:07d}_{re.sub(r'[^A-Za-z0-9_-]', '_', track_id)[:80]}"


def shard_file_name(number: int) -> str:
    return f"shard-{number:06d}.tar"


def file_sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _encoded(samples: np.ndarray, sample_rate: int, audio: str) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, sample_rate, format=AUDIO_FORMATS[audio], subtype="PCM_16")
    return buffer.getvalue()


def _member(name: str, data: bytes) -> tuple[tarfile.TarInfo, io.BytesIO]:
    """A tar member with no time, owner or host in its header (shards are reproducible byte for byte)."""
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode, info.uid, info.gid, info.uname, info.gname = len(data), 0, 0o644, 0, 0, "", ""
    return info, io.BytesIO(data)


@dataclass(frozen=True)
class _Sample:
    """One track as a shard holds it: its metadata (the ``.json`` member) and its encoded audio."""

    key: str
    meta: dict
    audio: bytes


class ShardWriter:
    """Writes the shards of one corpus into ``out`` (see the module docstring); ``write()`` returns a summary."""

    def __init__(self, spec: CorpusSpec, out: Path, options: ShardOptions, manifest: str | None = None):
        self.spec, self.out, self.options = spec, out, options
        self.corpus: Corpus = scan_corpus(spec)
        report_exclusions(self.corpus, log)
        if not self.corpus.tracks:
            raise GtzanError(f"{spec.describe()} has no usable track to write")
        self.sample_rate = getattr(self.corpus.store, "sample_rate", None) or DEFAULT_SAMPLE_RATE
        self.split_of = self._splits(manifest)
        self.plan = self._plan_digest()

    def _splits(self, manifest: str | None) -> dict[str, str | None]:
        """Each track's subset: the manifest's when given (every id it lists must be a usable track), else the
        corpus's own (a label table's split column)."""
        if not manifest:
            return {t.track_id: t.split for t in self.corpus.tracks}
        loaded = SplitManifest.load(manifest)
        known = self.corpus.tracks_by_id()
        subset_of = {track_id: name for name, ids in loaded.subsets.items() for track_id in ids}
        missing = sorted(set(subset_of) - set(known))
        if missing:
            raise GtzanError(f"--manifest {manifest} lists {len(missing)} track(s) that are not usable tracks of "
                             f"{self.spec.describe()}, e.g. {missing[0]!r}")
        return {t.track_id: subset_of.get(t.track_id) for t in self.corpus.tracks}

    def _plan_digest(self) -> str:
        """What the shards will hold: the tracks (id, label, file, length), their splits, the options. A resumed
        run must have the same plan, or it would mix two corpora in one folder."""
        tracks = [[t.track_id, t.genre, t.path, t.frames, t.sample_rate, t.artist, self.split_of[t.track_id]]
                  for t in self.corpus.tracks]
        text = json.dumps([tracks, self.corpus.genres, self.options.shard_mb, self.options.audio, self.sample_rate])
        return hashlib.sha256(text.encode()).hexdigest()

    def _samples(self, start: int):
        """The corpus's samples from track position ``start`` on, decoded one at a time."""
        genres, tracks = self.corpus.genres, self.corpus.tracks
        sources = track_sources(self.corpus, [t.track_id for t in tracks[start:]], self.sample_rate)
        for position, (track, source) in enumerate(zip(tracks[start:], sources), start):
            samples = source.read_int16(self.sample_rate).numpy()
            meta = {"track_id": track.track_id, "label": track.genre, "label_index": genres.index(track.genre),
                    "split": self.split_of[track.track_id], "artist": track.artist, "sample_rate": self.sample_rate,
                    "samples": int(len(samples)), "crc32": zlib.crc32(samples.tobytes())}
            yield position, _Sample(sample_key(position, track.track_id), meta,
                                    _encoded(samples, self.sample_rate, self.options.audio))

    def write(self) -> dict:
        index = self._resumable_index()
        if index["complete"]:
            return self._summary(index, written=0)
        start = sum(shard["samples"] for shard in index["shards"])
        pending: list[_Sample] = []
        size = 0
        written = 0
        samples = self._samples(start)
        for position, sample in progress(samples, len(self.corpus.tracks) - start, f"writing {self.out}", "track"):
            pending.append(sample)
            size += len(sample.audio) + 2048
            if size >= self.options.shard_bytes or position == len(self.corpus.tracks) - 1:
                self._finish_shard(index, pending)
                pending, size, written = [], 0, written + 1
        index["complete"] = True
        atomic_write_text(self.out / SHARDS_INDEX, json.dumps(index, indent=1) + "\n")
        return self._summary(index, written)

    def _summary(self, index: dict, written: int) -> dict:
        """What ``write`` did: shards in all, written by this run, kept from an earlier one; tracks; exclusions."""
        shards = len(index["shards"])
        return {"out": str(self.out), "shards": shards, "written": written, "kept": shards - written,
                "tracks": len(index["tracks"]), "excluded": len(index["excluded"])}

    def _finish_shard(self, index: dict, pending: list[_Sample]) -> None:
        """Write one shard atomically, then record it (and its tracks' byte ranges) in ``shards.json``."""
        name = shard_file_name(len(index["shards"]))
        path = self.out / name
        remove_dead_temporaries(path)

        def write_tar(handle):
            with tarfile.open(fileobj=handle, mode="w", format=tarfile.USTAR_FORMAT) as tar:
                for sample in pending:
                    for suffix, data in ((self.options.audio, sample.audio),
                                         ("json", json.dumps(sample.meta, sort_keys=True).encode())):
                        tar.addfile(*_member(f"{sample.key}.{suffix}", data))
        atomic_write_with(path, write_tar)
        with tarfile.open(path) as tar:  # where each audio member's bytes lie: readers seek straight to them
            ranges = {m.name: (m.offset_data, m.size) for m in tar.getmembers()}
        for sample in pending:
            offset, length = ranges[f"{sample.key}.{self.options.audio}"]
            index["tracks"].append({**sample.meta, "key": sample.key, "shard": name, "offset": offset,
                                    "bytes": length})
        index["shards"].append({"name": name, "samples": len(pending), "bytes": path.stat().st_size,
                                "sha256": file_sha256(path)})
        atomic_write_text(self.out / SHARDS_INDEX, json.dumps(index, indent=1) + "\n")

    def _resumable_index(self) -> dict:
        """``shards.json`` to continue: a killed run's of the same plan (its recorded shards checked), or a new
        one. A finished run's, or another plan's, or a folder that holds anything else, is refused."""
        fresh = {"format": SHARDS_FORMAT, "version": SHARDS_VERSION, "complete": False, "plan": self.plan,
                 "audio": self.options.audio, "sample_rate": self.sample_rate, "labels": self.corpus.genres,
                 "source": self.spec.describe(), "shards": [], "tracks": [],
                 "excluded": [{"path": e.path, "reason": e.reason} for e in self.corpus.excluded]}
        index_path = self.out / SHARDS_INDEX
        if not index_path.is_file():
            return fresh
        try:
            index = json.loads(index_path.read_text())
        except (OSError, ValueError):
            raise GtzanError(f"--out {self.out}: {SHARDS_INDEX} is unreadable; choose an empty folder") from None
        if not isinstance(index, dict) or index.get("format") != SHARDS_FORMAT or index.get("plan") != self.plan:
            raise GtzanError(f"--out {self.out} holds shards of another corpus, split or options; choose an empty "
                             f"folder")
        if index.get("complete"):
            return index  # the same shards, finished: nothing to write
        for shard in index["shards"]:
            path = self.out / shard["name"]
            if not path.is_file() or file_sha256(path) != shard["sha256"]:
                raise GtzanError(f"{path} differs from what {SHARDS_INDEX} recorded; choose an empty folder")
        log.info("resuming %s after %d shard(s)", self.out, len(index["shards"]))
        return index


def check_shards_target(out: Path, inputs: tuple) -> None:
    """``out`` is a folder this command may fill: not inside an input, not a file, empty or shards of its own."""
    for given in inputs:
        source = Path(given).resolve()
        if out.resolve() == source or source in out.resolve().parents:
            raise GtzanError(f"--out {out} is inside the input {given}; put the shards elsewhere")
    if out.exists() and not out.is_dir():
        raise GtzanError(f"--out {out} is a file, not a folder")
    if out.is_dir():
        foreign = sorted(p.name for p in out.iterdir() if not (p.name == SHARDS_INDEX or p.name.startswith(
            ("shard-", ".shard-", f".{SHARDS_INDEX}", ".lock", ".gtzan-gpu"))))
        if foreign:
            raise GtzanError(f"--out {out} is not empty and holds no shards of this tool ({foreign[0]}); choose an "
                             f"empty folder")


def write_shards(spec: CorpusSpec, out: str | Path, options: ShardOptions = ShardOptions(),
                 manifest: str | None = None) -> dict:
    """Write the corpus ``spec`` names as WebDataset shards into ``out`` (call it with ``out`` locked)."""
    out = Path(out)
    check_shards_target(out, tuple(p for p in (spec.data, spec.labels, manifest) if p))
    out.mkdir(parents=True, exist_ok=True)
    return ShardWriter(spec, out, options, manifest).write()
