"""Run a block in true fp32: autocast off, TF32 off for every backend, previous settings restored after.

A conv-based STFT in TF32 (cuDNN's default for fp32 convolutions) or bf16 keeps about 3 significant
digits, which puts its noise floor near -60 dB and wipes out the bottom of the 80-dB image.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch


def _precision_backends() -> list:
    """Every backend namespace in this torch build that has an ``fp32_precision`` knob."""
    candidates = [
        getattr(torch.backends.cudnn, "conv", None),
        getattr(torch.backends.cuda, "matmul", None),
        getattr(torch.backends.mkldnn, "conv", None),
        getattr(torch.backends.mkldnn, "matmul", None),
    ]
    return [backend for backend in candidates if backend is not None and hasattr(backend, "fp32_precision")]


def autocast_off(device_type: str) -> contextlib.AbstractContextManager:
    """``torch.autocast(device_type, enabled=False)``; a no-op on devices without autocast (meta)."""
    if device_type == "meta":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device_type, enabled=False)


@contextlib.contextmanager
def full_fp32(device_type: str) -> Iterator[None]:
    """Disable autocast on ``device_type`` and force IEEE fp32 convolutions and matmuls inside the block."""
    backends = _precision_backends()
    previous = [backend.fp32_precision for backend in backends]
    for backend in backends:
        backend.fp32_precision = "ieee"
    try:
        with autocast_off(device_type):
            yield
    finally:
        for backend, value in zip(backends, previous):
            backend.fp32_precision = value
