"""Feature-extraction throughput: our GPU layers per batch size, against the seed's render-to-PNG pipeline."""
from __future__ import annotations

import dataclasses
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gtzan_gpu.bench.timing import PeakMemory, time_call
from gtzan_gpu.augment import Gain, Noise, SpecAugment
from gtzan_gpu.features import SpectrogramImage
from gtzan_gpu.features.config import FeatureConfig
from gtzan_gpu.features.registry import FrontendSpec, frontend_names, get_frontend
from gtzan_gpu.features.stft import STFT_BACKENDS, MagnitudeSTFT

STFT_FLOOR = "STFT floor: torch.stft power, peak only"
TORCHAUDIO_SPECTROGRAM = "torchaudio Spectrogram (magnitude only)"


class STFTPowerPeak(torch.nn.Module):
    """``(B, T)`` -> ``(B,)``: each example's peak STFT power, from the torch-backend STFT that the spectrogram image
    and log-mel use. A reference, not a front end: the least any front end on that STFT computes (the framing, the
    ``rfft`` and one pass over its output), so the roofline shows how much of a front end's time is the FFT
    library's and how much is its own passes after the FFT."""

    def __init__(self, n_fft: int = 2048, hop_length: int = 512):
        super().__init__()
        self.stft = MagnitudeSTFT(n_fft, hop_length, backend="torch")

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.stft.power_frames(waveform).amax(dim=(1, 2))


BACKEND_LABELS = {"nnaudio": "nnAudio", "torch": "torch.stft"}  # how a row names its STFT backend


@dataclass(frozen=True)
class FrontendRow:
    """One front-end row of ``bench`` and the roofline: a registry entry with the feature options it is timed at,
    named for both (``logmel (torch.stft)``, ``spectrogram (torch.stft, bf16 image)``, ``cqt``)."""

    name: str
    spec: FrontendSpec
    features: FeatureConfig

    def build(self, sample_rate: int) -> torch.nn.Module:
        return self.spec.build(self.features, sample_rate, None)


def frontend_rows() -> list[FrontendRow]:
    """Every registered front end (the waveform view and plugins' included), at each STFT backend where it has an
    STFT, and its declared variants: derived from the registry, so a new entry gets its rows with no other edit."""
    rows = []
    for name in frontend_names(selectable_only=False):
        spec = get_frontend(name)
        base = FeatureConfig(frontend=name if spec.selectable else "image")
        variants = [(BACKEND_LABELS[backend], {"stft_backend": backend}) for backend in STFT_BACKENDS] \
            if spec.stft else [("", {})]
        for label, overrides in (*variants, *spec.bench_variants):
            rows.append(FrontendRow(f"{spec.display_name} ({label})" if label else spec.display_name, spec,
                                    dataclasses.replace(base, **overrides)))
    return rows


def feature_methods(sample_rate: int) -> dict[str, torch.nn.Module | callable]:
    """Every front-end row (:func:`frontend_rows`), both views of fusion, augmentation costs, and two reference
    points: torchaudio's magnitude Spectrogram and the STFT floor (:class:`STFTPowerPeak`)."""
    import torchaudio

    rows = {row.name: row.build(sample_rate) for row in frontend_rows()}
    masked = SpectrogramImage(sample_rate=sample_rate, backend="torch")
    masked.spec_augment = SpecAugment()
    return {
        **rows,
        "both views (nnAudio)": _both(rows["spectrogram (nnAudio)"], rows["waveform"]),  # the rows' own layers
        "both views (torch.stft)": _both(rows["spectrogram (torch.stft)"], rows["waveform"]),
        TORCHAUDIO_SPECTROGRAM: torchaudio.transforms.Spectrogram(n_fft=2048, hop_length=512, power=1.0),
        STFT_FLOOR: STFTPowerPeak(),
        # augmentation cost: compare with the rows above (training mode, as in a training step)
        "augment: gain + noise (waveform)": torch.nn.Sequential(Gain(), Noise()).train(),
        "augment: spectrogram (torch.stft) + specaugment": masked.train(),
    }


COMPILED_SUFFIX = " (compiled)"


def compiled_names() -> tuple[str, ...]:
    """The rows timed under ``torch.compile`` too: every front-end row whose entry traces whole (``compiles``), and
    the STFT floor they are compared with (torchaudio's reference runs as users run it)."""
    return (*(row.name for row in frontend_rows() if row.spec.compiles), STFT_FLOOR)


def compiled_methods(methods: dict) -> dict:
    """``torch.compile`` (inductor) of the front ends that trace whole, specialised to each shape they are timed
    at (``dynamic=False``: a training run has one segment length and batch size; symbolic sizes cost this CPU's
    generated loops up to 2x). Every built-in front end and the STFT floor trace whole (the conv ones since their
    fp32 accuracy comes from :func:`~gtzan_gpu.features.precision.fp32_conv1d`, not from a precision switch)."""
    return {name + COMPILED_SUFFIX: torch.compile(methods[name], dynamic=False) for name in compiled_names()}


def graph_breaks(module: torch.nn.Module, samples: int = 22050) -> int:
    """How many times ``torch.compile`` (dynamo) leaves the graph tracing ``module`` on a ``(2, samples)`` batch."""
    torch._dynamo.reset()
    with torch.no_grad():
        explained = torch._dynamo.explain(module)(torch.randn(2, samples))
    torch._dynamo.reset()
    return int(explained.graph_break_count)


