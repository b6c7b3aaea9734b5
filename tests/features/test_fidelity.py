"""Our GPU layers against the seed's own pipeline (librosa + matplotlib -> PNG -> PIL 128 x 128).

Measured on this code (benchmarks/results/fidelity.md has the table): spectrogram r 0.979-0.998,
waveform r 0.943-0.997 over the signals below; the test bars are the issue's 0.95 and 0.90.
"""
import numpy as np
import pytest
import torch

pytest.importorskip("librosa")
pytest.importorskip("matplotlib")

from gtzan_gpu import seed_reference  # noqa: E402
from gtzan_gpu.features import MagnitudeSTFT, SpectrogramImage, WaveformImage  # noqa: E402

SIGNALS = seed_reference.fidelity_signals(5.0)


@pytest.fixture(scope="module")
def layers():
    return SpectrogramImage(normalize=False), WaveformImage(normalize=False)


def ours(layer, y):
    with torch.no_grad():
        return layer(torch.from_numpy(y)[None])[0].numpy()


@pytest.mark.parametrize("name", sorted(SIGNALS))
def test_spectrogram_image_matches_the_seed_render(layers, name, record_property):
    r = seed_reference.pearson(ours(layers[0], SIGNALS[name]), seed_reference.seed_spectrogram_image(SIGNALS[name]))
    record_property("pearson", r)
    assert r >= 0.95, f"{name}: r = {r:.4f}"


@pytest.mark.parametrize("name", sorted(set(SIGNALS) - {"silence"}))
def test_waveform_image_matches_the_seed_render(layers, name, record_property):
    r = seed_reference.pearson(ours(layers[1], SIGNALS[name]), seed_reference.seed_waveform_image(SIGNALS[name]))
    record_property("pearson", r)
    assert r >= 0.90, f"{name}: r = {r:.4f}"


def test_silent_waveform_is_the_seeds_centre_line(layers):
    """Pearson is undefined for a near-blank image; compare pixels instead."""
    image = ours(layers[1], SIGNALS["silence"])
    seed = seed_reference.seed_waveform_image(SIGNALS["silence"])
    assert np.isfinite(image).all()
    assert np.abs(image - seed).mean() < 0.002
    drawn_rows = np.where((image[0] < 0.99).any(axis=1))[0]
    assert set(drawn_rows) <= {62, 63, 64, 65} and len(drawn_rows) > 0


def test_the_symmetric_envelope_is_closer_to_waveshow_than_min_max(layers):
    """librosa's waveshow fills +-max|y| per column; a min/max band is a worse match on asymmetric music."""
    minmax = WaveformImage(normalize=False, envelope="minmax")
    y = SIGNALS["synthetic-reggae"]
    seed = seed_reference.seed_waveform_image(y)
    assert seed_reference.pearson(ours(layers[1], y), seed) > seed_reference.pearson(ours(minmax, y), seed)


@pytest.mark.parametrize("backend", ["nnaudio", "torch"])
def test_stft_magnitude_matches_librosa(backend):
    """rtol 1e-3 wherever the magnitude is above -100 dB re its maximum (below that, fp32 round-off rules)."""
    import librosa

    y = SIGNALS["synthetic-blues"]
    reference = np.abs(librosa.stft(y))
    with torch.no_grad():
        magnitude = MagnitudeSTFT(backend=backend)(torch.from_numpy(y)[None])[0].numpy()
    assert magnitude.shape == reference.shape == (1025, 216)
    np.testing.assert_allclose(magnitude, reference, rtol=1e-3, atol=1e-5 * reference.max())


def test_the_db_image_matches_librosa_amplitude_to_db():
    import librosa

    y = SIGNALS["white-noise"]
    reference = librosa.amplitude_to_db(np.abs(librosa.stft(y)), ref=np.max)
    with torch.no_grad():
        db = SpectrogramImage().decibels(torch.from_numpy(y)[None])[0].numpy()
    np.testing.assert_allclose(db, reference, atol=0.01)
