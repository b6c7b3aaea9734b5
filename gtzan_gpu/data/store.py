"""A decode-once corpus store: int16 ``.npy`` shards that numpy memory-maps, plus a JSON index.

``gtzan-gpu pack DATA --out STORE`` decodes every track once (worker processes), downmixes and resamples it to
the corpus rate, and writes::

    STORE/store.json          the index: every track (id, genre, shard, offset, length, source path, size,
                              mtime, crc32; artist and given split from a label table) and the scan report
                              (excluded files with reasons, table rows left out by rule)
    STORE/shard-00000.npy     int16, 1-D: the tracks of this shard back to back
    STORE/shard-00000.json    what the shard was packed from (so an unchanged shard is never packed again)

A store is a corpus: :func:`gtzan_gpu.data.corpus.scan_corpus` opens it (no decoding), and its track ids,
genres and exclusions are the source folder's, so a split of the store is byte-identical to a split of the
folder and its samples are those DeviceLoader decodes from the folder.

Every write is atomic; a killed ``pack`` resumes at the first shard not yet written; re-running it on an
unchanged corpus writes nothing; a changed source file re-packs its shard. Opening a store checks every shard
against the index (missing, truncated, wrong shape), and reading a whole track checks its crc32, so a damaged
store is a one-line error naming the shard, never wrong samples.
"""
from __future__ import annotations

import concurrent.futures
import ctypes
import ctypes.util
import hashlib
import json
import logging
import multiprocessing
import os
import signal
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import soundfile as sf
import torch

from gtzan_gpu.atomic import atomic_write_text, atomic_write_with, remove_stale_temporaries
from gtzan_gpu.data.audio import (INT16_SCALE, AudioDecodeError, decode_failure_reason, decode_validated,
                                  native_stderr_silenced, resampled_length, to_int16)
from gtzan_gpu.data.catalogue import CorpusSpec, catalogue_walk
from gtzan_gpu.data.corpus import Corpus, Track, register_corpus_source
from gtzan_gpu.data.layout import AudioFile, ExcludedFile, LayoutWalk
from gtzan_gpu.data.segments import TrackSource
from gtzan_gpu.errors import GtzanError
from gtzan_gpu.locking import LOCK_NAME
from gtzan_gpu.progress import progress

log = logging.getLogger(__name__)

STORE_FORMAT = "gtzan-gpu/store"
STORE_VERSION = 1
INDEX_NAME = "store.json"
DEFAULT_SHARD_GB = 2.0
DEFAULT_SAMPLE_RATE = 22050
PR_SET_PDEATHSIG = 1  # linux/prctl.h


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


# ---- packing --------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Source:
    """A catalogue file to pack, with what its stat and header say."""

    file: AudioFile
    size: int
    mtime_ns: int
    estimate: int      # samples at the store rate, from the header
    content: str = ""  # blake2b of the file's bytes: a same-size edit with its mtime restored still differs

    @property
    def relative(self) -> str:
        return self.file.relative


def _catalogue_fields(file: AudioFile) -> dict:
    """What the catalogue says of a stored track (the rest of a StoredTrack comes from its samples and source)."""
    return {"track_id": file.track_id, "genre": file.genre, "artist": file.artist, "split": file.split}


def _probe(walk: LayoutWalk, target_rate: int) -> tuple[list[_Source], list[ExcludedFile], list[str]]:
    """Every audio file of the catalogue from headers only (cheap): (sources, exclusions, every file's relative
    path in scan order). Files that cannot be audio and duplicate ids are excluded with the scan's reasons
    (the same walk as ``scan``: :func:`gtzan_gpu.data.catalogue.catalogue_walk`)."""
    sources, excluded = [], list(walk.excluded)
    for file in walk.files:
        duplicate = walk.duplicate_of(file)
        if duplicate is not None:
            excluded.append(duplicate)
            continue
        stat = file.path.stat()
        if stat.st_size == 0:
            excluded.append(ExcludedFile(file.relative, "empty file"))
            continue
        try:
            with native_stderr_silenced():
                info = sf.info(str(file.path))
        except Exception as error:
            excluded.append(ExcludedFile(file.relative, f"not a readable audio file ({decode_failure_reason(error)})"))
            continue
        walk.keep(file)
        sources.append(_Source(file, stat.st_size, stat.st_mtime_ns,
                               resampled_length(max(info.frames, 0), info.samplerate, target_rate),
                               file_content_digest(file.path)))
    return sources, excluded, [file.relative for file in walk.files]


def _plan_shards(sources: list[_Source], shard_bytes: int) -> list[list[_Source]]:
    """Consecutive groups of tracks of at most ``shard_bytes`` (estimated) each; a longer track is a shard alone."""
    shards: list[list[_Source]] = [[]]
    size = 0
    for source in sources:
        if shards[-1] and size + 2 * source.estimate > shard_bytes:
            shards.append([])
            size = 0
        shards[-1].append(source)
        size += 2 * source.estimate
    return shards if shards[0] else []


