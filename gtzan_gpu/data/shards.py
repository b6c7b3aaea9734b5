"""WebDataset tar shards as DATA: a corpus source for every command that takes DATA (scan, split, pack, train,
evaluate, experiment, embed, shards).

Two kinds of folder are read:

- shards this tool wrote (``gtzan-gpu shards``, :mod:`gtzan_gpu.data.shards_write`): ``shards.json`` lists every
  track with its label and the byte range of its audio member, so opening them reads no tar; samples are checked
  against the recorded crc32 when read;
- any folder of WebDataset ``.tar`` files whose samples carry a ``.json`` with a ``label`` (or ``genre``) and an
  audio member (``.flac``, ``.wav``, ``.mp3``, ...): every tar is walked and every audio member decoded once, as
  a catalogue's files are, and a sample without a label or whose audio does not decode is excluded with the
  reason. The track id is the json's ``track_id`` (or ``id``), else the sample's key.

Either way a track's samples are read from its tar by seeking to its member (:class:`TarMemberTrack`), so the
device, stream and WebDataset loaders all read shards; nothing is extracted to disk.
"""
from __future__ import annotations

import json
import tarfile
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch

from gtzan_gpu.data.audio import AUDIO_EXTENSIONS, AudioDecodeError, decode_bytes_validated, resampled_length, to_int16
from gtzan_gpu.data.catalogue import CorpusSpec
from gtzan_gpu.data.corpus import Corpus, CorpusSource, Track
from gtzan_gpu.data.layout import ExcludedFile
from gtzan_gpu.data.segments import TrackSource
from gtzan_gpu.errors import GtzanError
from gtzan_gpu.progress import progress

SHARDS_FORMAT = "gtzan-gpu-webdataset"
SHARDS_VERSION = 1
SHARDS_INDEX = "shards.json"
LABEL_KEYS = ("label", "genre")      # where a foreign sample's .json names its label
ID_KEYS = ("track_id", "id")         # ... and its track id (else the sample's key)
SPLITS = ("train", "val", "test")


def webdataset_key(name: str) -> tuple[str, str]:
    """(key, extension) of a tar member as WebDataset groups them: the key is the path up to the first dot of
    the file name, the extension the rest, lower-cased."""
    folder, _, base = name.rpartition("/")
    stem, _, extension = base.partition(".")
    return (f"{folder}/{stem}" if folder else stem), extension.lower()


@dataclass(frozen=True)
class TarMemberTrack(TrackSource):
    """A track whose audio is a member of a tar shard: ``size`` bytes at ``offset`` of ``path``, decoded (downmixed,
    resampled) on read; ``crc32`` of its int16 samples at the corpus rate when the shard records it."""

    kind: ClassVar[str] = "tar"
    offset: int = 0
    size: int = 0
    crc32: int | None = None
    member: str = ""  # the audio member's name in the tar (its WebDataset key and extension)
    url: str | None = None  # where webdataset opens the shard when it is not on this machine (--shard-url)

    @property
    def location(self) -> str:
        """What ``webdataset`` opens for this track's shard: its URL, or the local file."""
        return self.url or str(self.path)

    def _decoded(self, sample_rate: int) -> torch.Tensor:
        if self.url is not None:
            raise GtzanError(f"shard {self.url} is not on this machine (--shard-url): only --loader webdataset "
                             f"streams it")
        try:
            with open(self.path, "rb") as handle:
                handle.seek(self.offset)
                data = handle.read(self.size)
        except OSError as error:
            raise GtzanError(f"cannot read shard {self.path}: {error.strerror}") from None
        try:
            return decode_bytes_validated(data, sample_rate)[1]
        except AudioDecodeError as error:
            raise GtzanError(f"shard {self.path}: track {self.track_id!r} does not decode ({error})") from None

    def read_int16(self, sample_rate: int) -> torch.Tensor:
        samples = to_int16(self._decoded(sample_rate))
        if self.crc32 is not None and zlib.crc32(samples.numpy().tobytes()) != self.crc32:
            raise GtzanError(f"shard {self.path} is damaged: track {self.track_id!r} does not match its recorded "
                             f"crc32; write the shards again")
        return samples

    def samples_crc32(self, sample_rate: int) -> int:
        return self.crc32 if self.crc32 is not None else super().samples_crc32(sample_rate)

    def read_float(self, start: int, length: int, sample_rate: int, cache: dict | None = None) -> torch.Tensor:
        return self.segment_of_whole(start, length, sample_rate, cache, ("tar", str(self.path), self.offset))


