"""The doctor's checks: each runs one of the project's own paths on the chosen device with a tiny synthetic
batch and says PASS or FAIL with the reason (a failure never stops the others)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch

from gtzan_gpu.data.loaders.device import DeviceLoader
from gtzan_gpu.data.segments import SegmentSpec, TrackSource
from gtzan_gpu.features import MagnitudeSTFT
from gtzan_gpu.features.registry import frontend_names, frontend_of, get_frontend
from gtzan_gpu.features.stft import STFT_BACKENDS
from gtzan_gpu.features.config import FeatureConfig
from gtzan_gpu.models import MODELS, ModelConfig, build_classifier
from gtzan_gpu.training.checkpoint import load_checkpoint, load_model_state, save_checkpoint
from gtzan_gpu.training.step import cross_entropy_of, training_step

IMAGE_TOLERANCE = 2e-3     # largest image difference device vs CPU (images are ImageNet-normalised, ~[-2, 2.6])
DDP_TIMEOUT_SECONDS = 120
# conv STFT and CQT under TF32 + bf16 autocast vs their references, above -100 dB re max. Measured on the CPU:
# IEEE fp32 6e-4, fp32_conv1d's split under a TF32-rounding convolution 9e-4, that convolution without the split 0.6.
CONV_FP32_RTOL = 2e-3


@dataclass
class CheckResult:
    name: str
    passed: bool
    detail: str
    seconds: float


def _audio(batch: int = 4, seconds: float = 1.0, device: torch.device | str = "cpu") -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    t = torch.arange(int(22050 * seconds)) / 22050
    x = 0.4 * torch.sin(2 * torch.pi * 330 * t) + 0.05 * torch.randn(batch, t.numel(), generator=generator)
    return x.to(device)


def _layers() -> dict[str, Callable[[], torch.nn.Module]]:
    """Every registered front end (the waveform view included), with each STFT backend where it has an STFT."""
    layers = {}
    for name in frontend_names(selectable_only=False):
        spec = get_frontend(name)
        backends = STFT_BACKENDS if spec.stft else (None,)
        for backend in backends:
            features = FeatureConfig(frontend=name if spec.selectable else "image",
                                     stft_backend=backend or "nnaudio")
            label = f"{name} ({backend})" if backend else name
            layers[label] = lambda spec=spec, features=features: spec.build(features, 22050, None)
    return layers


def check_features_match_cpu(device: torch.device) -> str:
    x = _audio()
    worst = []
    for name, factory in _layers().items():
        layer = factory()
        expected = layer(x)
        got = layer.to(device)(x.to(device)).cpu()
        difference = float((got - expected).abs().max())
        if difference > IMAGE_TOLERANCE:
            raise AssertionError(f"{name}: max difference {difference:.2e} > {IMAGE_TOLERANCE:g}")
        worst.append(f"{name} {difference:.1e}")
    same = " (same device: a consistency check)" if device.type == "cpu" else ""
    return "max |device - CPU|: " + ", ".join(worst) + same


def check_no_host_sync(device: torch.device) -> str:
    if device.type == "cuda":
        layers = [factory().to(device) for factory in _layers().values()]
        x = _audio(device=device)
        for layer in layers:
            layer(x)  # warm-up: cuFFT plans, cuDNN heuristics
        torch.cuda.synchronize(device)
        torch.cuda.set_sync_debug_mode("error")
        try:
            for layer in layers:
                layer(x)
        finally:
            torch.cuda.set_sync_debug_mode("default")
        return "forward ran under torch.cuda.set_sync_debug_mode('error')"
    for name, factory in _layers().items():  # on the meta device .item(), .cpu() and numpy all fail
        layer = factory()
        expected = tuple(layer(torch.zeros(2, 22050)).shape)  # the CPU's shape (a pretrained map keeps its own)
        out = layer.to("meta")(torch.empty(2, 22050, device="meta"))
        spec = frontend_of(layer)
        square = (2, spec.channels, 128, 128)
        if tuple(out.shape) != expected or (spec.resized and expected != square):
            raise AssertionError(f"{name} gave {tuple(out.shape)} on the meta device (CPU: {expected})")
    return "forward ran on the meta device (any host read would fail there)"


def _under_tf32_and_autocast(device: torch.device, run: Callable[[], torch.Tensor]) -> torch.Tensor:
    """``run()`` with every TF32 knob on and, on CUDA, bf16 autocast; the settings restored afterwards."""
    previous = (torch.backends.cudnn.conv.fp32_precision, torch.backends.cuda.matmul.fp32_precision)
    torch.backends.cudnn.conv.fp32_precision, torch.backends.cuda.matmul.fp32_precision = "tf32", "tf32"
    try:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            return run()
    finally:
        torch.backends.cudnn.conv.fp32_precision, torch.backends.cuda.matmul.fp32_precision = previous


def _relative_error_above_100_db(name: str, got: torch.Tensor, reference: torch.Tensor) -> float:
    if got.dtype != torch.float32:
        raise AssertionError(f"{name} returned {got.dtype} under autocast")
    loud = reference > reference.amax() * 1e-5
    relative = float(((got - reference).abs() / reference.clamp_min(1e-12))[loud].max())
    if relative > CONV_FP32_RTOL:
        raise AssertionError(f"{name}: relative error {relative:.2e} > {CONV_FP32_RTOL:g} above -100 dB")
    return relative


def check_conv_front_ends_fp32(device: torch.device) -> str:
    """nnAudio's conv STFT against the FFT STFT, and the CQT against the CPU's IEEE CQT, with TF32 on (where a
    plain convolution keeps ~3 digits): both by :func:`~gtzan_gpu.features.precision.fp32_conv1d`."""
    from gtzan_gpu.features.time_frequency import ConstantQ

    x = _audio(device=device)
    conv_stft, cqt = MagnitudeSTFT().to(device), ConstantQ().to(device)
    stft_error = _relative_error_above_100_db("nnAudio STFT", _under_tf32_and_autocast(device, lambda: conv_stft(x)),
                                              MagnitudeSTFT(backend="torch").to(device)(x))
    cqt_error = _relative_error_above_100_db("CQT", _under_tf32_and_autocast(device, lambda: cqt.magnitude(x)).cpu(),
                                             ConstantQ().magnitude(x.cpu()))
    mode = "TF32 + bf16 autocast" if device.type == "cuda" else "TF32 requested (no autocast on CPU)"
    return (f"under {mode}: float32, max relative error above -100 dB {stft_error:.1e} (nnAudio STFT vs FFT), "
            f"{cqt_error:.1e} (CQT vs the CPU's)")


def _tracks(folder: Path) -> list[TrackSource]:
    import soundfile as sf

    tracks = []
    for label in range(4):
        path = folder / f"t{label}.wav"
        sf.write(str(path), _audio(1, 3.0)[0].numpy() * (0.5 + 0.1 * label), 22050, subtype="PCM_16")
        tracks.append(TrackSource(f"t{label}", label, path, 22050, 3 * 22050))
    return tracks


def check_training_steps(device: torch.device, compile_model: bool = False) -> str:
    cuda = device.type == "cuda"
    parts = []
    with tempfile.TemporaryDirectory() as folder:
        corpus = DeviceLoader(_tracks(Path(folder)), SegmentSpec(1.0), device)
        for name in MODELS:
            torch.manual_seed(0)
            features = FeatureConfig(frontend=MODELS[name].front_ends()[0], image_size=32)
            model = build_classifier(ModelConfig(name, "none"), features, 4,
                                     channels_last=cuda).to(device)
            step_model = torch.compile(model) if compile_model else model
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
            before = [p.detach().clone() for p in model.parameters()]
            losses = []
            for waveforms, labels, _ in corpus.batches(4, True, torch.Generator().manual_seed(0)):
                loss, _ = training_step(lambda: step_model(waveforms), cross_entropy_of(labels), optimizer, device,
                                        amp=cuda)  # the step training runs
                losses.append(loss)
            finite = bool(torch.isfinite(torch.stack(losses)).all())
            moved = any(not torch.equal(a, b.detach()) for a, b in zip(before, model.parameters()))
            if not (finite and moved):
                raise AssertionError(f"{name}: {'non-finite loss' if not finite else 'weights did not change'}")
            parts.append(f"{name} {len(losses)} steps")
    extras = ", bf16 autocast + channels_last" if cuda else ""
    return "DeviceLoader batches: " + ", ".join(parts) + extras + (", torch.compile" if compile_model else "")


def check_checkpoint_round_trip(device: torch.device) -> str:
    model = build_classifier(ModelConfig("cnn"), FeatureConfig(image_size=32, stft_backend="torch"), 10).to(device)
    model.eval()
    x = _audio(device=device)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "last.pt"
        payload = {key: None for key in ("config", "manifest", "manifest_digest", "optimizer", "scaler", "epoch",
                                         "global_step", "best", "epochs_without_improvement", "history", "rng")}
        payload.update(config={}, genres=[str(i) for i in range(10)], model_name="cnn",
                       model=model.state_dict())
        save_checkpoint(path, payload)
        size = path.stat().st_size
        loaded = load_checkpoint(path)
    other = build_classifier(ModelConfig("cnn"), FeatureConfig(image_size=32, stft_backend="torch"), 10).to(device)
    load_model_state(other, loaded["model"], path, "cnn")
    other.eval()
    with torch.no_grad():
        difference = float((model(x) - other(x)).abs().max())
    if difference != 0:
        raise AssertionError(f"logits differ by {difference:.2e} after save/load")
    return f"saved {size / 2 ** 20:.1f} MiB atomically, loaded, identical logits"


def check_ddp(device: torch.device) -> str:
    cuda = device.type == "cuda"
    if cuda and torch.cuda.device_count() < 2:
        return "skipped: nccl needs 2 CUDA devices (1 present); gloo on CPU is checked with --device cpu"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "gtzan_gpu.doctor.ddp_probe"]
    env = {**os.environ, "GTZAN_DOCTOR_DEVICE": device.type, "OMP_NUM_THREADS": "1"}
    job = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                           start_new_session=True)  # its own process group: a hung rank is killed with it
    try:
        stdout, stderr = job.communicate(timeout=DDP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(job.pid, signal.SIGKILL)
        job.communicate()
        raise AssertionError(f"2 ranks did not finish one step within {DDP_TIMEOUT_SECONDS} s (killed)") from None
    line = next((x for x in stdout.splitlines() if x.startswith("ddp-ok")), None)
    if job.returncode != 0 or line is None:
        tail = (stderr.strip().splitlines() or ["no output"])[-1][:200]
        raise AssertionError(f"torchrun exited {job.returncode}: {tail}")
    _, backend, difference = line.split()
    return f"2 ranks ({backend}) took one step; weights equal on both ranks (max difference {difference})"


def check_throughput(device: torch.device) -> str:
    parts = []
    x = _audio(32, 5.0, device)
    for name, factory in _layers().items():
        layer = factory().to(device)
        with torch.no_grad():
            layer(x)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            calls = 0
            while time.perf_counter() - start < 0.5 or calls < 2:
                layer(x)
                calls += 1
            if device.type == "cuda":
                torch.cuda.synchronize(device)
        parts.append(f"{name} {32 * calls / (time.perf_counter() - start):,.0f}")
    return "5-s segments/s at batch 32: " + ", ".join(parts) + " (gtzan-gpu bench measures properly)"


def run_doctor(device: torch.device, compile_model: bool = False) -> list[CheckResult]:
    """Every check, in order; a check that raises is a FAIL with the first line of its error."""
    checks = [("feature layers match the CPU", check_features_match_cpu),
              ("no host sync in forward", check_no_host_sync),
              ("conv STFT and CQT stay fp32 under TF32 and bf16 autocast", check_conv_front_ends_fp32),
              ("training steps of every model", lambda d: check_training_steps(d, compile_model)),
              ("checkpoint save/load round trip", check_checkpoint_round_trip),
              ("2-rank DDP step", check_ddp),
              ("front-end throughput", check_throughput)]
    results = []
    for name, check in checks:
        start = time.perf_counter()
        try:
            detail, passed = check(device), True
        except Exception as error:  # a FAIL line, never a traceback: the doctor must finish
            first = (str(error).strip().splitlines() or [type(error).__name__])[0]
            detail, passed = f"{type(error).__name__}: {first}"[:300], False
        results.append(CheckResult(name, passed, detail, round(time.perf_counter() - start, 2)))
    return results


def results_json(results: list[CheckResult]) -> list[dict]:
    return [asdict(r) for r in results]
