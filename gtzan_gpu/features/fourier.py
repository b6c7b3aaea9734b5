"""A complex spectrum's real and imaginary parts as two float32 tensors that inductor's CPU loops load as whole vectors.

For speed under ``torch.compile``, the same numbers as ``view_as_real`` (bit for bit): inductor generates no code for
complex tensors, and the parts of ``view_as_real`` are every other float, which its CPU loops load one by one.
"""
from __future__ import annotations

import sys

import torch


def complex_parts(spectrum: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(..., F)`` complex64 -> its real and imaginary parts, two ``(..., F)`` float32 tensors, read through an int64
    view of each complex number's 8 bytes (the real part is the low word: little-endian, as every CPU and GPU torch
    runs on), so inductor's loops load whole vectors; ``view_as_real``'s stride-2 parts become element-by-element
    loads there (this CPU: 4.5x slower). Not exportable (ONNX has no bit cast): for compiled code."""
    if sys.byteorder != "little":
        raise RuntimeError("complex_parts reads complex64 as int64 words and needs a little-endian machine")
    words = spectrum.view(torch.int64)
    return words.to(torch.int32).view(torch.float32), (words >> 32).to(torch.int32).view(torch.float32)

