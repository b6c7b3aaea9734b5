"""A roofline for the front ends: this machine's measured limits, the work per segment, how far each measured
throughput (eager and compiled) is from its bound, and the same bounds for H100 / H200 from their published peaks
(a model, labelled as such, never a measurement).

The rows come from the front-end registry (:func:`gtzan_gpu.bench.features.frontend_rows`): each entry declares
how to count its lower-bound work (``FrontendSpec.work``, :mod:`gtzan_gpu.features.work`: the waveform read once
and the output written once, 2.5 N log2 N per real FFT, the filterbank and convolution products it is defined by);
one that declares none is shown without a bound.

A limit is the best this machine reaches on the shapes and working sets the front ends use, never one
convenient shape: the matmul limit is the best of square products and of the front ends' own matrix products,
the convolution limit the best of the matmul limit and the front ends' own convolutions (replayed alone, at two
batch sizes), the copy bandwidth the best from cache-resident to DRAM-sized buffers, the FFT limit the best of
cache- to batch-sized frames. A front end measured above its bound would mean a limit measured too low: such a
row is reported as a measurement error (``above_bound``), never as a fraction.

Two references share the table, measured like the front ends but not front ends: torchaudio's magnitude
``Spectrogram`` (what an established toolkit's plain STFT reaches; its bound adds writing the magnitude map), and
the STFT floor (:class:`~gtzan_gpu.bench.features.STFTPowerPeak`: the project's torch.stft framing, the ``rfft`` and
one pass over its output). Each torch.stft front end's best rate over the floor's best rate (``of_stft_floor``) says
how much of its time is its own passes after the FFT: 1.0 would be a front end that costs nothing beyond one pass.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode
from torch.utils.flop_counter import FlopCounterMode

from gtzan_gpu.bench.features import (COMPILED_SUFFIX, STFT_FLOOR, TORCHAUDIO_SPECTROGRAM, feature_methods,
                                      frontend_rows, graph_breaks)
from gtzan_gpu.bench.timing import time_call
from gtzan_gpu.features.config import FeatureConfig
from gtzan_gpu.features.work import BINS, N_FFT, fft_flops, segment_size
from gtzan_gpu.models import MODELS, ModelConfig, build_classifier

FFT_FLOPS_PER_FRAME = fft_flops(N_FFT, 1)  # one real 2048-point FFT
# Published dense peaks (NVIDIA data sheets, SXM parts): a model of the ceiling, not a measurement.
GPU_PEAKS = {
    "H100 SXM": {"fp32_tflops": 67.0, "tf32_tflops": 494.7, "bf16_tflops": 989.0, "memory_tb_s": 3.35},
    "H200 SXM": {"fp32_tflops": 67.0, "tf32_tflops": 494.7, "bf16_tflops": 989.0, "memory_tb_s": 4.8},
}
SPLIT_PRODUCTS = 4  # fp32_conv1d on a GPU: each fp32 product as four TF32 products (heads and tails)
HOP = 512
ABOVE_BOUND = ("measured above its bound: the limit was measured too low (noise on a shared machine, or a shape "
               "the limits missed); not a fraction")


def _timed(work, device: torch.device, seconds: float = 1.0) -> float:
    """Seconds of the fastest call of ``work`` (at least 3, for at least ``seconds``, after a warm-up): a limit is
    a ceiling, the least disturbed call on a shared machine (the front ends' fractions use their fastest calls
    too)."""
    return time_call(work, device, repeats=3, warmup=1, budget_seconds=math.inf, min_seconds=seconds)["min_s"]


COPY_LIMIT = "the best of buffers from cache-resident to DRAM-sized"


def copy_gb_s(device: torch.device) -> float:
    """The best copy bandwidth (read + write) over buffer sizes from cache-resident (256 KiB on a CPU) to
    DRAM-sized: a front end's batch that sits in cache is read at cache speed, so a DRAM-only limit is too low."""
    exponents = range(20, 29, 2) if device.type == "cuda" else range(16, 26, 3)
    rates = []
    for exponent in exponents:
        source = torch.empty(2 ** exponent, dtype=torch.float32, device=device)
        target = torch.empty_like(source)
        rates.append(2 * source.numel() * 4 / _timed(lambda: target.copy_(source), device, 0.3) / 1e9)
    return max(rates)