def die_with_parent(parent_pid: int) -> None:
    """Worker initializer: ask the kernel to SIGKILL this worker when its parent dies, however it dies (a
    ``kill -9`` of ``pack`` runs no cleanup, and the workers, each holding a decoded track, would otherwise live on
    under init). Linux only (``prctl(PR_SET_PDEATHSIG)``); elsewhere a no-op."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(1)


def _decode_one(path: str, target_rate: int) -> tuple[dict | None, np.ndarray | None, str | None]:
    """Worker: (info, int16 samples, None) or (None, None, reason)."""
    try:
        info, mono = decode_validated(path, target_rate)
    except AudioDecodeError as error:
        return None, None, str(error)
    except OSError as error:
        return None, None, f"cannot read ({error.strerror})"
    return asdict(info), to_int16(mono).numpy(), None


def _labelled(stored: list[dict], shard: list[_Source]) -> list[dict]:
    """A shard's stored tracks with the id, label, artist and split the catalogue gives them now: a label table
    edited since the pack relabels the store without decoding anything again."""
    by_path = {source.relative: source.file for source in shard}
    return [dict(track, **_catalogue_fields(by_path[track["source"]])) for track in stored]


def file_content_digest(path: Path) -> str:
    """blake2b of a file's bytes (reading is far cheaper than decoding: a re-pack checks every source this way)."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sidecar_sources(shard: list[_Source]) -> list[list]:
    return [[s.relative, s.size, s.mtime_ns, s.content] for s in shard]


def _reusable(out: Path, number: int, shard: list[_Source], target_rate: int) -> dict | None:
    """The sidecar of shard ``number`` if the shard on disk was packed from exactly these source files."""
    try:
        sidecar = json.loads((out / shard_name(number)).with_suffix(".json").read_text())
        if sidecar["sources"] != _sidecar_sources(shard) or sidecar["sample_rate"] != target_rate:
            return None
        if _shard_samples(out / shard_name(number)) != sidecar["samples"]:
            return None
        return sidecar
    except (OSError, ValueError, KeyError):
        return None


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, as ``taskset`` or a container sets it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _store_owned(entry: Path) -> bool:
    """Whether ``entry`` is something ``pack`` writes: the lock, a temporary, a shard or a shard's sidecar."""
    name = entry.name
    if name in (LOCK_NAME, INDEX_NAME) or (name.startswith(".") and name.endswith(".tmp")):
        return True
    if not (name.startswith("shard-") and name.endswith((".npy", ".json"))):
        return False
    if name.endswith(".npy"):
        return True
    try:
        return "sources" in json.loads(entry.read_text())
    except (OSError, ValueError, TypeError):
        return False


def check_pack_target(data: "str | Path | CorpusSpec", out: str | Path, workers: int, shard_gb: float) -> LayoutWalk:
    """The catalogue to pack (its files, before decoding), after every check that needs no decoding; raises a
    one-line GtzanError.

    Called before ``out`` is locked (so a refused pack leaves nothing behind). ``out`` must be absent, empty, a
    store, or what a killed ``pack`` left (shards and sidecars without an index); any other folder is refused,
    never overwritten."""
    _check_pack_options(workers, shard_gb)
    spec = CorpusSpec.of(data)
    if is_store(spec.data):
        raise GtzanError(f"{spec.data} is already a store; pack its source folder instead")
    walk = catalogue_walk(spec)
    _check_out_folder(walk.root, Path(out))
    return walk


def _check_pack_options(workers: int, shard_gb: float) -> None:
    if workers < 1:
        raise GtzanError(f"--workers must be >= 1, got {workers}")
    if workers > usable_cpus():
        raise GtzanError(f"--workers {workers} is more than the {usable_cpus()} CPU(s) this process may use "
                         f"(each worker holds a decoded track)")
    if not 0 < shard_gb <= 1024:
        raise GtzanError(f"--shard-gb must be in (0, 1024], got {shard_gb}")


def _check_out_folder(root: Path, out: Path) -> None:
    """``out`` may hold a store of the corpus at ``root``: not inside it, not a file, nothing ``pack`` did not write."""
    if out.resolve() == root.resolve() or root.resolve() in out.resolve().parents:
        raise GtzanError(f"--out {out} is inside the corpus {root}; put the store elsewhere")
    if out.exists() and not out.is_dir():
        raise GtzanError(f"--out {out} is a file, not a folder")
    if not out.is_dir():
        return
    if (out / INDEX_NAME).is_file():
        try:
            index = json.loads((out / INDEX_NAME).read_text())
        except (OSError, ValueError):
            index = {}
        if not isinstance(index, dict) or index.get("format") != STORE_FORMAT:
            raise GtzanError(f"--out {out} holds a {INDEX_NAME} that is not a gtzan-gpu store index; "
                             f"choose an empty folder or an existing store")
    foreign = sorted(entry.name for entry in out.iterdir() if not _store_owned(entry))
    if foreign:
        raise GtzanError(f"--out {out} is not empty and is not a store (it holds {foreign[0]}"
                         f"{f' and {len(foreign) - 1} more' if len(foreign) > 1 else ''}); choose an empty "
                         f"folder or an existing store")


