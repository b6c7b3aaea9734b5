"""Packing a corpus into a store (``gtzan-gpu pack``): the catalogue probed from headers, shards planned, every
track decoded once in worker processes (which die with ``pack``, even on ``kill -9``), each shard and its sidecar
written atomically, the index last. An unchanged shard (the same sources, by content) is never packed again; a
killed pack resumes at the first missing shard. The format and its reader: :mod:`gtzan_gpu.data.store`.
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

import numpy as np
import soundfile as sf

from gtzan_gpu.atomic import atomic_write_text, atomic_write_with, remove_stale_temporaries
from gtzan_gpu.data.audio import (AudioDecodeError, decode_failure_reason, decode_validated, native_stderr_silenced,
                                  resampled_length, to_int16)
from gtzan_gpu.data.catalogue import CorpusSpec, catalogue_walk
from gtzan_gpu.data.corpus import Corpus, Track
from gtzan_gpu.data.layout import AudioFile, ExcludedFile, LayoutWalk
from gtzan_gpu.data.segments import TrackSource, track_sources
from gtzan_gpu.data.sources import recognised_source, scan_corpus
from gtzan_gpu.data.store import (DEFAULT_SAMPLE_RATE, DEFAULT_SHARD_GB, INDEX_NAME, STORE_FORMAT, STORE_VERSION,
                                  StoredTrack, _shard_samples, is_store, shard_name)
from gtzan_gpu.errors import GtzanError
from gtzan_gpu.locking import LOCK_NAME
from gtzan_gpu.progress import progress

log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1  # linux/prctl.h
LABEL_FIELDS = ("track_id", "genre", "artist", "split")  # what a catalogue file or a source's Track says of a track


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

    def fields(self) -> dict:
        """What the catalogue says of a stored track (the rest of a StoredTrack comes from its samples and source)."""
        return {name: getattr(self.file, name) for name in LABEL_FIELDS}

    def fingerprint(self) -> list:
        return [self.size, self.mtime_ns, self.content]


@dataclass(frozen=True)
class _SourceTrack:
    """A track of a corpus source (WebDataset shards, a Hugging Face dataset) to pack: decoded through its
    TrackSource in this process; it counts as unchanged while its place, length and recorded crc32 are."""

    track: Track
    source: TrackSource
    size: int = 0
    mtime_ns: int = 0

    @property
    def relative(self) -> str:
        return self.track.path

    @property
    def estimate(self) -> int:
        return self.source.samples

    def fields(self) -> dict:
        return {name: getattr(self.track, name) for name in LABEL_FIELDS}

    def fingerprint(self) -> list:
        return [self.track.frames, self.track.sample_rate, self.track.channels, getattr(self.source, "crc32", None)]

    def decode(self, sample_rate: int) -> tuple[dict | None, np.ndarray | None, str | None]:
        try:
            samples = self.source.read_int16(sample_rate).numpy()
        except GtzanError as error:
            return None, None, str(error)
        return {"sample_rate": self.track.sample_rate, "channels": self.track.channels,
                "frames": self.track.frames}, samples, None


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


def _probe_corpus(corpus: Corpus, target_rate: int) -> tuple[list[_SourceTrack], list[ExcludedFile], list[str]]:
    """:func:`_probe` of a corpus source's Corpus (already scanned: its tracks decode, its exclusions are known)."""
    ids = [track.track_id for track in corpus.tracks]
    sources = [_SourceTrack(track, source) for track, source in
               zip(corpus.tracks, track_sources(corpus, ids, target_rate, corpus.genres))]
    return sources, list(corpus.excluded), [track.path for track in corpus.tracks]


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
    by_path = {source.relative: source for source in shard}
    return [dict(track, **by_path[track["source"]].fields()) for track in stored]


def file_content_digest(path: Path) -> str:
    """blake2b of a file's bytes (reading is far cheaper than decoding: a re-pack checks every source this way)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, lambda: hashlib.blake2b(digest_size=16)).hexdigest()


def _sidecar_sources(shard: list[_Source]) -> list[list]:
    return [[s.relative, *s.fingerprint()] for s in shard]


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


def check_pack_target(data: "str | Path | CorpusSpec", out: str | Path, workers: int,
                      shard_gb: float) -> LayoutWalk | Corpus:
    """The catalogue to pack (its files, before decoding), or a corpus source's Corpus (shards, a dataset), after
    every check that needs no decoding; raises a one-line GtzanError.

    Called before ``out`` is locked (so a refused pack leaves nothing behind). ``out`` must be absent, empty, a
    store, or what a killed ``pack`` left (shards and sidecars without an index); any other folder is refused,
    never overwritten."""
    _check_pack_options(workers, shard_gb)
    spec = CorpusSpec.of(data)
    if is_store(spec.data):
        raise GtzanError(f"{spec.data} is already a store; pack its source folder instead")
    walk = scan_corpus(spec) if recognised_source(spec) is not None else catalogue_walk(spec)
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
                walk: LayoutWalk | Corpus | None = None) -> dict:
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
    probe = _probe_corpus if isinstance(walk, Corpus) else _probe
    sources, excluded, file_order = probe(walk, sample_rate)
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
    if shard and isinstance(shard[0], _SourceTrack):  # read through the source's reader, in this process
        results = (source.decode(sample_rate) for source in shard)
    else:
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
            **source.fields(), shard=number, offset=offset, length=len(samples),
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
