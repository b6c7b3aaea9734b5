"""A roofline for the front ends: this machine's measured limits, the work per segment, how far each measured
throughput is from its bound, and the same bounds for H100 / H200 from their published peaks (a model,
labelled as such, never a measurement).

Work per segment: FLOPs from ``torch.utils.flop_counter`` where it counts (convolutions and matrix products:
nnAudio's conv STFT, the frequency-axis resampling, the models), plus the standard 5 N log2 N per complex FFT
(2.5 N log2 N for a real FFT of N points) for ``torch.stft``, which the counter does not see. Bytes: a lower
bound, the waveform read once and the STFT's complex output written and read once.
"""
from __future__ import annotations

import math
import time

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from gtzan_gpu.bench.timing import synchronize
from gtzan_gpu.features import SpectrogramImage, WaveformImage
from gtzan_gpu.features.config import FeatureConfig
from gtzan_gpu.models import MODELS, ModelConfig, build_classifier

N_FFT, HOP, BINS = 2048, 512, 1025
# Published dense peaks (NVIDIA data sheets, SXM parts): a model of the ceiling, not a measurement.
GPU_PEAKS = {
    "H100 SXM": {"fp32_tflops": 67.0, "bf16_tflops": 989.0, "memory_tb_s": 3.35},
    "H200 SXM": {"fp32_tflops": 67.0, "bf16_tflops": 989.0, "memory_tb_s": 4.8},
}


def _timed(work, device: torch.device, seconds: float = 1.0) -> float:
    """Median seconds per call of ``work`` after a warm-up, within about ``seconds``."""
    work()
    synchronize(device)
    times = []
    started = time.perf_counter()
    while time.perf_counter() - started < seconds or len(times) < 3:
        start = time.perf_counter()
        work()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def measure_limits(device: torch.device) -> dict:
    """fp32 matmul GFLOP/s, memory copy GB/s (read + write) and FFT GFLOP/s (rfft of 2048 points, 5 N log2 N
    per complex FFT, half for real input, on a batch sized like a training batch's frames) on ``device``."""
    cuda = device.type == "cuda"
    n = 8192 if cuda else 2048
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    previous = torch.backends.cuda.matmul.fp32_precision
    torch.backends.cuda.matmul.fp32_precision = "ieee"  # the STFT's precision
    try:
        matmul = 2 * n ** 3 / _timed(lambda: a @ b, device) / 1e9
    finally:
        torch.backends.cuda.matmul.fp32_precision = previous
    source = torch.empty(2 ** 28 if cuda else 2 ** 25, dtype=torch.float32, device=device)
    target = torch.empty_like(source)
    copy = 2 * source.numel() * 4 / _timed(lambda: target.copy_(source), device) / 1e9
    frames = torch.randn(65536 if cuda else 1024, N_FFT, device=device)
    fft = frames.shape[0] * 2.5 * N_FFT * math.log2(N_FFT) / _timed(lambda: torch.fft.rfft(frames), device) / 1e9
    return {"matmul_fp32_gflops": matmul, "copy_gb_s": copy, "fft_gflops": fft}


def _counted_flops(module: torch.nn.Module, x: torch.Tensor, backward: bool = False) -> int:
    with FlopCounterMode(display=False) as counter:
        out = module(x)
        if backward:
            out.float().sum().backward()
    return counter.get_total_flops()


def frontend_work(seconds: float) -> dict[str, dict]:
    """FLOPs (matrix/convolution FLOPs and FFT FLOPs apart: they run at different rates) and bytes per segment
    of each front end at ``seconds``."""
    samples = int(round(seconds * 22050))
    frames = 1 + samples // HOP
    x = torch.randn(1, samples)
    fft_flops = frames * 2.5 * N_FFT * math.log2(N_FFT)
    stft_bytes = 4 * samples + 2 * frames * BINS * 8
    return {"spectrogram (nnAudio)": {"flops": _counted_flops(SpectrogramImage(), x), "fft_flops": 0.0,
                                      "bytes": stft_bytes},
            "spectrogram (torch.stft)": {"flops": _counted_flops(SpectrogramImage(backend="torch"), x),
                                         "fft_flops": fft_flops, "bytes": stft_bytes},
            "waveform": {"flops": _counted_flops(WaveformImage(), x), "fft_flops": 0.0,
                         "bytes": 4 * samples + 3 * 128 * 128 * 4}}


