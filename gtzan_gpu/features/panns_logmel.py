"""PANNs' input as a GPU layer (Kong et al. 2020, torchlibrosa's Spectrogram + LogmelFilterBank): resample to
32 kHz, power STFT of 1024 / 320 (periodic Hann, centred, reflect padding), 64 Slaney mels from 50 to 14,000 Hz,
``10 log10(max(x, 1e-10))`` (dB re 1.0, no top-dB clip)."""
from __future__ import annotations

import torch
import torchaudio.functional as AF
from torch import nn

from gtzan_gpu.features.precision import autocast_off
from gtzan_gpu.features.resampling import soxr_like_resampler

PANNS_SAMPLE_RATE, PANNS_N_FFT, PANNS_HOP, PANNS_MELS = 32000, 1024, 320, 64
PANNS_FMIN, PANNS_FMAX, PANNS_AMIN = 50.0, 14000.0, 1e-10


class PannsLogMel(nn.Module):
    """``(B, T)`` waveform at ``sample_rate`` -> ``(B, 1, 64, N)`` dB log-mel, N = ``T' // 320 + 1`` frames at 32 kHz
    (mel rows, time columns, as every front end here; PANNs' own maps are time x mel)."""

    def __init__(self, sample_rate: int = 22050):
        super().__init__()
        self.sample_rate = sample_rate
        self.spec_augment: nn.Module | None = None  # set by build_classifier for --augment specaugment
        self.resample = soxr_like_resampler(sample_rate, PANNS_SAMPLE_RATE)
        self.register_buffer("window", torch.hann_window(PANNS_N_FFT, periodic=True), persistent=False)
        filters = AF.melscale_fbanks(PANNS_N_FFT // 2 + 1, PANNS_FMIN, PANNS_FMAX, PANNS_MELS, PANNS_SAMPLE_RATE,
                                     norm="slaney", mel_scale="slaney")  # (bins, mels), librosa.filters.mel's
        self.register_buffer("mel_filter_columns", filters.contiguous(), persistent=False)

    def decibels(self, waveform: torch.Tensor) -> torch.Tensor:
        """``(B, T) -> (B, 64, N)`` dB re 1.0 at 32 kHz."""
        with autocast_off(waveform.device.type):
            waveform = waveform.float()
            if self.resample is not None:
                waveform = self.resample(waveform)
            spectrum = torch.stft(waveform, PANNS_N_FFT, PANNS_HOP, window=self.window, center=True,
                                  pad_mode="reflect", return_complex=True)  # (B, F, N)
            power = spectrum.real.square() + spectrum.imag.square()
            mel = torch.matmul(power.transpose(1, 2), self.mel_filter_columns)  # (B, N, 64)
            return (10.0 * torch.log10(mel.clamp_min(PANNS_AMIN))).transpose(1, 2)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        db = self.decibels(waveform)
        if self.spec_augment is not None:  # masked cells take each example's mean
            db = self.spec_augment(db, db.mean(dim=(1, 2)).view(-1, 1, 1))
        return db.unsqueeze(1)

    def extra_repr(self) -> str:
        return f"sample_rate={self.sample_rate}"
