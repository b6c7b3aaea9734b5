"""fp32 where it matters, with no host-side switch: autocast off, and convolutions whose sums cancel computed to
fp32 accuracy even where the backend runs fp32 convolutions in TF32 (cuDNN's default).

A conv STFT or CQT in TF32 keeps about 3 significant digits of each product; the sums cancel, so the noise floor
sits near -60 dB and wipes out the bottom of the 80-dB image. Setting ``torch.backends`` precision flags would fix
that, but those are host-side settings that ``torch.compile`` cannot trace (a graph break at every call).
:func:`fp32_conv1d` instead splits both operands into a TF32-exact head and a small tail and sums the products of
the pairs ("3xTF32", as CUTLASS does): fp32 accuracy from TF32 tensor cores, pure tensor code that compiles whole.
"""
from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F

FP32_MANTISSA_BITS, TF32_MANTISSA_BITS = 23, 10
TF32_HEAD_MASK = -(1 << (FP32_MANTISSA_BITS - TF32_MANTISSA_BITS))  # clears the 13 mantissa bits TF32 drops


def autocast_off(device_type: str) -> contextlib.AbstractContextManager:
    """``torch.autocast(device_type, enabled=False)``; a no-op on devices without autocast (meta)."""
    if device_type == "meta":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device_type, enabled=False)


def tf32_split(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """fp32 ``x`` -> ``(head, tail)``, ``head + tail == x`` exactly: ``head`` is ``x`` with the mantissa bits TF32
    drops cleared (TF32-exact), ``tail`` the rest (``|tail| < 2^-10 |x|``, so TF32's rounding of it costs
    ``2^-21 |x|``). Gradients pass straight through ``head`` (``tail`` gets none), so a product summed over the
    pairs has the gradient of the unsplit product."""
    head_value = (x.detach().view(torch.int32) & TF32_HEAD_MASK).view(torch.float32)
    head = x + (head_value - x).detach()
    return head, x - head


def fp32_conv1d(x: torch.Tensor, weight: torch.Tensor, stride: int = 1, split: bool | None = None) -> torch.Tensor:
    """``(B, C_in, T) * (C_out, C_in, K)`` -> ``(B, C_out, frames)``, fp32-accurate whatever the fp32 conv setting.

    ``split`` (default: on any device but the CPU, whose fp32 convolutions are IEEE unless oneDNN is told
    otherwise): one convolution of the heads and tails of the input, as ``2 C_in`` channels, with the heads and
    tails of the weights, as ``2 C_out`` outputs; the two output halves summed give every head/tail product pair,
    each with TF32-exact or tiny operands. At an H100's published peaks four TF32 products take about half the
    time of one IEEE fp32 product. ``split=False``: the plain convolution."""
    split = _splits(x) if split is None else split
    return _convolve(_input_parts(x) if split else x, weight, stride, split)


def fp32_conv_power(x: torch.Tensor, real_weight: torch.Tensor, imaginary_weight: torch.Tensor, stride: int = 1,
                    split: bool | None = None) -> torch.Tensor:
    """``(B, C_in, T)`` -> ``(B, C_out, frames)``: ``real^2 + imaginary^2`` of the two convolutions with the real
    and imaginary kernels (a conv STFT's or CQT's power), each as :func:`fp32_conv1d`, the input split once."""
    split = _splits(x) if split is None else split
    parts = _input_parts(x) if split else x
    return (_convolve(parts, real_weight, stride, split).square()
            + _convolve(parts, imaginary_weight, stride, split).square())


def _splits(x: torch.Tensor) -> bool:
    return x.device.type != "cpu"


def _input_parts(x: torch.Tensor) -> torch.Tensor:
    """``(B, C_in, T)`` -> ``(B, 2 C_in, T)``: the heads, then the tails."""
    return torch.cat(tf32_split(x), dim=1)


def _convolve(x: torch.Tensor, weight: torch.Tensor, stride: int, split: bool) -> torch.Tensor:
    """The plain convolution of ``x``, or (``split``) that of the input parts :func:`_input_parts` made with the
    heads and tails of ``weight``, the two output halves summed."""
    if not split:
        return F.conv1d(x, weight, stride=stride)
    w_head, w_tail = tf32_split(weight)
    weights = torch.cat([torch.cat([w_head, w_head], dim=1), torch.cat([w_tail, w_tail], dim=1)])
    both = F.conv1d(x, weights, stride=stride)  # (B, 2 C_out, frames)
    return both[:, :weight.shape[0]] + both[:, weight.shape[0]:]