def square_matmul_gflops(device: torch.device) -> float:
    """The best IEEE fp32 square matmul over sizes (CPU 512-2048, GPU 4096-8192)."""
    previous = torch.backends.cuda.matmul.fp32_precision
    torch.backends.cuda.matmul.fp32_precision = "ieee"  # the STFT's precision
    try:
        rates = []
        for n in ((4096, 8192) if device.type == "cuda" else (512, 1024, 2048)):
            a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
            rates.append(2 * n ** 3 / _timed(lambda: a @ b, device, 0.5) / 1e9)
        return max(rates)
    finally:
        torch.backends.cuda.matmul.fp32_precision = previous


_PRODUCTS = {"conv": {F.conv1d, torch.conv1d, F.conv2d, torch.conv2d},
             "matmul": {torch.matmul, torch.Tensor.matmul, torch.Tensor.__matmul__, torch.mm, torch.bmm, F.linear,
                        torch.einsum}}


class _ProductCalls(TorchFunctionMode):
    """Records the convolution and matrix-product calls a forward makes, to replay them alone."""

    def __init__(self):
        super().__init__()
        self.calls: dict[str, list] = {"conv": [], "matmul": []}

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        for kind, functions in _PRODUCTS.items():
            if func in functions:
                self.calls[kind].append((func, args, kwargs))
        return func(*args, **kwargs)


def own_product_gflops(device: torch.device, batches: tuple[int, ...], seconds: float = 5.0) -> dict[str, float]:
    """The best rate of the front ends' own products replayed alone, per kind (``conv``, ``matmul``): every
    front-end row is run once on a batch (each of ``batches``) of ``seconds`` segments under a recorder, and its
    recorded products are timed without the rest of the layer."""
    best = {"conv": 0.0, "matmul": 0.0}
    for row in frontend_rows():
        layer = row.build(22050).to(device).eval()
        for batch in batches:
            recorder = _ProductCalls()
            with torch.no_grad(), recorder:
                layer(torch.randn(batch, int(seconds * 22050), device=device))
            for kind, calls in recorder.calls.items():
                if not calls:
                    continue

                def replay(calls=calls):
                    return [func(*args, **kwargs) for func, args, kwargs in calls]
                with FlopCounterMode(display=False) as counter, torch.no_grad():
                    replay()
                if counter.get_total_flops():
                    with torch.no_grad():
                        rate = counter.get_total_flops() / _timed(replay, device, 0.3) / 1e9
                    best[kind] = max(best[kind], rate)
    return best


def measure_limits(device: torch.device) -> dict:
    """fp32 matmul GFLOP/s, convolution GFLOP/s, memory copy GB/s (read + write) and FFT GFLOP/s on ``device``,
    each the best over the shapes and sizes the front ends use (see the module docstring)."""
    own = own_product_gflops(device, (64, 512) if device.type == "cuda" else (8, 32))
    matmul = max(square_matmul_gflops(device), own["matmul"])
    return {"matmul_fp32_gflops": matmul, "conv_gflops": max(matmul, own["conv"]), "copy_gb_s": copy_gb_s(device),
            "fft_gflops": fft_gflops(device)}


FFT_LIMIT = "the best of 128-1024 frames (GPU: 4096 and 65536), contiguous and as an STFT's overlapping frames"


def fft_gflops(device: torch.device) -> float:
    """The fastest ``rfft`` of 2048 points on ``device`` in GFLOP/s (2.5 N log2 N per real FFT), over batches from
    cache-sized to training-batch-sized, each as contiguous frames and as an STFT's overlapping frames (a strided
    view of one waveform at hop 512, 4x fewer bytes to read: on this project's CPU 4-15 % faster than contiguous
    frames, so a limit from contiguous frames alone would be too low a ceiling); :data:`FFT_LIMIT` in words."""
    cuda = device.type == "cuda"
    rates = []
    for count in ((4096, 65536) if cuda else (128, 256, 512, 1024)):
        contiguous = torch.randn(count, N_FFT, device=device)
        overlapping = torch.randn((count - 1) * HOP + N_FFT, device=device).unfold(0, N_FFT, HOP)
        for frames in (contiguous, overlapping):
            seconds = _timed(lambda: torch.fft.rfft(frames), device, seconds=0.5)  # 8 shapes: 0.5 s each
            rates.append(count * FFT_FLOPS_PER_FRAME / seconds / 1e9)
    return max(rates)


ROOFLINE_REFERENCES = (TORCHAUDIO_SPECTROGRAM, STFT_FLOOR)


