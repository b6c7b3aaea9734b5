import numpy as np
import soundfile as sf

from gtzan_gpu.data.synth import GTZAN_GENRES, write_synthetic_corpus


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


def test_genres_are_separable_by_their_spectra(tiny_corpus):
    """Nearest centroid on log-spaced band energies (mean and spread over frames, gain-normalised),
    centroids from tracks 0-2, scored on tracks 3-4: far above chance, so a CNN has something to learn."""
    root = tiny_corpus / "genres_original"
    edges = np.unique(np.geomspace(1, 1025, 25).astype(int))

    def features(path):
        y, _ = sf.read(str(path))
        frames = y[: len(y) // 2048 * 2048].reshape(-1, 2048)
        power = np.abs(np.fft.rfft(frames * np.hanning(2048), axis=1)) ** 2
        bands = np.log(np.stack([power[:, a:b].mean(1) for a, b in zip(edges[:-1], edges[1:])], axis=1) + 1e-9)
        bands -= bands.mean(axis=1, keepdims=True)
        return np.concatenate([bands.mean(axis=0), bands.std(axis=0)])

    centroids = np.stack([np.mean([features(root / g / f"{g}.{i:05d}.wav") for i in range(3)], axis=0)
                          for g in GTZAN_GENRES])
    correct = 0
    for label, genre in enumerate(GTZAN_GENRES):
        for i in (3, 4):
            distances = np.linalg.norm(centroids - features(root / genre / f"{genre}.{i:05d}.wav"), axis=1)
            correct += int(np.argmin(distances) == label)
    assert correct / 20 >= 0.8  # chance is 0.1