def pack_corpus(data: "str | Path | CorpusSpec", out: str | Path, workers: int = 1,
                shard_gb: float = DEFAULT_SHARD_GB, sample_rate: int = DEFAULT_SAMPLE_RATE,
                walk: LayoutWalk | None = None) -> dict:
    """Pack the corpus at ``data`` (a folder, or a CorpusSpec with a label table) into a store at ``out`` (see the
    module docstring). Returns what was done: ``{"tracks", "excluded", "shards", "packed", "reused", "changed"}``.
    Call it with ``out`` locked. ``walk``: the catalogue :func:`check_pack_target` returned for ``data`` before the
    lock was taken (not walked again: a label table can be large); the options and ``out`` are checked again."""
    if walk is None:
        walk = check_pack_target(data, out, workers, shard_gb)
    else:
        _check_pack_options(workers, shard_gb)
        _check_out_folder(walk.root, Path(out))
    root = walk.root
    out = Path(out)
    sources, excluded, file_order = _probe(walk, sample_rate)
    plan = _plan_shards(sources, int(shard_gb * 2 ** 30))
    tracks: list[dict] = []
    shard_samples: list[int] = []
    packed = reused = 0
    decode_excluded: list[ExcludedFile] = []
    context = multiprocessing.get_context("spawn")  # torch in forked children can deadlock
    pool = concurrent.futures.ProcessPoolExecutor(workers, mp_context=context, initializer=die_with_parent,
                                                  initargs=(os.getpid(),)) if workers > 1 else None
    try:
        for number, shard in enumerate(progress(plan, len(plan), f"packing {root}", "shard")):
            sidecar = _reusable(out, number, shard, sample_rate)
            if sidecar is None:
                sidecar = _pack_shard(out, number, shard, sample_rate, pool)
                packed += 1
            else:
                reused += 1
            shard_samples.append(sidecar["samples"])
            tracks += _labelled(sidecar["tracks"], shard)
            decode_excluded += [ExcludedFile(**e) for e in sidecar["excluded"]]
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    for stale in sorted(out.glob("shard-*.npy")):  # shards past the plan: the corpus shrank
        if int(stale.stem.split("-")[1]) >= len(plan):
            stale.unlink()
            stale.with_suffix(".json").unlink(missing_ok=True)
    position = {relative: i for i, relative in enumerate(file_order)}
    before = {id(e): i for i, e in enumerate(walk.excluded)}  # links, missing table files: as scan lists them first
    all_excluded = sorted(excluded + decode_excluded,  # then the files in scan order
                          key=lambda e: (0, before[id(e)]) if id(e) in before else (1, position[e.path]))
    kept_genres = {t["genre"] for t in tracks}
    genres = [g for g in walk.genres if g in kept_genres]  # the scan's order
    index = {"format": STORE_FORMAT, "version": STORE_VERSION, "sample_rate": sample_rate,
             "source_root": str(root.resolve()), "genres": genres, "shard_samples": shard_samples,
             "tracks": tracks, "excluded": [asdict(e) for e in all_excluded]}
    if walk.label_table:  # packed from a label table: the store keeps where its labels came from
        index.update(labels=walk.label_table, left_out=walk.left_out)
    text = json.dumps(index, indent=1) + "\n"
    changed = not (out / INDEX_NAME).is_file() or (out / INDEX_NAME).read_text() != text
    if changed:
        atomic_write_text(out / INDEX_NAME, text)
    return {"store": str(out), "tracks": len(tracks), "excluded": len(all_excluded), "shards": len(plan),
            "packed": packed, "reused": reused, "changed": changed}


def _pack_shard(out: Path, number: int, shard: list[_Source], sample_rate: int, pool) -> dict:
    """Decode the shard's tracks (in ``pool`` when given), write ``shard-N.npy`` then its sidecar, atomically."""
    paths = [str(s.file.path) for s in shard]
    results = pool.map(_decode_one, paths, [sample_rate] * len(paths)) if pool is not None else \
        (_decode_one(p, sample_rate) for p in paths)
    pieces, tracks, excluded = [], [], []
    offset = 0
    for source, (info, samples, reason) in zip(shard, results):
        if reason is not None:
            excluded.append({"path": source.relative, "reason": reason})
            continue
        pieces.append(samples)
        tracks.append(asdict(StoredTrack(
            **_catalogue_fields(source.file), shard=number, offset=offset, length=len(samples),
            crc32=zlib.crc32(samples.tobytes()), source=source.relative, size=source.size, mtime_ns=source.mtime_ns,
            source_rate=info["sample_rate"], channels=info["channels"], frames=info["frames"])))
        offset += len(samples)
    array = np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int16)
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out / shard_name(number))
    atomic_write_with(out / shard_name(number), lambda file: np.save(file, array, allow_pickle=False))
    sidecar = {"sources": _sidecar_sources(shard), "sample_rate": sample_rate, "samples": int(len(array)),
               "tracks": tracks, "excluded": excluded}
    atomic_write_text((out / shard_name(number)).with_suffix(".json"), json.dumps(sidecar) + "\n")
    return sidecar


register_corpus_source("store", open_store_corpus)