def bench_feature_layers(device: torch.device, lengths: tuple[float, ...], batch_sizes: tuple[int, ...],
                         repeats: int, budget_seconds: float, sample_rate: int = 22050,
                         max_call_seconds: float | None = None, compiled: bool = True,
                         min_cell_seconds: float = 0.0) -> list[dict]:
    """Segments/s per method, segment length and batch size (``compiled``: also the :func:`compiled_names` under
    ``torch.compile``, compiled afresh for each cell, the compile (first call) untimed). A cell whose call would
    take longer than ``max_call_seconds`` (estimated from the same method's measured per-segment time at the
    previous batch size) is recorded as skipped with that estimate, not timed. Each cell calls for at least
    ``min_cell_seconds`` (fast calls get a fair sample of this machine's quiet moments)."""
    rows = []
    per_segment: dict[tuple[str, float], float] = {}
    methods = feature_methods(sample_rate)
    for module in methods.values():
        if isinstance(module, torch.nn.Module):
            module.to(device)
    if compiled:
        methods.update(compiled_methods(methods))
    generator = torch.Generator().manual_seed(0)
    for seconds in lengths:
        samples = int(round(seconds * sample_rate))
        for batch in batch_sizes:
            audio = None
            for name, method in methods.items():
                estimate = per_segment.get((name, seconds), 0.0) * batch
                if max_call_seconds is not None and estimate > max_call_seconds:
                    rows.append({"method": name, "seconds": seconds, "batch": batch,
                                 "skipped": f"~{estimate:.0f} s per call estimated (cap {max_call_seconds:g} s)"})
                    continue
                if audio is None:
                    audio = (0.3 * torch.randn(batch, samples, generator=generator)).to(device)
                if name.endswith(COMPILED_SUFFIX):
                    torch._dynamo.reset()  # one static compile per cell, never dynamo's recompile limit
                with torch.no_grad(), PeakMemory(device) as memory:
                    timing = time_call(lambda: method(audio), device, repeats, 1, budget_seconds, min_cell_seconds)
                per_segment[(name, seconds)] = timing["median_s"] / batch
                rows.append({"method": name, "seconds": seconds, "batch": batch, **timing,
                             "segments_per_s": batch / timing["median_s"],
                             "audio_seconds_per_s": batch * seconds / timing["median_s"],
                             "audio_hours_per_s": batch * seconds / timing["median_s"] / 3600, **memory.as_dict()})
    return rows


def _both(spectrogram, waveform):
    return lambda x: (spectrogram(x), waveform(x))


def _seed_signals(seconds: float, count: int, sample_rate: int) -> list[np.ndarray]:
    from gtzan_gpu.data.synth import GTZAN_GENRES, STYLES, synthesize_track

    rng = np.random.default_rng(0)
    return [synthesize_track(STYLES[GTZAN_GENRES[i % 10]], seconds, rng, sample_rate) for i in range(count)]


def bench_seed_pipeline(lengths: tuple[float, ...], segments: int, sample_rate: int = 22050) -> list[dict]:
    """Per segment, as the seed did it: render to PNG (librosa + matplotlib), save, load + resize with PIL.
    Also the cost of only reading pre-rendered PNGs back from disk (the seed's training-time input path)."""
    from PIL import Image

    from gtzan_gpu import seed_reference as seed

    rows = []
    for seconds in lengths:
        signals = _seed_signals(seconds, segments, sample_rate)
        seed.render_spectrogram_png(signals[0], sample_rate)  # warm-up: imports, font cache
        timings = {"spectrogram": [], "waveform": []}
        with tempfile.TemporaryDirectory() as folder:
            paths = {"spectrogram": [], "waveform": []}
            for i, y in enumerate(signals):
                for view, render in (("spectrogram", seed.render_spectrogram_png),
                                     ("waveform", seed.render_waveform_png)):
                    start = time.perf_counter()
                    png = render(y, sample_rate)
                    path = Path(folder) / f"{view}_{i}.png"
                    path.write_bytes(png)
                    seed.load_model_image(path.read_bytes())
                    timings[view].append(time.perf_counter() - start)
                    paths[view].append(path)
            reads = {view: [] for view in paths}
            for view, files in paths.items():
                for path in files:
                    start = time.perf_counter()
                    image = Image.open(path).convert("RGB").resize((128, 128), Image.BILINEAR)
                    torch.from_numpy(np.asarray(image, dtype=np.float32).transpose(2, 0, 1) / 255.0)
                    reads[view].append(time.perf_counter() - start)
        for label, per_segment in (
            ("seed render+load: spectrogram", timings["spectrogram"]),
            ("seed render+load: both views", [a + b for a, b in zip(timings["spectrogram"], timings["waveform"])]),
            ("seed PNG read: spectrogram", reads["spectrogram"]),
            ("seed PNG read: both views", [a + b for a, b in zip(reads["spectrogram"], reads["waveform"])]),
        ):
            median = float(np.median(per_segment))
            rows.append({"method": label, "seconds": seconds, "batch": 1, "median_s": median,
                         "min_s": float(np.min(per_segment)), "max_s": float(np.max(per_segment)),
                         "repeats": len(per_segment), "segments_per_s": 1.0 / median,
                         "audio_seconds_per_s": seconds / median})
    return rows


__all__ = ["bench_feature_layers", "bench_seed_pipeline", "compiled_methods", "compiled_names", "feature_methods",
           "frontend_rows", "graph_breaks"]
