"""Shared fixtures: small synthetic corpora in the exact GTZAN layout, made once per test session."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from gtzan_gpu.data.synth import write_synthetic_corpus

TINY_TRACKS_PER_GENRE = 5
TINY_SECONDS = 6.0


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> Path:
    """10 genres x 5 tracks x 6 s (+ the corrupted jazz.00054.wav); the folder that holds genres_original/."""
    out = tmp_path_factory.mktemp("tiny_corpus")
    write_synthetic_corpus(out, tracks_per_genre=TINY_TRACKS_PER_GENRE, seconds=TINY_SECONDS, seed=0)
    return out


@pytest.fixture
def corpus_copy(tiny_corpus, tmp_path) -> Path:
    """A writable copy of the tiny corpus, for tests that damage files."""
    target = tmp_path / "corpus"
    shutil.copytree(tiny_corpus, target)
    return target


def write_tone(path: Path, seconds: float, sr: int, channels: int = 1, frequency: float = 440.0,
               subtype: str | None = None, fmt: str | None = None) -> np.ndarray:
    """Write a sine (one frequency per channel, offset by 110 Hz) and return the float data written."""
    t = np.arange(int(round(seconds * sr))) / sr
    data = np.stack([0.5 * np.sin(2 * np.pi * (frequency + 110 * c) * t) for c in range(channels)], axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), data.astype(np.float32), sr, subtype=subtype, format=fmt)
    return data
