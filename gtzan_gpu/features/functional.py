"""Tensor functions the front ends share: decibels against each example's maximum or a fixed reference, and the
dB map scaled to a unit image. Pure tensor code (no host reads), as :mod:`torchaudio.functional` is to its
transforms."""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from gtzan_gpu.features.logarithm import arithmetic_log10

TOP_DB = 80.0            # the seed's floor, below each example's maximum
FIXED_FLOOR_DB = 100.0   # floor of the fixed reference (1.0): -100 dB
DB_REFERENCES = ("max", "fixed")


def decibels_to_unit(db: torch.Tensor, size: int, spec_augment: nn.Module | None = None,
                     floor_db: float = TOP_DB) -> torch.Tensor:
    """``(B, F, N)`` dB (floor at ``-floor_db``) -> ``(B, 1, size, size)``, ``(dB + floor_db) / floor_db``,
    area-averaged; with ``spec_augment`` (training), masked cells take each example's mean value, so a mask
    hides information without adding an extreme value that BatchNorm statistics and the first convolution
    would then have to learn to ignore."""
    unit = F.adaptive_avg_pool2d(((db + floor_db) / floor_db).unsqueeze(1), (size, size))
    if spec_augment is not None:
        mean = unit.mean(dim=(2, 3))  # (B, 1)
        unit = spec_augment(unit.squeeze(1), mean.unsqueeze(2)).unsqueeze(1)
    return unit


def log10_of(values: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """The ``log10`` for ``values``' dB: :func:`arithmetic_log10` where inductor compiles it for a CPU and no gradient
    is needed (SLEEF's ``log10`` is most of that dB step there), ``torch.log10`` everywhere else (eager, GPUs,
    export, gradients)."""
    if torch.compiler.is_dynamo_compiling() and values.device.type == "cpu" and not values.requires_grad:
        return arithmetic_log10
    return torch.log10


def relative_decibels(values: torch.Tensor, power: bool, amin: float, top_db: float = TOP_DB,
                      with_lowest: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """``(B, X, Y)`` power or magnitude (bins x frames, or frames x bins) -> dB re each example's maximum, floored
    ``top_db`` below it (``librosa.power_to_db`` / ``amplitude_to_db`` with ``ref=np.max``).

    The maximum is read before the log (the log is monotonic) and the floor is applied to the values
    (``max(v, peak 10^(-top_db / scale))``): three passes over the map (floor, log, scale-and-shift) where the
    formula as written takes five. ``with_lowest``: also each example's lowest dB ``(B, 1, 1)``, read from the
    values' minimum the same way, so the dB map itself is never reduced."""
    scale, log10 = 10.0 if power else 20.0, log10_of(values)
    peak = values.amax(dim=(1, 2), keepdim=True).clamp_min(amin)
    floor = torch.maximum(peak * 10.0 ** (-top_db / scale), torch.full_like(peak, amin))
    reference = -scale * log10(peak)

    def relative(x: torch.Tensor) -> torch.Tensor:
        return torch.add(reference, log10(torch.maximum(x, floor)), alpha=scale)

    if with_lowest:
        return relative(values), relative(values.amin(dim=(1, 2), keepdim=True))
    return relative(values)


def fixed_decibels(values: torch.Tensor, power: bool, amin: float) -> torch.Tensor:
    """Power or magnitude, any shape -> dB re 1.0 (``10 log10`` or ``20 log10``), floored by ``amin``."""
    scale = 10.0 if power else 20.0
    return scale * log10_of(values)(values.clamp_min(amin))


def to_decibels(values: torch.Tensor, power: bool, reference: str) -> torch.Tensor:
    """dB re each example's max (``reference="max"``) or re 1.0 (``"fixed"``, floor ``-FIXED_FLOOR_DB``)."""
    if reference == "fixed":
        return fixed_decibels(values, power, 10 ** (-FIXED_FLOOR_DB / (10.0 if power else 20.0)))
    return relative_decibels(values, power, 1e-10 if power else 1e-5)


def floor_of(reference: str) -> float:
    """How far below its reference a front end's dB map reaches: 80 dB re max, 100 dB re 1.0."""
    return FIXED_FLOOR_DB if reference == "fixed" else TOP_DB