@dataclass(frozen=True)
class _Member:
    """Where one track's audio lies in a shard, and what the shard says of it."""

    tar: str
    offset: int
    size: int
    name: str
    crc32: int | None = None


class ShardsReader:
    """The sample reader of a shards corpus (``Corpus.store``): makes each track's :class:`TarMemberTrack`."""

    def __init__(self, root: Path, members: dict[str, _Member], tracks: dict[str, Track],
                 sample_rate: int | None = None, shard_url: str | None = None):
        self.root, self.members, self.tracks = root, members, tracks
        self.sample_rate = sample_rate  # the rate the shards hold (ours); None: each file's own (foreign tars)
        self.shard_url = shard_url

    def track_source(self, track_id: str, label: int, sample_rate: int) -> TarMemberTrack:
        member, track = self.members[track_id], self.tracks[track_id]
        crc32 = member.crc32 if sample_rate == self.sample_rate else None
        return TarMemberTrack(track_id, label, self.root / member.tar, track.sample_rate,
                              resampled_length(track.frames, track.sample_rate, sample_rate), member.offset,
                              member.size, crc32, member.name,
                              f"{self.shard_url}{member.tar}" if self.shard_url else None)


def is_remote(tracks: list[TrackSource]) -> bool:
    """Whether any of ``tracks`` lies in a shard only webdataset can open (``--shard-url``)."""
    return any(getattr(track, "url", None) for track in tracks)


def is_shards_folder(path: Path) -> bool:
    """A folder with this tool's ``shards.json``, or with ``.tar`` files and no sub-folder (a WebDataset folder)."""
    if not path.is_dir():
        return False
    if (path / SHARDS_INDEX).is_file():
        return True
    entries = list(path.iterdir())
    return any(p.suffix == ".tar" and p.is_file() for p in entries) and not any(p.is_dir() for p in entries)


def open_shards_corpus(spec: CorpusSpec) -> Corpus | None:
    """The corpus source's opener: the Corpus of a shards folder, or None when DATA is not one."""
    root = Path(spec.data)
    if not is_shards_folder(root):
        return None
    if spec.labels is not None:
        raise GtzanError(f"{root} holds WebDataset shards, which carry their labels; leave out --labels")
    if (root / SHARDS_INDEX).is_file():
        return _written_corpus(root, spec.shard_url)
    if spec.shard_url:
        raise GtzanError(f"--shard-url needs the shards.json `gtzan-gpu shards` wrote in {root}")
    return scan_webdataset_folder(root)


def _written_corpus(root: Path, shard_url: str | None = None) -> Corpus:
    """Shards ``gtzan-gpu shards`` wrote, from their ``shards.json`` (every shard file present, at its size, unless
    ``shard_url`` says they are elsewhere: ``<shard_url><shard name>`` is what webdataset opens)."""
    try:
        index = json.loads((root / SHARDS_INDEX).read_text())
        if index.get("format") != SHARDS_FORMAT or index.get("version") != SHARDS_VERSION:
            raise GtzanError(f"{root / SHARDS_INDEX} is not a version-{SHARDS_VERSION} gtzan-gpu shards index")
        if not index.get("complete"):
            raise GtzanError(f"{root}: the shards were not all written (a stopped `gtzan-gpu shards`); run it again "
                             f"to finish them")
        for shard in [] if shard_url else index["shards"]:
            path = root / shard["name"]
            if not path.is_file() or path.stat().st_size != shard["bytes"]:
                raise GtzanError(f"{root}: shard {shard['name']} is missing or not the size shards.json records")
        rate, genres = int(index["sample_rate"]), list(index["labels"])
        tracks, members = {}, {}
        for entry in index["tracks"]:
            track_id = entry["track_id"]
            tracks[track_id] = Track(track_id, entry["label"], f"{entry['shard']}#{entry['key']}", rate, 1,
                                     int(entry["samples"]), entry.get("artist"), entry.get("split"))
            members[track_id] = _Member(entry["shard"], int(entry["offset"]), int(entry["bytes"]),
                                        f"{entry['key']}.{index['audio']}", int(entry["crc32"]))
        excluded = [ExcludedFile(e["path"], e["reason"]) for e in index.get("excluded", [])]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise GtzanError(f"{root / SHARDS_INDEX} is unreadable or damaged ({type(error).__name__}: {error})") from None
    return Corpus(root=root, genres=[g for g in genres if any(t.genre == g for t in tracks.values())],
                  tracks=list(tracks.values()), excluded=excluded,
                  store=ShardsReader(root, members, tracks, rate, shard_url))


