"""Which device a run uses, and its autocast context."""
from __future__ import annotations

import torch

from gtzan_gpu.errors import GtzanError

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when present, else CPU; ``cuda`` without a CUDA device is a one-line error."""
    if name not in DEVICES:
        raise GtzanError(f"unknown --device {name!r} (choose from {', '.join(DEVICES)})")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise GtzanError("--device cuda: no CUDA device is available (use --device cpu or auto)")
    return torch.device(name)


def autocast(device: torch.device, enabled: bool):
    """bf16 autocast on CUDA when ``enabled`` (no loss scaling needed); a no-op elsewhere."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled and device.type == "cuda")
