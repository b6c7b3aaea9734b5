"""The augmentation modules (see the package docstring)."""
from __future__ import annotations

import torch
from torch import nn

AUGMENTATIONS = ("crop", "gain", "noise", "mixup", "specaugment")


def augment_seed(seed: int, epoch: int, rank: int = 0) -> int:
    """The seed every augmentation generator starts an epoch from."""
    return (seed * 1_000_003 + epoch * 7_919 + rank * 104_729 + 17) % (2 ** 62)


class SeededAugment(nn.Module):
    """Base: a module with its own generator on the batch's device, active only in training mode."""

    salt = 0  # distinct per augmentation, so two modules never draw the same numbers

    def __init__(self):
        super().__init__()
        self._generator: torch.Generator | None = None
        self._seed = 0

    def reseed(self, seed: int) -> None:
        """Start drawing from ``seed`` (the generator is made on the next batch's device)."""
        self._seed = seed + self.salt
        self._generator = None

    def generator(self, device: torch.device) -> torch.Generator | None:
        if device.type == "meta":  # shapes only: nothing is drawn
            return None
        if self._generator is None or self._generator.device != device:
            self._generator = torch.Generator(device).manual_seed(self._seed)
        return self._generator

    def uniform(self, shape: tuple[int, ...], device: torch.device, low: float, high: float) -> torch.Tensor:
        return torch.rand(shape, generator=self.generator(device), device=device) * (high - low) + low


class Gain(SeededAugment):
    """``(B, T) -> (B, T)``: each example scaled by a gain drawn uniformly in [-max_db, max_db] dB."""

    salt = 1

    def __init__(self, max_db: float = 6.0):
        super().__init__()
        self.max_db = max_db

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return waveform
        db = self.uniform((waveform.shape[0], 1), waveform.device, -self.max_db, self.max_db)
        return waveform * torch.pow(10.0, db / 20.0)


class Noise(SeededAugment):
    """``(B, T) -> (B, T)``: white noise added to each example at an SNR drawn uniformly in
    [min_snr_db, max_snr_db] relative to that example's RMS."""

    salt = 2

    def __init__(self, min_snr_db: float = 10.0, max_snr_db: float = 40.0):
        super().__init__()
        self.min_snr_db, self.max_snr_db = min_snr_db, max_snr_db

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return waveform
        device = waveform.device
        snr = self.uniform((waveform.shape[0], 1), device, self.min_snr_db, self.max_snr_db)
        rms = waveform.float().pow(2).mean(dim=1, keepdim=True).sqrt()
        noise = torch.randn(waveform.shape, generator=self.generator(device), device=device)
        return waveform + noise * rms * torch.pow(10.0, -snr / 20.0)


class SpecAugment(SeededAugment):
    """``(B, H, W)`` time-frequency values -> the same with ``masks`` frequency bands and ``masks`` time spans
    set to ``floor`` (each up to ``max_width`` of the axis), so the image shows the floor colour there.
    Applied by the front ends before their colormap / scaling."""

    salt = 3

    def __init__(self, masks: int = 2, max_width: float = 0.15):
        super().__init__()
        self.masks, self.max_width = masks, max_width

    def _band(self, batch: int, size: int, device: torch.device) -> torch.Tensor:
        """``(B, size)`` bool: the union of ``masks`` random spans along one axis."""
        width = (self.uniform((batch, self.masks, 1), device, 0.0, 1.0) * self.max_width * size).floor()
        start = (self.uniform((batch, self.masks, 1), device, 0.0, 1.0) * (size - width + 1)).floor()
        position = torch.arange(size, device=device).view(1, 1, size)
        return ((position >= start) & (position < start + width)).any(dim=1)

    def forward(self, values: torch.Tensor, floor: torch.Tensor | float) -> torch.Tensor:
        if not self.training:
            return values
        batch, height, width = values.shape
        rows = self._band(batch, height, values.device).unsqueeze(2)
        columns = self._band(batch, width, values.device).unsqueeze(1)
        floor = torch.as_tensor(floor, dtype=values.dtype, device=values.device)
        return torch.where(rows | columns, floor, values)


def reseed_augmentations(model: nn.Module, seed: int) -> None:
    """Reseed every augmentation module inside ``model`` (call at each epoch start)."""
    for module in model.modules():
        if isinstance(module, SeededAugment):
            module.reseed(seed)