def model_step_flops(image_size: int = 128) -> dict[str, int]:
    """Training-step FLOPs (forward + backward) per segment of each registered backbone, from its images."""
    result = {}
    for name, spec in MODELS.items():
        model = build_classifier(ModelConfig(name, "none"),
                                 FeatureConfig(frontend=spec.frontends[0], image_size=image_size), 10)
        channels = 3 if spec.frontends[0] == "image" else 1
        images = [torch.randn(2, channels, image_size, image_size) for _ in model.views]  # BatchNorm needs 2
        with FlopCounterMode(display=False) as counter:
            F.cross_entropy(model.backbone(*images), torch.zeros(2, dtype=torch.long)).backward()
        result[name] = counter.get_total_flops() // 2
    return result


def _bound(work: dict, limits: dict) -> tuple[float, str]:
    """Segments/s ceiling of a front end on a machine with ``limits`` and which limit binds: its compute time
    (matrix FLOPs at the matmul rate plus FFT FLOPs at the FFT rate) or its memory time, whichever is longer."""
    matmul_s = work["flops"] / (limits["matmul_fp32_gflops"] * 1e9)
    fft_s = work["fft_flops"] / (limits["fft_gflops"] * 1e9)
    memory_s = work["bytes"] / (limits["copy_gb_s"] * 1e9)
    if memory_s >= matmul_s + fft_s:
        return 1 / memory_s, "memory"
    return 1 / (matmul_s + fft_s), "FFT" if fft_s > matmul_s else "fp32 matmul"


def roofline(device: torch.device, features: list[dict], lengths: tuple[float, ...]) -> dict:
    """The measured limits, each front end's work, bound and measured fraction of it, and the GPU model."""
    limits = measure_limits(device)
    steps = model_step_flops()
    rows = []
    for seconds in lengths:
        for name, work in frontend_work(seconds).items():
            ceiling, binding = _bound(work, limits)
            measured = [r["segments_per_s"] for r in features if r["method"] == name and r["seconds"] == seconds
                        and "skipped" not in r]
            best = max(measured) if measured else None
            rows.append({"frontend": name, "seconds": seconds, "flops": work["flops"] + work["fft_flops"],
                         "bytes": work["bytes"],
                         "bound_segments_per_s": ceiling, "binding": binding, "measured_segments_per_s": best,
                         "fraction_of_bound": best / ceiling if best else None})
    return {"limits": limits, "frontends": rows, "model_step_flops": steps, "gpu_model": gpu_model(steps)}


def gpu_model(step_flops: dict[str, int], seconds: float = 5.0) -> list[dict]:
    """From published peaks: each STFT backend's ceiling in segments/s at ``seconds``, and the front end's minimum
    share of a resnet18 bf16 training step (both parts at their peak). A model, not a measurement."""
    work = frontend_work(seconds)
    rows = []
    for gpu, peak in GPU_PEAKS.items():
        limits = {"matmul_fp32_gflops": peak["fp32_tflops"] * 1e3, "copy_gb_s": peak["memory_tb_s"] * 1e3,
                  # a 2048-point cuFFT is memory-bound: its FLOPs add no time beyond the memory term
                  "fft_gflops": math.inf}
        resnet_step_s = step_flops["resnet18"] / (peak["bf16_tflops"] * 1e12)
        for name in ("spectrogram (nnAudio)", "spectrogram (torch.stft)"):
            ceiling, binding = _bound(work[name], limits)
            frontend_s = 1 / ceiling
            rows.append({"gpu": gpu, "frontend": name, "seconds": seconds, "ceiling_segments_per_s": ceiling,
                         "binding": binding, "meets_100k": ceiling >= 100_000,
                         "min_share_of_resnet18_bf16_step": frontend_s / (frontend_s + resnet_step_s)})
    return rows
