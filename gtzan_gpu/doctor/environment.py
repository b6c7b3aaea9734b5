"""What a bug report needs first: versions of everything the project runs on, and the precision settings."""
from __future__ import annotations

import platform
import shutil
import subprocess

import torch

from gtzan_gpu import __version__
from gtzan_gpu.bench.machine import device_name


def _driver_version() -> str | None:
    if not shutil.which("nvidia-smi"):
        return None
    try:
        done = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip().splitlines()[0] if done.returncode == 0 and done.stdout.strip() else None


def _version(module: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(module)
    except metadata.PackageNotFoundError:
        return None


def environment_facts(device: torch.device) -> dict:
    """Versions, device and precision settings, JSON-ready."""
    import soundfile

    facts = {
        "gtzan_gpu": __version__, "python": platform.python_version(), "platform": platform.platform(),
        "torch": torch.__version__, "torchvision": _version("torchvision"), "torchaudio": _version("torchaudio"),
        "nnAudio": _version("nnAudio"), "soundfile": _version("soundfile"),
        "libsndfile": soundfile.__libsndfile_version__, "numpy": _version("numpy"),
        "device": device_name(device), "device_type": device.type, "cpu_threads": torch.get_num_threads(),
        "cuda_available": torch.cuda.is_available(), "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "driver": _driver_version(), "cuda_devices": torch.cuda.device_count() if torch.cuda.is_available() else 0,
        "precision": {"matmul_fp32": torch.backends.cuda.matmul.fp32_precision,
                      "cudnn_conv_fp32": torch.backends.cudnn.conv.fp32_precision,
                      "float32_matmul_precision": torch.get_float32_matmul_precision()},
    }
    if device.type == "cuda":
        free, total = torch.cuda.mem_get_info(device)
        facts["memory_gib"] = round(total / 2 ** 30, 1)
        facts["memory_free_gib"] = round(free / 2 ** 30, 1)
        facts["capability"] = ".".join(map(str, torch.cuda.get_device_capability(device)))
    return facts
