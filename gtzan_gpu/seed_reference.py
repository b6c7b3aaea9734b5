"""The seed's render-to-PNG pipeline, reproduced exactly as shared/seed/NOTES.md describes it.

Used only as a yardstick: by the fidelity tests (our GPU layers must agree with it) and by the
benchmarks (it is the baseline we must beat). It needs the ``dev`` or ``bench`` extras
(librosa, matplotlib, Pillow) and is never imported by the training or inference path.
"""
from __future__ import annotations

import io

import numpy as np

SEED_SAMPLE_RATE = 22050
SPECTROGRAM_FIGSIZE_DPI = (4.0, 100)   # 4 x 4 in at 100 dpi -> 400 x 400 px
WAVEFORM_FIGSIZE_DPI = (4.0, 150)      # 4 x 4 in at 150 dpi -> 600 x 600 px
MODEL_IMAGE_SIZE = 128


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def render_spectrogram_png(y: np.ndarray, sr: int = SEED_SAMPLE_RATE) -> bytes:
    """librosa STFT -> dB (ref=max) -> specshow(y_axis='log', magma) -> 400 x 400 PNG bytes."""
    import librosa
    import librosa.display

    plt = _pyplot()
    stft = librosa.stft(y)
    db = librosa.amplitude_to_db(np.abs(stft), ref=np.max)
    size, dpi = SPECTROGRAM_FIGSIZE_DPI
    fig = plt.figure(figsize=(size, size), dpi=dpi)
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    librosa.display.specshow(db, sr=sr, y_axis="log", cmap="magma", ax=ax)
    ax.axis("off")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return buffer.getvalue()


def render_waveform_png(y: np.ndarray, sr: int = SEED_SAMPLE_RATE) -> bytes:
    """Peak-normalise -> waveshow(#1f77b4, linewidth 0.7) on white -> 600 x 600 PNG bytes."""
    import librosa.display

    plt = _pyplot()
    y = y / (np.max(np.abs(y)) + 1e-9)
    size, dpi = WAVEFORM_FIGSIZE_DPI
    fig = plt.figure(figsize=(size, size), dpi=dpi, facecolor="white")
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    librosa.display.waveshow(y, sr=sr, color="#1f77b4", linewidth=0.7, ax=ax)
    ax.axis("off")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, facecolor="white")
    plt.close(fig)
    return buffer.getvalue()


def load_model_image(png: bytes, size: int = MODEL_IMAGE_SIZE) -> np.ndarray:
    """The seed's loader: PIL open -> RGB -> bilinear resize -> float RGB in [0, 1], shape (3, size, size)."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB").resize((size, size), Image.BILINEAR)
    return np.asarray(image, dtype=np.float32).transpose(2, 0, 1) / 255.0


def seed_spectrogram_image(y: np.ndarray, sr: int = SEED_SAMPLE_RATE, size: int = MODEL_IMAGE_SIZE) -> np.ndarray:
    """(T,) -> (3, size, size): what the seed's spectrogram models saw, before ImageNet normalisation."""
    return load_model_image(render_spectrogram_png(y, sr), size)


def seed_waveform_image(y: np.ndarray, sr: int = SEED_SAMPLE_RATE, size: int = MODEL_IMAGE_SIZE) -> np.ndarray:
    """(T,) -> (3, size, size): what the seed's fusion model saw as its waveform view."""
    return load_model_image(render_waveform_png(y, sr), size)


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two images' pixel values (all channels)."""
    a = a.astype(np.float64).ravel() - a.mean()
    b = b.astype(np.float64).ravel() - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def fidelity_signals(seconds: float = 5.0, sr: int = SEED_SAMPLE_RATE, seed: int = 0) -> dict[str, np.ndarray]:
    """Real-looking test signals: synthetic-corpus tracks of five genres, a chirp, noise, silence, clipping."""
    from gtzan_gpu.data.synth import STYLES, synthesize_track

    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * sr))) / sr
    signals = {f"synthetic-{g}": synthesize_track(STYLES[g], seconds, rng, sr)
               for g in ("blues", "classical", "hiphop", "metal", "reggae")}
    signals["chirp-50-5000Hz"] = 0.5 * np.sin(2 * np.pi * (50 * t + (5000 - 50) / (2 * seconds) * t ** 2))
    signals["white-noise"] = 0.1 * rng.standard_normal(t.size)
    signals["silence"] = np.zeros(t.size)
    signals["clipped-sine"] = np.clip(3 * np.sin(2 * np.pi * 220 * t), -1, 1)
    return {name: y.astype(np.float32) for name, y in signals.items()}


def measure_fidelity(seconds: float = 5.0) -> list[dict]:
    """Per signal: Pearson r and mean |difference| of our layers' images vs the seed's rendered PNGs."""
    import torch

    from gtzan_gpu.features import SpectrogramImage, WaveformImage

    layers = {"spectrogram": (SpectrogramImage(normalize=False), seed_spectrogram_image),
              "waveform": (WaveformImage(normalize=False), seed_waveform_image)}
    rows = []
    for name, y in fidelity_signals(seconds).items():
        row = {"signal": name, "seconds": seconds}
        for view, (layer, reference) in layers.items():
            with torch.no_grad():
                ours = layer(torch.from_numpy(y)[None])[0].numpy()
            seed = reference(y)
            row[f"{view}_pearson"] = round(pearson(ours, seed), 4)
            row[f"{view}_mean_abs_diff"] = round(float(np.abs(ours - seed).mean()), 4)
        rows.append(row)
    return rows
