"""One-channel time-frequency front ends beside the seed's RGB image: log-mel and CQT, as GPU layers.

Both give ``(B, T) -> (B, 1, S, S)``: the dB map relative to each example's maximum (80-dB floor, as
``librosa.power_to_db(ref=np.max)`` / ``amplitude_to_db(ref=np.max)``), scaled to [0, 1] (``(dB + 80) / 80``)
and area-averaged to ``S x S`` (time and, where there are more bins than rows, frequency), so the seed's CNN
and ResNet18 take them at the same image size. Buffers (mel filters, CQT kernels) are built in ``__init__``;
``forward`` is pure tensor code, in fp32 whatever the surrounding precision (see ``precision.full_fp32``).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
import torchaudio.functional as AF
from torch import nn

from gtzan_gpu.features.precision import full_fp32
from gtzan_gpu.features.stft import MagnitudeSTFT

TOP_DB = 80.0
CQT_FMIN = 32.70319566257483  # C1
CQT_BINS, CQT_BINS_PER_OCTAVE = 84, 12


def decibels_to_unit(db: torch.Tensor, size: int, spec_augment: nn.Module | None = None) -> torch.Tensor:
    """``(B, F, N)`` dB re each example's max -> ``(B, 1, size, size)`` in [0, 1], area-averaged; with
    ``spec_augment`` (training), masked cells take the floor (0)."""
    unit = F.adaptive_avg_pool2d(((db + TOP_DB) / TOP_DB).unsqueeze(1), (size, size))
    if spec_augment is not None:
        unit = spec_augment(unit.squeeze(1), 0.0).unsqueeze(1)
    return unit


def relative_decibels(values: torch.Tensor, power: bool, amin: float) -> torch.Tensor:
    """``(B, F, N)`` power or magnitude -> dB re each example's maximum, floored ``TOP_DB`` below it."""
    scale = 10.0 if power else 20.0
    db = scale * torch.log10(values.clamp_min(amin))
    db = db - db.amax(dim=(1, 2), keepdim=True)
    return db.clamp_min(-TOP_DB)


class LogMelSpectrogram(nn.Module):
    """``(B, T)`` waveform -> ``(B, 1, S, S)`` log-mel image, or ``(B, n_mels, frames)`` dB with ``image=False``.

    Mel filters are librosa's defaults (Slaney mel scale, Slaney area normalisation, 0 Hz to Nyquist), applied to
    the power STFT of the same :class:`MagnitudeSTFT` the image front end uses (either backend).
    """

    def __init__(self, sample_rate: int = 22050, n_fft: int = 2048, hop_length: int = 512, n_mels: int = 128,
                 size: int = 128, backend: str = "nnaudio", trainable: bool = False):
        super().__init__()
        self.size = size
        self.spec_augment: nn.Module | None = None  # set by build_classifier for --augment specaugment
        self.stft = MagnitudeSTFT(n_fft, hop_length, backend, trainable)
        filters = AF.melscale_fbanks(n_fft // 2 + 1, 0.0, sample_rate / 2, n_mels, sample_rate, norm="slaney",
                                     mel_scale="slaney")  # (bins, mels)
        self.register_buffer("mel_filters", filters.T.contiguous(), persistent=False)  # (mels, bins)

    @torch.compiler.disable  # precision switches are host-side settings dynamo cannot trace
    def decibels(self, waveform: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` -> ``(B, n_mels, frames)`` dB re each example's max (``power_to_db(ref=np.max)``)."""
        power = self.stft(waveform) ** 2
        with full_fp32(waveform.device.type):
            mel = torch.matmul(self.mel_filters, power)
        return relative_decibels(mel, power=True, amin=1e-10)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return decibels_to_unit(self.decibels(waveform), self.size, self.spec_augment)


class ConstantQ(nn.Module):
    """``(B, T)`` waveform -> ``(B, 1, S, S)`` CQT image: nnAudio's CQT (84 bins, 12 per octave from C1, hop 512),
    magnitude in dB re each example's max."""

    def __init__(self, sample_rate: int = 22050, hop_length: int = 512, size: int = 128):
        super().__init__()
        from nnAudio.features import CQT1992v2

        self.size = size
        self.spec_augment: nn.Module | None = None  # set by build_classifier for --augment specaugment
        self.cqt = CQT1992v2(sr=sample_rate, hop_length=hop_length, fmin=CQT_FMIN, n_bins=CQT_BINS,
                             bins_per_octave=CQT_BINS_PER_OCTAVE, output_format="Magnitude", verbose=False)

    @torch.compiler.disable
    def decibels(self, waveform: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` -> ``(B, 84, frames)`` dB re each example's max (``amplitude_to_db(ref=np.max)``)."""
        with full_fp32(waveform.device.type):
            magnitude = self.cqt(waveform.float())
        return relative_decibels(magnitude, power=False, amin=1e-5)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return decibels_to_unit(self.decibels(waveform), self.size, self.spec_augment)