def frontend_work(seconds: float, sample_rate: int = 22050) -> dict[str, dict | None]:
    """Lower-bound work per segment of every front-end row at ``seconds`` (the entry's own ``work``; None when it
    declares none): ``flops`` (matrix products), ``conv_flops``, ``fft_flops``, ``bytes``."""
    return {row.name: row.spec.work(row.features, seconds, sample_rate).as_dict() if row.spec.work else None
            for row in frontend_rows()}


def reference_work(seconds: float, sample_rate: int = 22050) -> dict[str, dict]:
    """Lower-bound work per segment of the two references (see the module docstring): the FFT FLOPs, the waveform
    read once and, for torchaudio's Spectrogram, its magnitude map written once."""
    samples, frames = segment_size(seconds, sample_rate)
    fft = frames * FFT_FLOPS_PER_FRAME
    return {TORCHAUDIO_SPECTROGRAM: {"flops": 0, "conv_flops": 0, "fft_flops": fft,
                                     "bytes": 4 * samples + 4 * BINS * frames},
            STFT_FLOOR: {"flops": 0, "conv_flops": 0, "fft_flops": fft, "bytes": 4 * samples}}


def frontend_graph_breaks() -> dict[str, int]:
    """Graph breaks under ``torch.compile`` of each front-end row and of the references (dynamo's count; 0: one
    whole graph)."""
    methods = feature_methods(22050)
    return {name: graph_breaks(methods[name]) for name in (*(row.name for row in frontend_rows()),
                                                           *ROOFLINE_REFERENCES)}


def model_step_flops(image_size: int = 128, seconds: float = 5.0) -> dict[str, int]:
    """Training-step FLOPs (forward + backward) per segment of each registered backbone, from the images its views
    make of ``seconds`` of audio (``image_size`` square, or a pretrained front end's own rows x frames)."""
    result = {}
    for name, spec in MODELS.items():
        model = build_classifier(ModelConfig(name, "none"),
                                 FeatureConfig(frontend=spec.front_ends()[0], image_size=image_size,
                                               stft_backend="torch"), 10)
        with torch.no_grad():
            images = [image.detach() for image in model.eval().images(torch.randn(2, int(seconds * 22050)))]
        model.train()  # BatchNorm needs 2
        with FlopCounterMode(display=False) as counter:
            F.cross_entropy(model.backbone(*images), torch.zeros(2, dtype=torch.long)).backward()
        result[name] = counter.get_total_flops() // 2
    return result


def _bound(work: dict, limits: dict) -> tuple[float, str]:
    """Segments/s ceiling of a front end on a machine with ``limits`` and which limit binds: its compute time
    (matrix FLOPs at the fp32 matmul rate, convolution FLOPs at ``conv_gflops`` (default: the matmul rate), FFT
    FLOPs at the FFT rate) or its memory time, whichever is longer."""
    conv_rate, conv_name = limits.get("conv_gflops", limits["matmul_fp32_gflops"]), limits.get("conv_name", "fp32")
    parts = {"fp32 matmul": work["flops"] / (limits["matmul_fp32_gflops"] * 1e9),
             f"{conv_name} conv": work.get("conv_flops", 0) / (conv_rate * 1e9),
             "FFT": work["fft_flops"] / (limits["fft_gflops"] * 1e9)}
    memory_s, compute_s = work["bytes"] / (limits["copy_gb_s"] * 1e9), sum(parts.values())
    if memory_s >= compute_s:
        return 1 / memory_s, "memory"
    return 1 / compute_s, max(parts, key=parts.get)


def _fastest_rate(row: dict) -> float:
    """Segments/s of a feature cell's fastest call (its median where only that was recorded)."""
    return row["batch"] / row["min_s"] if row.get("min_s") else row["segments_per_s"]


def _best(features: list[dict], method: str, seconds: float) -> float | None:
    """The fastest call's segments/s over the batch sizes of ``method`` at ``seconds``."""
    rows = [r for r in features if r["method"] == method and r["seconds"] == seconds and "skipped" not in r]
    return max(_fastest_rate(r) for r in rows) if rows else None


def _faster(*rates: float | None) -> float | None:
    """The highest of the rates that were measured (None when none was)."""
    return max([rate for rate in rates if rate], default=None)


