"""A synthetic corpus in FMA's layout, so the FMA path (label table, subsets, artists, official split) runs offline.

Written under OUT::

    OUT/fma_small/NNN/NNNNNN.mp3       the small subset's audio (mono MP3, 22,050 Hz), as FMA ships it
    OUT/fma_metadata/tracks.csv        FMA's three header rows (group, field, ``track_id``) and one row per track

Like FMA: 8 top genres in the small subset (the synthetic styles under FMA's names, "Hip-Hop" included), several
tracks per artist, the split (training / validation / test) given per artist so no artist is on two sides (each
genre on every side once it has 3 artists), one empty mp3, and rows of the bigger subsets (medium: whose audio is
not in fma_small, some with a genre FMA-small lacks, "Old-Time / Historic"; large: without a top genre). Titles
hold commas and quotes, as FMA's do.
"""
from __future__ import annotations

import csv
import io
import zlib
from pathlib import Path

import numpy as np
import soundfile as sf

from gtzan_gpu.atomic import atomic_directory, atomic_write_bytes, atomic_write_text
from gtzan_gpu.data.synth import SAMPLE_RATE, STYLES, synthesize_track
from gtzan_gpu.errors import GtzanError

FMA_SMALL_GENRES = {  # FMA-small's 8 top genres, each drawn in one synthetic style
    "Electronic": "disco", "Experimental": "classical", "Folk": "country", "Hip-Hop": "hiphop",
    "Instrumental": "jazz", "International": "reggae", "Pop": "pop", "Rock": "metal"}
MEDIUM_ONLY_GENRE = "Old-Time / Historic"
TRACKS_PER_ARTIST = 2
SPLIT_OF_ARTIST = ("training", "test", "validation", "training")  # by the artist's place in its genre
COLUMNS = (("album", "id"), ("album", "title"), ("artist", "id"), ("artist", "name"), ("set", "split"),
           ("set", "subset"), ("track", "genre_top"), ("track", "genres"), ("track", "title"))


def fma_audio_relative(track_id: int) -> str:
    """FMA's audio path of a track, relative to the subset folder: ``NNN/NNNNNN.mp3``."""
    name = f"{track_id:06d}"
    return f"{name[:3]}/{name}.mp3"


def _mp3_bytes(y: np.ndarray, sr: int) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, y, sr, format="MP3")
    return buffer.getvalue()


def _small_rows(tracks_per_genre: int) -> list[dict]:
    rows, track_id, artist_id = [], 2, 1  # FMA's ids start at 2 and have gaps
    for genre in FMA_SMALL_GENRES:
        for number in range(tracks_per_genre):
            if number % TRACKS_PER_ARTIST == 0:
                artist_id += 1
                split = SPLIT_OF_ARTIST[(number // TRACKS_PER_ARTIST) % len(SPLIT_OF_ARTIST)]
            rows.append({"track_id": track_id, "artist": artist_id, "split": split, "subset": "small",
                         "genre": genre, "number": number})
            track_id += 1 + number % 3
    return rows


def _bigger_rows(first_id: int) -> list[dict]:
    """Rows of the medium and large subsets, listed in tracks.csv only (their audio is not in fma_small)."""
    rows = []
    genres = [*FMA_SMALL_GENRES, MEDIUM_ONLY_GENRE, MEDIUM_ONLY_GENRE]
    for offset, genre in enumerate(genres):
        rows.append({"track_id": first_id + offset, "artist": 900 + offset, "split": "training",
                     "subset": "medium", "genre": genre, "number": offset})
    for offset in range(3):
        rows.append({"track_id": first_id + 100 + offset, "artist": 950, "split": "test", "subset": "large",
                     "genre": "", "number": offset})
    return rows


def _tracks_csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([""] + [group for group, _ in COLUMNS])
    writer.writerow([""] + [field for _, field in COLUMNS])
    writer.writerow(["track_id"] + [""] * len(COLUMNS))
    for row in rows:
        title = f'Track {row["number"]}, "take {row["track_id"] % 3}"'
        writer.writerow([row["track_id"], row["artist"] * 10, f"Album of {row['artist']}", row["artist"],
                         f"Artist {row['artist']}, Jr.", row["split"], row["subset"], row["genre"],
                         f"[{zlib.crc32(row['genre'].encode()) % 1000}]", title])
    return buffer.getvalue()


def write_synthetic_fma(out: str | Path, tracks_per_genre: int = 8, seconds: float = 6.0, seed: int = 0,
                        sr: int = SAMPLE_RATE) -> dict:
    """Write ``out/fma_small`` (mp3s) and ``out/fma_metadata/tracks.csv`` (see the module docstring); the first
    genre's last track is an empty mp3. Returns the paths and what was written."""
    if tracks_per_genre < 2 or not 0 < seconds <= 600:
        raise GtzanError(f"--tracks-per-genre must be >= 2 and --seconds in (0, 600] for the FMA layout, got "
                         f"{tracks_per_genre} and {seconds}")
    out = Path(out)
    audio, metadata = out / "fma_small", out / "fma_metadata"
    for folder in (audio, metadata):
        if folder.exists():
            raise GtzanError(f"{folder} already exists; choose another folder or delete it first")
    small = _small_rows(tracks_per_genre)
    empty = small[tracks_per_genre - 1]["track_id"]
    with atomic_directory(audio) as building:
        for row in small:
            rng = np.random.default_rng([seed, zlib.crc32(row["genre"].encode()), row["number"]])
            y = synthesize_track(STYLES[FMA_SMALL_GENRES[row["genre"]]], seconds, rng, sr)
            data = b"" if row["track_id"] == empty else _mp3_bytes(y, sr)
            atomic_write_bytes(building / fma_audio_relative(row["track_id"]), data)
    rows = small + _bigger_rows(small[-1]["track_id"] + 10)
    metadata.mkdir(parents=True)
    atomic_write_text(metadata / "tracks.csv", _tracks_csv(rows))
    return {"audio": str(audio), "tracks_csv": str(metadata / "tracks.csv"), "small_tracks": len(small),
            "empty_track": f"{empty:06d}", "other_rows": len(rows) - len(small)}
