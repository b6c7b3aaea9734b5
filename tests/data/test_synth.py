import json

import numpy as np
import pytest
import soundfile as sf

from gtzan_gpu.data.synth import GTZAN_GENRES, write_synthetic_corpus
from gtzan_gpu.errors import GtzanError


def test_exact_kaggle_layout_and_format(tiny_corpus):
    root = tiny_corpus / "genres_original"
    assert sorted(p.name for p in root.iterdir()) == list(GTZAN_GENRES)
    assert sorted(p.name for p in (root / "jazz").iterdir())[-1] == "jazz.00054.wav"
    info = sf.info(str(root / "blues" / "blues.00000.wav"))
    assert (info.samplerate, info.channels, info.subtype, info.format) == (22050, 1, "PCM_16", "WAV")


def test_the_corrupted_jazz_file_is_not_riff(tiny_corpus):
    data = (tiny_corpus / "genres_original" / "jazz" / "jazz.00054.wav").read_bytes()
    assert len(data) > 1000 and data[:4] != b"RIFF"


def test_the_same_seed_writes_the_same_bytes(tmp_path):
    a = write_synthetic_corpus(tmp_path / "a", tracks_per_genre=1, seconds=1.0, seed=3)
    b = write_synthetic_corpus(tmp_path / "b", tracks_per_genre=1, seconds=1.0, seed=3)
    c = write_synthetic_corpus(tmp_path / "c", tracks_per_genre=1, seconds=1.0, seed=4)
    path = "rock/rock.00000.wav"
    assert (a / path).read_bytes() == (b / path).read_bytes() != (c / path).read_bytes()


def nearest_centroid_accuracy(root, train=(0, 1, 2), test=(3, 4)) -> float:
    """Nearest centroid on log-spaced band energies (mean and spread over frames, gain-normalised), centroids
    from the ``train`` tracks of each genre, scored on the ``test`` tracks."""
    edges = np.unique(np.geomspace(1, 1025, 25).astype(int))

    def features(path):
        y, _ = sf.read(str(path))
        frames = y[: len(y) // 2048 * 2048].reshape(-1, 2048)
        power = np.abs(np.fft.rfft(frames * np.hanning(2048), axis=1)) ** 2
        bands = np.log(np.stack([power[:, a:b].mean(1) for a, b in zip(edges[:-1], edges[1:])], axis=1) + 1e-9)
        bands -= bands.mean(axis=1, keepdims=True)
        return np.concatenate([bands.mean(axis=0), bands.std(axis=0)])

    centroids = np.stack([np.mean([features(root / g / f"{g}.{i:05d}.wav") for i in train], axis=0)
                          for g in GTZAN_GENRES])
    correct = 0
    for label, genre in enumerate(GTZAN_GENRES):
        for i in test:
            distances = np.linalg.norm(centroids - features(root / genre / f"{genre}.{i:05d}.wav"), axis=1)
            correct += int(np.argmin(distances) == label)
    return correct / (len(test) * len(GTZAN_GENRES))


def test_genres_are_separable_by_their_spectra(tiny_corpus):
    """Far above chance (0.1), so a CNN has something to learn."""
    assert nearest_centroid_accuracy(tiny_corpus / "genres_original") >= 0.8


def test_the_hard_corpus_overlaps_its_genres_but_stays_learnable(tmp_path):
    easy = write_synthetic_corpus(tmp_path / "easy", tracks_per_genre=8, seconds=4.0, seed=1)
    hard = write_synthetic_corpus(tmp_path / "hard", tracks_per_genre=8, seconds=4.0, seed=1, difficulty="hard")
    train, test = tuple(range(5)), (5, 6, 7)
    easy_accuracy = nearest_centroid_accuracy(easy, train, test)
    hard_accuracy = nearest_centroid_accuracy(hard, train, test)
    assert 0.2 <= hard_accuracy < easy_accuracy - 0.1, (hard_accuracy, easy_accuracy)
    again = write_synthetic_corpus(tmp_path / "again", tracks_per_genre=8, seconds=4.0, seed=1, difficulty="hard")
    assert (again / "pop" / "pop.00003.wav").read_bytes() == (hard / "pop" / "pop.00003.wav").read_bytes()
    assert json.loads((tmp_path / "hard" / ".gtzan-gpu-synth.json").read_text())["difficulty"] == "hard"
    with pytest.raises(GtzanError, match="unknown --difficulty 'medium'"):
        write_synthetic_corpus(tmp_path / "x", 1, 1.0, difficulty="medium")


def test_an_interrupted_corpus_write_leaves_no_partial_corpus_and_is_redone(tmp_path, monkeypatch):
    import gtzan_gpu.data.synth as synth
    from gtzan_gpu.data.sources import scan_corpus

    real = synth.synthesize_track
    written = []

    def killed_after_three_genres(style, seconds, rng, sr=synth.SAMPLE_RATE):
        if len(written) == 3 * 2:
            raise KeyboardInterrupt
        written.append(style)
        return real(style, seconds, rng, sr)

    monkeypatch.setattr(synth, "synthesize_track", killed_after_three_genres)
    with pytest.raises(KeyboardInterrupt):
        synth.ensure_synthetic_corpus(tmp_path / "c", tracks_per_genre=2, seconds=1.0)
    assert not (tmp_path / "c" / "genres_original").exists()
    monkeypatch.setattr(synth, "synthesize_track", real)
    synth.ensure_synthetic_corpus(tmp_path / "c", tracks_per_genre=2, seconds=1.0)
    assert len(scan_corpus(tmp_path / "c").genres) == 10
    assert not list((tmp_path / "c").glob(".genres_original.*"))


def test_a_partial_corpus_left_by_an_older_version_is_rebuilt_not_reused(tmp_path):
    from gtzan_gpu.data.sources import scan_corpus
    from gtzan_gpu.data.synth import ensure_synthetic_corpus

    root = write_synthetic_corpus(tmp_path / "c", tracks_per_genre=1, seconds=1.0, genres=("rock", "jazz", "pop"))
    (tmp_path / "c" / ".gtzan-gpu-synth.json").unlink()  # as the pre-atomic writer left it
    assert len(scan_corpus(tmp_path / "c").genres) == 3
    ensure_synthetic_corpus(tmp_path / "c", tracks_per_genre=1, seconds=1.0)
    assert len(scan_corpus(tmp_path / "c").genres) == 10 and root.is_dir()
    before = (root / "rock" / "rock.00000.wav").stat().st_mtime_ns
    ensure_synthetic_corpus(tmp_path / "c", tracks_per_genre=1, seconds=1.0)  # the same one: reused as is
    assert (root / "rock" / "rock.00000.wav").stat().st_mtime_ns == before