def _row(name: str, seconds: float, work: dict | None, limits: dict, features: list[dict], floor: float | None,
         breaks: int) -> dict:
    """One roofline row: the bound (none when the front end declares no work), the measured rates, the fraction of
    the bound, or ``above_bound`` instead when a rate beats its bound (a limit measured too low)."""
    reference = name in ROOFLINE_REFERENCES
    eager, compiled = _best(features, name, seconds), _best(features, name + COMPILED_SUFFIX, seconds)
    best = _faster(eager, compiled)
    ceiling, binding = _bound(work, limits) if work else (None, "no work declared")
    fraction = best / ceiling if best and ceiling else None
    row = {"frontend": name, "seconds": seconds, "reference": reference,
           "flops": work["flops"] + work["conv_flops"] + work["fft_flops"] if work else None,
           "bytes": work["bytes"] if work else None, "bound_segments_per_s": ceiling, "binding": binding,
           "graph_breaks": breaks, "measured_segments_per_s": eager, "compiled_segments_per_s": compiled,
           "best_audio_hours_per_s": best * seconds / 3600 if best else None,
           "fraction_of_bound": fraction if fraction is None or fraction <= 1.0 else None,
           "of_stft_floor": best / floor if best and floor and work and work["fft_flops"] and not reference else None}
    if fraction is not None and fraction > 1.0:
        row["above_bound"] = {"ratio": fraction, "note": ABOVE_BOUND}
    return row


def roofline(device: torch.device, features: list[dict], lengths: tuple[float, ...]) -> dict:
    """The measured limits, each front end's (and reference's) work, bound, graph breaks and measured fraction of
    the bound (eager and compiled: the fastest call of the best batch, like the limits), the torch.stft front ends'
    rate over the STFT floor's, and the GPU model."""
    limits = measure_limits(device)
    steps = model_step_flops()
    breaks = frontend_graph_breaks()
    rows = []
    for seconds in lengths:
        floor = _faster(_best(features, STFT_FLOOR, seconds), _best(features, STFT_FLOOR + COMPILED_SUFFIX, seconds))
        for name, work in {**frontend_work(seconds), **reference_work(seconds)}.items():
            rows.append(_row(name, seconds, work, limits, features, floor, breaks[name]))
    return {"limits": limits, "fft_limit": FFT_LIMIT, "copy_limit": COPY_LIMIT, "frontends": rows,
            "graph_breaks": breaks, "model_step_flops": steps, "gpu_model": gpu_model(steps)}


def gpu_model(step_flops: dict[str, int], seconds: float = 5.0) -> list[dict]:
    """From published peaks: each spectrogram front end's ceiling in segments/s at ``seconds`` and its minimum share
    of a resnet18 bf16 training step (both parts at their peak), from the lower-bound work above: a 2048-point
    cuFFT is memory-bound, so its FLOPs add no time beyond the bytes, which are now the waveform in and the image
    out. A model, not a measurement: reaching it needs the framing, FFT, dB and map fused into the bytes'
    single pass (``torch.compile`` fuses all but the FFT, which stays a library call reading its frames). The
    convolution front ends (nnAudio's STFT, CQT) count each fp32 product as the four TF32 products of
    :func:`~gtzan_gpu.features.precision.fp32_conv1d`'s split, at the TF32 tensor-core peak."""
    work = frontend_work(seconds)
    rows = []
    for gpu, peak in GPU_PEAKS.items():
        limits = {"matmul_fp32_gflops": peak["fp32_tflops"] * 1e3, "copy_gb_s": peak["memory_tb_s"] * 1e3,
                  "fft_gflops": math.inf, "conv_gflops": peak["tf32_tflops"] * 1e3 / SPLIT_PRODUCTS,
                  "conv_name": f"{SPLIT_PRODUCTS}x TF32"}
        resnet_step_s = step_flops["resnet18"] / (peak["bf16_tflops"] * 1e12)
        for name, declared in work.items():
            if declared is None or not (declared["flops"] or declared["conv_flops"] or declared["fft_flops"]):
                continue  # no work declared, or nothing but bytes (the waveform view): nothing to model
            ceiling, binding = _bound(declared, limits)
            frontend_s = 1 / ceiling
            rows.append({"gpu": gpu, "frontend": name, "seconds": seconds, "ceiling_segments_per_s": ceiling,
                         "binding": binding, "meets_100k": ceiling >= 100_000,
                         "min_share_of_resnet18_bf16_step": frontend_s / (frontend_s + resnet_step_s)})
    return rows
