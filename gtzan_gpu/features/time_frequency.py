"""One-channel time-frequency front ends beside the seed's RGB image: log-mel and CQT, as GPU layers.

Both give ``(B, T) -> (B, 1, S, S)``, area-averaged to ``S x S`` (time and, where there are more bins than rows,
frequency), so the seed's CNN and ResNet18 take them at the same image size. The dB reference is an option:

- ``max`` (default): dB relative to each example's maximum (80-dB floor, as ``librosa.power_to_db(ref=np.max)`` /
  ``amplitude_to_db(ref=np.max)``), scaled to [0, 1] by ``(dB + 80) / 80``. Loudness is divided out: a gain
  applied to the waveform changes nothing.
- ``fixed``: dB relative to a constant (1.0, librosa's default ``ref``; ``amin`` sets a -100 dB floor for power,
  -100 dB for magnitude), scaled by ``(dB + 100) / 100`` and not clipped above, as PANNs feed their log-mel.
  Loudness is kept, so ``--augment gain`` changes the input.

Buffers (mel filters, CQT kernels) are built in ``__init__``; ``forward`` is pure tensor code, in fp32 whatever
the surrounding precision, with no host-side switch, so ``torch.compile`` traces both whole (the CQT's convolution
by :func:`precision.fp32_conv_power`; the log-mel's product needs nothing: its terms are all positive).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
import torchaudio.functional as AF
from torch import nn

from gtzan_gpu.features.functional import (DB_REFERENCES, FIXED_FLOOR_DB, TOP_DB, decibels_to_unit, floor_of,
                                           to_decibels)
from gtzan_gpu.features.precision import autocast_off, fp32_conv_power
from gtzan_gpu.features.stft import MagnitudeSTFT

__all__ = ["ConstantQ", "LogMelSpectrogram", "DB_REFERENCES", "FIXED_FLOOR_DB", "TOP_DB", "CQT_FMIN"]

CQT_FMIN = 32.70319566257483  # C1
CQT_BINS, CQT_BINS_PER_OCTAVE = 84, 12


class LogMelSpectrogram(nn.Module):
    """``(B, T)`` waveform -> ``(B, 1, S, S)`` log-mel image, or ``(B, n_mels, frames)`` dB with ``image=False``.

    Mel filters are librosa's defaults (Slaney mel scale, Slaney area normalisation, 0 Hz to Nyquist), applied to
    the power STFT of the same :class:`MagnitudeSTFT` the image front end uses (either backend).
    """

    def __init__(self, sample_rate: int = 22050, n_fft: int = 2048, hop_length: int = 512, n_mels: int = 128,
                 size: int = 128, backend: str = "nnaudio", trainable: bool = False, db_reference: str = "max"):
        super().__init__()
        self.size = size
        self.db_reference = db_reference
        self.spec_augment: nn.Module | None = None  # set by build_classifier for --augment specaugment
        self.stft = MagnitudeSTFT(n_fft, hop_length, backend, trainable)
        filters = AF.melscale_fbanks(n_fft // 2 + 1, 0.0, sample_rate / 2, n_mels, sample_rate, norm="slaney",
                                     mel_scale="slaney")  # (bins, mels)
        self.register_buffer("mel_filter_columns", filters.contiguous(), persistent=False)  # (bins, mels)

    def decibels(self, waveform: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` -> ``(B, n_mels, frames)`` dB re each example's max (``power_to_db(ref=np.max)``) or re 1.0.

        The mel product takes the power frames first, ``(B, frames, F) @ (F, n_mels)``, in whatever fp32 mode the
        machine is in: its terms are all positive (power times filter weights), so nothing cancels and TF32's
        1e-3 relative error is 0.004 dB, unlike a conv STFT's. No precision switch, so ``torch.compile`` traces it
        (with the torch STFT backend) without a graph break."""
        power = self.stft.power_frames(waveform)
        with autocast_off(power.device.type):
            mel = torch.matmul(power, self.mel_filter_columns).transpose(1, 2)
            return to_decibels(mel, power=True, reference=self.db_reference)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return decibels_to_unit(self.decibels(waveform), self.size, self.spec_augment, floor_of(self.db_reference))


class ConstantQ(nn.Module):
    """``(B, T)`` waveform -> ``(B, 1, S, S)`` CQT image: nnAudio's CQT (84 bins, 12 per octave from C1, hop 512),
    magnitude in dB re each example's max.

    nnAudio's ``CQT1992v2`` makes the kernels (and keeps them, as checkpoints have always stored them); the forward
    pass is its computation (reflect padding, the real and imaginary kernels, librosa's ``sqrt(length)``
    normalisation) done by :func:`fp32_conv_power`, so it is fp32-accurate on a GPU without a precision switch."""

    def __init__(self, sample_rate: int = 22050, hop_length: int = 512, size: int = 128, db_reference: str = "max"):
        super().__init__()
        from nnAudio.features import CQT1992v2

        self.size = size
        self.db_reference = db_reference
        self.spec_augment: nn.Module | None = None  # set by build_classifier for --augment specaugment
        self.cqt = CQT1992v2(sr=sample_rate, hop_length=hop_length, fmin=CQT_FMIN, n_bins=CQT_BINS,
                             bins_per_octave=CQT_BINS_PER_OCTAVE, output_format="Magnitude", verbose=False)

    def magnitude(self, waveform: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` -> ``(B, 84, frames)`` CQT magnitude, as ``CQT1992v2(output_format="Magnitude")`` gives it."""
        with autocast_off(waveform.device.type):
            half = self.cqt.kernel_width // 2
            padded = F.pad(waveform.float().unsqueeze(1), (half, half), mode=self.cqt.pad_mode)
            power = fp32_conv_power(padded, self.cqt.cqt_kernels_real, self.cqt.cqt_kernels_imag, self.cqt.hop_length)
            return power.sqrt() * self.cqt.lenghts.sqrt().unsqueeze(1)

    def decibels(self, waveform: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` -> ``(B, 84, frames)`` dB re each example's max (``amplitude_to_db(ref=np.max)``) or re 1.0."""
        magnitude = self.magnitude(waveform)
        with autocast_off(magnitude.device.type):
            return to_decibels(magnitude, power=False, reference=self.db_reference)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return decibels_to_unit(self.decibels(waveform), self.size, self.spec_augment, floor_of(self.db_reference))