def _sample_groups(tar: tarfile.TarFile) -> dict[str, dict[str, tarfile.TarInfo]]:
    """The tar's regular members grouped by WebDataset key: key -> extension -> member, in tar order."""
    groups: dict[str, dict[str, tarfile.TarInfo]] = {}
    for member in tar:
        if member.isfile():
            key, extension = webdataset_key(member.name)
            groups.setdefault(key, {})[extension] = member
    return groups


def _label_of(tar: tarfile.TarFile, members: dict[str, tarfile.TarInfo]) -> tuple[dict | None, str | None]:
    """(the sample's json, its label) or (None, why it has none)."""
    if "json" not in members:
        return None, "no .json with its label"
    try:
        meta = json.loads(tar.extractfile(members["json"]).read())
    except (ValueError, UnicodeDecodeError):
        return None, "its .json is not valid JSON"
    label = next((meta[key] for key in LABEL_KEYS if isinstance(meta, dict) and key in meta), None)
    if label is None or isinstance(label, (dict, list, bool)) or str(label).strip() == "":
        return None, f"its .json has no {' or '.join(LABEL_KEYS)}"
    return meta, str(label)


def scan_webdataset_folder(root: Path) -> Corpus:
    """Walk every ``.tar`` of ``root`` (sorted) and decode each sample's audio once: the Corpus of the usable ones,
    the others excluded with the reason (no label, no audio member, undecodable, a second sample of one id)."""
    tracks: dict[str, Track] = {}
    members: dict[str, _Member] = {}
    excluded: list[ExcludedFile] = []
    shards = sorted(p for p in root.iterdir() if p.suffix == ".tar" and p.is_file())
    for shard in progress(shards, len(shards), f"scanning {root}", "shard"):
        try:
            with tarfile.open(shard) as tar:
                for key, group in _sample_groups(tar).items():
                    _scan_sample(tar, shard.name, key, group, tracks, members, excluded)
        except (tarfile.TarError, OSError) as error:
            excluded.append(ExcludedFile(shard.name, f"not a readable tar ({error})"))
    if not tracks:
        example = f", e.g. {excluded[0].path}: {excluded[0].reason}" if excluded else ""
        raise GtzanError(f"{root}: no sample of its .tar files has an audio member and a .json with a label "
                         f"({len(excluded)} excluded{example}); a GTZAN tarball (genres.tar) must be extracted first")
    counts = Counter(t.genre for t in tracks.values())
    return Corpus(root=root, genres=sorted(counts), tracks=list(tracks.values()), excluded=excluded,
                  store=ShardsReader(root, members, tracks))


def _scan_sample(tar: tarfile.TarFile, shard: str, key: str, group: dict[str, tarfile.TarInfo],
                 tracks: dict, members: dict, excluded: list) -> None:
    audio = next((group[ext] for ext in group if f".{ext}" in AUDIO_EXTENSIONS + (".opus",)), None)
    where = f"{shard}#{key}"
    meta, label = _label_of(tar, group)
    if meta is None:
        excluded.append(ExcludedFile(where, label))
        return
    if audio is None:
        excluded.append(ExcludedFile(where, "no audio member (.flac, .wav, .mp3, ...)"))
        return
    track_id = str(next((meta[k] for k in ID_KEYS if meta.get(k) not in (None, "")), key))
    if track_id in tracks:
        excluded.append(ExcludedFile(where, f"a second sample of track id {track_id!r}"))
        return
    try:
        info, _ = decode_bytes_validated(tar.extractfile(audio).read(), None)
    except AudioDecodeError as error:
        excluded.append(ExcludedFile(f"{shard}#{audio.name}", str(error)))
        return
    split = meta.get("split") if meta.get("split") in SPLITS else None
    artist = meta.get("artist") if isinstance(meta.get("artist"), str) else None
    tracks[track_id] = Track(track_id, label, f"{shard}#{audio.name}", info.sample_rate, info.channels, info.frames,
                             artist, split)
    members[track_id] = _Member(shard, audio.offset_data, audio.size, audio.name)


SHARDS_SOURCE = CorpusSource("shards", "a folder of WebDataset .tar shards (gtzan-gpu shards' or any whose samples "
                                       "carry a .json label)", open_shards_corpus,
                             is_shards_folder)
