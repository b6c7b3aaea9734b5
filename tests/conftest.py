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


@pytest.fixture(scope="session")
def fma_corpus(tmp_path_factory) -> Path:
    """A synthetic corpus in FMA's layout: OUT/fma_small/NNN/NNNNNN.mp3 (8 genres x 6 tracks of 4 s, 3 artists per
    genre, one empty mp3) and OUT/fma_metadata/tracks.csv (three header rows; rows of the medium and large subsets)."""
    from gtzan_gpu.data.synth_fma import write_synthetic_fma

    out = tmp_path_factory.mktemp("fma")
    write_synthetic_fma(out, tracks_per_genre=6, seconds=4.0, seed=0)
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


def small_train_config(data: Path, out: Path, **overrides):
    """A CNN run on 2-s segments of the tiny corpus that finishes in seconds on a CPU."""
    from gtzan_gpu.config import FeatureConfig, ModelConfig, TrainConfig

    values = dict(data=str(data), out=str(out), model=ModelConfig("cnn"), features=FeatureConfig(image_size=64),
                  segment_seconds=2.0, epochs=2, lr=1e-3, batch_size=16, seed=0, device="cpu", loader="device",
                  workers=0, patience=10, log_every=2)
    values.update(overrides)
    return TrainConfig(**values)


@pytest.fixture(scope="session")
def trained_run(tiny_corpus, tmp_path_factory) -> Path:
    """A finished 3-epoch CNN run on the tiny corpus (shared by evaluate/predict/TensorBoard tests)."""
    from gtzan_gpu.training import fit

    out = tmp_path_factory.mktemp("runs") / "cnn"
    fit(small_train_config(tiny_corpus, out, epochs=3))
    return out


def interrupt_after_saves(count: int):
    """A stand-in for the engine's save_checkpoint that saves, then raises KeyboardInterrupt once ``count``
    last.pt files were written: an interrupted run, checkpointed exactly as a real one."""
    from gtzan_gpu.training.checkpoint import save_checkpoint

    saves = []

    def save(path, payload):
        save_checkpoint(path, payload)
        saves.append(path.name)
        if saves.count("last.pt") == count:
            raise KeyboardInterrupt

    return save


def hide_package(monkeypatch, package: str) -> None:
    """Make ``import package`` (and its submodules) fail for the rest of the test, as where it is not installed."""
    import builtins

    real_import = builtins.__import__

    def without(name, *args, **kwargs):
        if name == package or name.startswith(package + "."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", without)
