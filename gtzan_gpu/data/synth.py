"""A synthetic corpus in the exact Kaggle GTZAN layout, so everything runs offline and learning is checkable.

Each genre is a style: tempo range, pitch range, timbre (number and roll-off of harmonics), note envelope,
drums (kick and hi-hat level, on-beat or off-beat), background noise and distortion. Every track draws its
own tempo, notes, gain and noise from its style, so a spectrogram CNN has something real to learn, and a
chance-level model is easy to tell apart from one that learned. Also written: a deliberately corrupted
``jazz/jazz.00054.wav`` that is not a RIFF file, like the real Kaggle copy's.
"""
from __future__ import annotations

import io
import json
import logging
import shutil
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from gtzan_gpu.atomic import atomic_directory, atomic_write_bytes, atomic_write_text, remove_stale_temporaries
from gtzan_gpu.errors import GtzanError

log = logging.getLogger(__name__)

GTZAN_GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")
SAMPLE_RATE = 22050
CORRUPTED_TRACK = ("jazz", "jazz.00054.wav")
DESCRIPTOR = ".gtzan-gpu-synth.json"  # beside genres_original/, written once the corpus is in place


@dataclass(frozen=True)
class GenreStyle:
    tempo_bpm: tuple[float, float]
    pitch_hz: tuple[float, float]
    harmonics: int
    rolloff: float          # partial k has amplitude k ** -rolloff
    note_decay: float       # 1/s; small = sustained, large = plucked
    notes_per_beat: int
    kick: float
    hihat: float
    offbeat: bool           # accents between the beats (reggae skank)
    noise: float
    drive: float            # tanh distortion; 0 = clean


STYLES: dict[str, GenreStyle] = {
    "blues": GenreStyle((68, 88), (98, 330), 6, 1.2, 2.0, 1, 0.45, 0.10, False, 0.015, 1.5),
    "classical": GenreStyle((56, 76), (262, 1047), 3, 2.2, 0.4, 1, 0.0, 0.0, False, 0.003, 0.0),
    "country": GenreStyle((100, 120), (196, 587), 8, 1.0, 5.0, 2, 0.35, 0.20, False, 0.010, 0.0),
    "disco": GenreStyle((116, 130), (220, 659), 5, 1.0, 3.0, 2, 1.00, 0.60, False, 0.015, 0.0),
    "hiphop": GenreStyle((84, 98), (55, 165), 4, 1.6, 1.5, 1, 1.20, 0.30, False, 0.030, 0.6),
    "jazz": GenreStyle((124, 160), (147, 622), 4, 1.8, 1.0, 2, 0.10, 0.35, False, 0.020, 0.0),
    "metal": GenreStyle((150, 190), (82, 247), 12, 0.6, 1.0, 4, 0.90, 0.50, False, 0.080, 6.0),
    "pop": GenreStyle((100, 126), (330, 1175), 5, 1.3, 2.5, 2, 0.80, 0.40, False, 0.010, 0.3),
    "reggae": GenreStyle((64, 80), (110, 440), 6, 1.2, 6.0, 1, 0.60, 0.10, True, 0.015, 0.5),
    "rock": GenreStyle((110, 140), (110, 440), 10, 0.8, 1.5, 2, 0.90, 0.40, False, 0.050, 3.0),
}


DIFFICULTIES = ("easy", "hard")
HARD_BLEND = (0.05, 0.4)      # hard: each track's style is this far (uniform) towards another genre's


def blended_style(style: GenreStyle, other: GenreStyle, weight: float, rng: np.random.Generator) -> GenreStyle:
    """A track's own style for the hard corpus: ``weight`` of the way towards ``other`` (shared instruments,
    overlapping tempo and pitch), transposed to a random key, with its own drum and noise levels."""
    def mix(a: float, b: float) -> float:
        return (1 - weight) * a + weight * b

    transpose = 2.0 ** (rng.integers(-3, 4) / 12)
    low = np.exp(mix(np.log(style.pitch_hz[0]), np.log(other.pitch_hz[0]))) * transpose
    high = np.exp(mix(np.log(style.pitch_hz[1]), np.log(other.pitch_hz[1]))) * transpose
    return GenreStyle(
        tempo_bpm=(mix(style.tempo_bpm[0], other.tempo_bpm[0]) * 0.85, mix(style.tempo_bpm[1], other.tempo_bpm[1]) * 1.15),
        pitch_hz=(low, high), harmonics=int(round(mix(style.harmonics, other.harmonics))),
        rolloff=mix(style.rolloff, other.rolloff), note_decay=mix(style.note_decay, other.note_decay),
        notes_per_beat=style.notes_per_beat if rng.uniform() > weight else other.notes_per_beat,
        kick=mix(style.kick, other.kick) * rng.uniform(0.5, 1.5), hihat=mix(style.hihat, other.hihat) * rng.uniform(0.5, 1.5),
        offbeat=style.offbeat if rng.uniform() > weight else other.offbeat,
        noise=mix(style.noise, other.noise) * rng.uniform(0.5, 2.0), drive=mix(style.drive, other.drive))


def track_style(genre: str, difficulty: str, rng: np.random.Generator) -> GenreStyle:
    """The style one track is drawn from: its genre's (easy), or a blend with another genre's (hard)."""
    if difficulty == "easy":
        return STYLES[genre]
    others = [g for g in STYLES if g != genre]
    other = STYLES[others[rng.integers(len(others))]]
    return blended_style(STYLES[genre], other, rng.uniform(*HARD_BLEND), rng)


