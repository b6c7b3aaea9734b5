"""The Track table every later step starts from, and the registry of corpus sources that make it.

A folder-per-genre corpus (layouts: :mod:`gtzan_gpu.data.layout`) is scanned here: the genre is the folder name,
every file is decoded in full, and the ones that fail are excluded with a reason. Other kinds of DATA register a
source (:func:`register_corpus_source`): a packed store (:mod:`gtzan_gpu.data.store`) is one.
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from gtzan_gpu.data.audio import AudioDecodeError, validate_audio
from gtzan_gpu.data.layout import ExcludedFile, walk_layout
from gtzan_gpu.errors import GtzanError
from gtzan_gpu.progress import progress

__all__ = ["Corpus", "ExcludedFile", "Track", "format_summary", "register_corpus_source", "scan_corpus",
           "scan_folder", "summary_json"]


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


@dataclass
class Corpus:
    """The validated contents of a corpus folder."""

    root: Path
    genres: list[str]
    tracks: list[Track]
    excluded: list[ExcludedFile] = field(default_factory=list)
    store: Any = None  # the source's sample reader when samples come from elsewhere (a packed store's Store)

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


CorpusOpener = Callable[[Path], "Corpus | None"]  # DATA -> its Corpus, or None when DATA is not of that kind
_SOURCES: dict[str, CorpusOpener] = {}


def register_corpus_source(name: str, opener: CorpusOpener) -> None:
    """Teach :func:`scan_corpus` another kind of DATA (a packed store, a label table, ...): ``opener(DATA)``
    returns the Corpus when DATA is of its kind, else None. Sources are tried in registration order; a plain
    folder-per-genre corpus is the fallback."""
    if name in _SOURCES:
        raise GtzanError(f"corpus source {name!r} is already registered")
    _SOURCES[name] = opener


def scan_corpus(data: str | Path, on_file: Callable[[str], None] | None = None) -> Corpus:
    """The Corpus at ``data``: a registered source's (a STORE made by ``gtzan-gpu pack``: its index is read,
    nothing decoded), else a folder-per-genre corpus with every audio file decoded (:func:`scan_folder`)."""
    for opener in _SOURCES.values():
        corpus = opener(Path(data))
        if corpus is not None:
            return corpus
    return scan_folder(data, on_file)


def scan_folder(data: str | Path, on_file: Callable[[str], None] | None = None) -> Corpus:
    """Find the genre folders under ``data`` and decode every audio file in them (with a progress bar).

    Files that fail to decode, second files with an already-seen track id, and symbolic links that lead
    nowhere are listed in ``Corpus.excluded`` with the reason; nothing raises for a bad file.
    """
    walk = walk_layout(data)
    tracks: list[Track] = []
    excluded = list(walk.excluded)
    kept: Counter = Counter()
    for file in progress(walk.files, len(walk.files), f"scanning {walk.root}", "file"):
        if on_file is not None:
            on_file(file.relative)
        duplicate = walk.duplicate_of(file)
        if duplicate is not None:
            excluded.append(duplicate)
            continue
        try:
            info = validate_audio(file.path)
        except AudioDecodeError as error:
            excluded.append(ExcludedFile(file.relative, str(error)))
            continue
        except OSError as error:
            excluded.append(ExcludedFile(file.relative, f"cannot read ({error.strerror})"))
            continue
        walk.keep(file)
        tracks.append(Track(file.track_id, file.genre, file.relative, info.sample_rate, info.channels, info.frames))
        kept[file.genre] += 1
    genres = [genre for genre in walk.genres if kept[genre]]
    return Corpus(root=walk.root, genres=genres, tracks=tracks, excluded=excluded)


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
