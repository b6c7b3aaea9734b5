"""The Track table every later step starts from, and the scan of a catalogue that makes it.

A catalogue (a folder per genre, :mod:`gtzan_gpu.data.layout`, or a label table, :mod:`gtzan_gpu.data.label_table`)
is scanned here: every file is decoded in full, and the ones that fail are excluded with a reason. Other kinds of
DATA (a packed store, shards, ...) are corpus sources (:mod:`gtzan_gpu.data.sources`, whose ``scan_corpus`` tries
them first).
A track's ``genre`` is its label, whatever the corpus calls it (FMA's top genre, a catalogue's class).
"""
from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from gtzan_gpu.data.audio import AudioDecodeError, validate_audio
from gtzan_gpu.data.catalogue import CorpusSpec, catalogue_walk
from gtzan_gpu.data.layout import ExcludedFile, LayoutWalk
from gtzan_gpu.errors import GtzanError
from gtzan_gpu.names import check_registry_name
from gtzan_gpu.progress import progress

__all__ = ["Corpus", "CorpusSource", "CorpusSpec", "ExcludedFile", "Track", "format_summary", "report_exclusions",
           "scan_folder", "summary_json"]


@dataclass(frozen=True)
class Track:
    """One usable audio file. ``track_id`` is the file name without extension (GTZAN: 'blues.00000'; a label table
    may name it); ``artist`` and ``split`` are known when a label table gives them."""

    track_id: str
    genre: str
    path: str  # relative to Corpus.root, with '/' separators
    sample_rate: int
    channels: int
    frames: int
    artist: str | None = None
    split: str | None = None  # the catalogue's own train / val / test (``split --scheme given``)

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
    left_out: dict[str, int] = field(default_factory=dict)  # table rows left out by rule: reason -> count
    label_table: dict = field(default_factory=dict)  # the label table read (path, format, FMA subset), if any

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
        summary = {
            "root": str(self.root),
            "genres": self.genres,
            "tracks": len(self.tracks),
            "total_seconds": round(sum(t.duration for t in self.tracks), 3),
            "per_genre": per_genre,
            "sample_rates": {str(k): v for k, v in sorted(Counter(t.sample_rate for t in self.tracks).items())},
            "channels": {str(k): v for k, v in sorted(Counter(t.channels for t in self.tracks).items())},
            "excluded": [asdict(e) for e in self.excluded],
        }
        if self.label_table:  # a label table's corpus: where the labels came from, artists, the given split
            summary["labels"] = dict(self.label_table)
            summary["left_out"] = dict(self.left_out)
            summary["artists"] = len({t.artist for t in self.tracks if t.artist is not None})
            summary["given_split"] = {name: sum(1 for t in self.tracks if t.split == name)
                                      for name in ("train", "val", "test")}
        return summary


CorpusOpener = Callable[[CorpusSpec], "Corpus | None"]  # DATA -> its Corpus, or None when not of that kind


@dataclass(frozen=True)
class CorpusSource:
    """One kind of DATA: ``opener(spec)`` returns its Corpus, or None when ``spec.data`` is not of this kind;
    ``recognises(path)``, when given, says so from the path alone without opening anything (cheap)."""

    name: str
    description: str
    opener: CorpusOpener
    recognises: Callable[[Path], bool] | None = None

    def __post_init__(self):
        check_registry_name(self.name, "corpus source")
        if not callable(self.opener):
            raise GtzanError(f"corpus source {self.name!r}: opener is not callable")


def report_exclusions(corpus: Corpus, logger: logging.Logger) -> None:
    """One warning line per file (or sample, or row) the scan excluded, with the reason."""
    for entry in corpus.excluded:
        logger.warning("excluded %s: %s", entry.path, entry.reason)


def scan_folder(data: "str | Path | CorpusSpec", on_file: Callable[[str], None] | None = None) -> Corpus:
    """Decode every audio file of the catalogue at ``data`` (genre folders, or a label table's rows), with a
    progress bar.

    Files that fail to decode, second files with an already-seen track id, symbolic links that lead nowhere and
    table rows without a file are listed in ``Corpus.excluded`` with the reason; nothing raises for a bad file.
    """
    return scan_walk(catalogue_walk(CorpusSpec.of(data)), on_file)


def scan_walk(walk: LayoutWalk, on_file: Callable[[str], None] | None = None) -> Corpus:
    """Decode the files of ``walk``: the Corpus of those that decode, the rest excluded with the reason."""
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
        tracks.append(Track(file.track_id, file.genre, file.relative, info.sample_rate, info.channels, info.frames,
                            file.artist, file.split))
        kept[file.genre] += 1
    genres = [genre for genre in walk.genres if kept[genre]]
    return Corpus(root=walk.root, genres=genres, tracks=tracks, excluded=excluded, left_out=dict(walk.left_out),
                  label_table=dict(walk.label_table))


def format_summary(summary: dict) -> str:
    """Human-readable scan report."""
    width = max([12] + [len(genre) + 2 for genre in summary["per_genre"]])
    lines = [f"corpus: {summary['root']}"]
    if "labels" in summary:
        source = summary["labels"]
        lines.append(f"labels: {source['labels']} ({source['format']}"
                     + (f", subset {source['fma_subset']})" if source.get("fma_subset") else ")"))
    lines.append(f"{'genre':<{width}}{'tracks':>8}{'minutes':>10}")
    for genre, row in summary["per_genre"].items():
        lines.append(f"{genre:<{width}}{row['tracks']:>8}{row['seconds'] / 60:>10.1f}")
    lines.append(f"{'total':<{width}}{summary['tracks']:>8}{summary['total_seconds'] / 60:>10.1f}")
    lines.append(f"genres: {len(summary['genres'])}")
    if "labels" in summary:
        given = summary["given_split"]
        lines.append(f"artists: {summary['artists'] or 'not given'}; given split: " +
                     (", ".join(f"{name} {n}" for name, n in given.items()) if any(given.values()) else "none"))
        for reason, count in summary["left_out"].items():
            lines.append(f"left out: {count} {reason}")
    lines.append("sample rates: " + ", ".join(f"{rate} Hz x {n}" for rate, n in summary["sample_rates"].items()))
    lines.append("channels: " + ", ".join(f"{ch} x {n}" for ch, n in summary["channels"].items()))
    lines.append(f"excluded: {len(summary['excluded'])}")
    for entry in summary["excluded"]:
        lines.append(f"  {entry['path']}: {entry['reason']}")
    return "\n".join(lines)


def summary_json(summary: dict) -> str:
    return json.dumps(summary, indent=2, sort_keys=False)