def synthesize_track(style: GenreStyle, seconds: float, rng: np.random.Generator, sr: int = SAMPLE_RATE) -> np.ndarray:
    """One track of ``style``: -> (seconds * sr,) float32 in [-1, 1]."""
    n = int(round(seconds * sr))
    t = np.arange(n) / sr
    beat = 60.0 / rng.uniform(*style.tempo_bpm)
    note_length = beat / style.notes_per_beat
    note_index = (t / note_length).astype(np.int64)
    low, high = np.log(style.pitch_hz[0]), np.log(style.pitch_hz[1])
    note_pitch = np.exp(rng.uniform(low, high, note_index[-1] + 1))
    phase = 2 * np.pi * np.cumsum(note_pitch[note_index]) / sr
    partials = np.arange(1, style.harmonics + 1)
    gains = partials ** -style.rolloff * rng.uniform(0.7, 1.3, style.harmonics)
    tone = (np.sin(np.outer(phase, partials)) * gains).sum(axis=1) / gains.sum()
    since_note = t - note_index * note_length
    tone *= np.exp(-style.note_decay * since_note)
    since_beat = np.mod(t + (beat / 2 if style.offbeat else 0.0), beat)
    kick = np.sin(2 * np.pi * (45 + 90 * np.exp(-25 * since_beat)) * since_beat) * np.exp(-9 * since_beat)
    since_half = np.mod(t + beat / 4, beat / 2)
    hihat = np.diff(rng.standard_normal(n + 1)) * 0.5 * np.exp(-45 * since_half)
    mix = tone + style.kick * kick + style.hihat * hihat + style.noise * rng.standard_normal(n)
    if style.drive > 0:
        mix = np.tanh(style.drive * mix) / np.tanh(style.drive)
    mix *= rng.uniform(0.3, 0.9) / max(1e-9, np.abs(mix).max())
    return mix.astype(np.float32)


def _wav_bytes(y: np.ndarray, sr: int) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, y, sr, subtype="PCM_16", format="WAV")
    return buffer.getvalue()


def synthetic_descriptor(tracks_per_genre: int, seconds: float, seed: int, genres: tuple[str, ...], sr: int,
                         difficulty: str = "easy") -> dict:
    """What a synthetic corpus was made with; stored beside it as ``.gtzan-gpu-synth.json``."""
    return {"format": "gtzan-gpu/synthetic-corpus", "tracks_per_genre": tracks_per_genre, "seconds": seconds,
            "seed": seed, "genres": list(genres), "sample_rate": sr, "difficulty": difficulty}


def write_synthetic_corpus(out: str | Path, tracks_per_genre: int = 10, seconds: float = 30.0, seed: int = 0,
                           genres: tuple[str, ...] = GTZAN_GENRES, sr: int = SAMPLE_RATE,
                           difficulty: str = "easy") -> Path:
    """Write ``out/genres_original/<genre>/<genre>.000NN.wav`` (16-bit PCM, mono) plus the corrupted jazz.00054.

    The folder is built under a temporary name and renamed into place when complete, so an interrupted write
    never leaves a partial corpus where a complete one is expected. ``out/genres_original`` must not exist.
    The same arguments give the same bytes. Returns the ``genres_original`` folder.
    """
    if difficulty not in DIFFICULTIES:
        raise GtzanError(f"unknown --difficulty {difficulty!r} (choose from {', '.join(DIFFICULTIES)})")
    if tracks_per_genre < 1 or not 0 < seconds <= 3600:
        raise GtzanError(f"--tracks-per-genre must be >= 1 and --seconds in (0, 3600], got {tracks_per_genre} "
                         f"and {seconds}")
    root = Path(out) / "genres_original"
    if root.exists():
        raise GtzanError(f"{root} already exists; choose another folder or delete it first")
    with atomic_directory(root) as building:
        for genre in genres:
            for number in range(tracks_per_genre):
                rng = np.random.default_rng([seed, zlib.crc32(genre.encode()), number])
                y = synthesize_track(track_style(genre, difficulty, rng), seconds, rng, sr)
                atomic_write_bytes(building / genre / f"{genre}.{number:05d}.wav", _wav_bytes(y, sr))
        if CORRUPTED_TRACK[0] in genres:
            size = 44 + 2 * int(round(seconds * sr))
            junk = np.random.default_rng([seed, 54]).integers(0, 256, size, dtype=np.uint8).tobytes()
            atomic_write_bytes(building / CORRUPTED_TRACK[0] / CORRUPTED_TRACK[1], junk)
    descriptor = synthetic_descriptor(tracks_per_genre, seconds, seed, genres, sr, difficulty)
    atomic_write_text(Path(out) / DESCRIPTOR, json.dumps(descriptor, indent=2) + "\n")
    return root


def ensure_synthetic_corpus(out: str | Path, tracks_per_genre: int, seconds: float, seed: int = 0,
                            difficulty: str = "easy") -> Path:
    """The synthetic corpus under ``out`` with these parameters: reused when ``out/genres_original`` holds exactly
    that one (complete, since it is only ever renamed into place), else (re)written. Call it while ``out`` is locked.
    Returns ``out`` (the folder to pass as DATA)."""
    out = Path(out)
    root = out / "genres_original"
    remove_stale_temporaries(root)
    wanted = synthetic_descriptor(tracks_per_genre, seconds, seed, GTZAN_GENRES, SAMPLE_RATE, difficulty)
    try:
        found = json.loads((out / DESCRIPTOR).read_text())
    except (OSError, ValueError):
        found = None
    if found == wanted:
        return out
    if root.exists():
        log.warning("%s is not the synthetic corpus asked for (or is incomplete): writing it again", root)
        shutil.rmtree(root)
    log.info("writing a synthetic corpus: 10 genres x %d tracks x %g s", tracks_per_genre, seconds)
    write_synthetic_corpus(out, tracks_per_genre, seconds, seed, difficulty=difficulty)
    return out
