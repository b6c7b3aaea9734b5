"""Finding and validating a folder-per-genre corpus: the Track table every later step starts from.

Accepted layouts (DATA is what the user passes):
    DATA/genres_original/<genre>/<genre>.000NN.wav     the Kaggle copy
    DATA/Data/genres_original/<genre>/...              the Kaggle zip, unpacked as is
    DATA/genres/<genre>/<genre>.000NN.au               the original tarball
    DATA/<genre>/<file>.{wav,au,flac,ogg,mp3,...}      any folder-per-label corpus
The genre is the folder name. Every file is decoded in full; the ones that fail are excluded with a reason.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from gtzan_gpu.data.audio import AUDIO_EXTENSIONS, AudioDecodeError, validate_audio
from gtzan_gpu.errors import GtzanError
from gtzan_gpu.progress import progress

LAYOUT_CANDIDATES = ("genres_original", "Data/genres_original", "genres", ".")
DANGLING_LINK = "symbolic link that leads nowhere (broken, or a loop)"


@dataclass(frozen=True)
class Track:
    """One usable audio file. ``track_id`` is the file name without extension (GTZAN: 'blues.00000')."""

    track_id: str
    genre: str
    path: str  # relative to Corpus.root, with '/' separators
    sample_rate: int
    channels: int
    frames: int

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate


@dataclass(frozen=True)
class ExcludedFile:
    path: str
    reason: str


@dataclass
class Corpus:
    """The validated contents of a corpus folder."""

    root: Path
    genres: list[str]
    tracks: list[Track]
    excluded: list[ExcludedFile] = field(default_factory=list)
    store: Any = None  # a gtzan_gpu.data.store.Store when the corpus is a packed store: samples come from there

    def absolute_path(self, track: Track) -> Path:
        return self.root / track.path

    def tracks_by_id(self) -> dict[str, Track]:
        return {track.track_id: track for track in self.tracks}

    def summary(self) -> dict:
        """A JSON-ready summary: per-genre counts and durations, rates, channels, exclusions."""
        per_genre = {
            genre: {
                "tracks": sum(1 for t in self.tracks if t.genre == genre),
                "seconds": round(sum(t.duration for t in self.tracks if t.genre == genre), 3),
            }
            for genre in self.genres
        }
        return {
            "root": str(self.root),
            "genres": self.genres,
            "tracks": len(self.tracks),
            "total_seconds": round(sum(t.duration for t in self.tracks), 3),
            "per_genre": per_genre,
            "sample_rates": {str(k): v for k, v in sorted(Counter(t.sample_rate for t in self.tracks).items())},
            "channels": {str(k): v for k, v in sorted(Counter(t.channels for t in self.tracks).items())},
            "excluded": [asdict(e) for e in self.excluded],
        }


def _audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)


def _dangling(folder: Path) -> list[Path]:
    """Symbolic links in ``folder`` that lead nowhere (broken, or a loop): neither a file nor a folder."""
    return sorted(p for p in folder.iterdir() if p.is_symlink() and not p.exists())


def _genre_folders(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith(".") and _audio_files(d))


def find_genre_root(data: str | Path) -> Path:
    """The folder whose sub-folders are the genres, for any accepted layout.

    Raises:
        GtzanError: DATA is missing or holds no genre folder with audio files.
    """
    data = Path(data)
    if not data.exists():
        raise GtzanError(f"corpus folder not found: {data}")
    if not data.is_dir():
        raise GtzanError(f"corpus path is not a folder: {data}")
    for candidate in LAYOUT_CANDIDATES:
        root = (data / candidate) if candidate != "." else data
        if _genre_folders(root):
            return root
    if any(data.glob("shard-*.npy")):
        raise GtzanError(f"{data} holds store shards but no store.json index (deleted, or a pack that never "
                         f"finished); run `gtzan-gpu pack SOURCE --out {data}` again to rebuild it")
    raise GtzanError(
        f"no genre folders with audio files in {data} (expected genres_original/<genre>/*.wav, "
        f"genres/<genre>/*.au or <genre>/<audio files>)"
    )


def scan_corpus(data: str | Path, on_file: Callable[[str], None] | None = None) -> Corpus:
    """Find the genre folders under ``data`` and decode every audio file in them (with a progress bar).
    ``data`` may also be a STORE made by ``gtzan-gpu pack``: its index is read, nothing is decoded.

    Files that fail to decode, second files with an already-seen track id, and symbolic links that lead
    nowhere are listed in ``Corpus.excluded`` with the reason; nothing raises for a bad file.
    """
    if (Path(data) / "store.json").is_file():  # a store made by `gtzan-gpu pack`: read its index, decode nothing
        from gtzan_gpu.data.store import Store

        return Store.open(data).corpus()
    root = find_genre_root(data)
    tracks: list[Track] = []
    excluded: list[ExcludedFile] = []
    seen: dict[str, str] = {}
    folders = _genre_folders(root)
    for folder in [root, *folders]:
        for link in _dangling(folder):
            excluded.append(ExcludedFile(link.relative_to(root).as_posix(), DANGLING_LINK))
    files = [(folder, file) for folder in folders for file in _audio_files(folder)]
    kept: Counter = Counter()
    for folder, file in progress(files, len(files), f"scanning {root}", "file"):
        relative = file.relative_to(root).as_posix()
        if on_file is not None:
            on_file(relative)
        track_id = file.stem
        if track_id in seen:
            excluded.append(ExcludedFile(relative, f"duplicate track id {track_id!r} (also {seen[track_id]})"))
            continue
        try:
            info = validate_audio(file)
        except AudioDecodeError as error:
            excluded.append(ExcludedFile(relative, str(error)))
            continue
        except OSError as error:
            excluded.append(ExcludedFile(relative, f"cannot read ({error.strerror})"))
            continue
        seen[track_id] = relative
        tracks.append(Track(track_id, folder.name, relative, info.sample_rate, info.channels, info.frames))
        kept[folder.name] += 1
    genres = [folder.name for folder in folders if kept[folder.name]]
    return Corpus(root=root, genres=genres, tracks=tracks, excluded=excluded)


def format_summary(summary: dict) -> str:
    """Human-readable scan report."""
    lines = [f"corpus: {summary['root']}", f"{'genre':<12}{'tracks':>8}{'minutes':>10}"]
    for genre, row in summary["per_genre"].items():
        lines.append(f"{genre:<12}{row['tracks']:>8}{row['seconds'] / 60:>10.1f}")
    lines.append(f"{'total':<12}{summary['tracks']:>8}{summary['total_seconds'] / 60:>10.1f}")
    lines.append("sample rates: " + ", ".join(f"{rate} Hz x {n}" for rate, n in summary["sample_rates"].items()))
    lines.append("channels: " + ", ".join(f"{ch} x {n}" for ch, n in summary["channels"].items()))
    lines.append(f"excluded: {len(summary['excluded'])}")
    for entry in summary["excluded"]:
        lines.append(f"  {entry['path']}: {entry['reason']}")
    return "\n".join(lines)


def summary_json(summary: dict) -> str:
    return json.dumps(summary, indent=2, sort_keys=False)
