"""Magnitude STFT with librosa's framing, computed in fp32 whatever the surrounding precision.

Two backends give the same numbers: ``nnaudio`` (nnAudio's conv1d STFT, optionally with trainable
Fourier kernels) and ``torch`` (``torch.stft``, cuFFT/pocketfft). Framing is librosa's default:
periodic Hann window, ``center=True`` with zero padding of ``n_fft // 2`` on each side.
"""
from __future__ import annotations

import torch
from torch import nn

from gtzan_gpu.features.precision import full_fp32

STFT_BACKENDS = ("nnaudio", "torch")


class MagnitudeSTFT(nn.Module):
    """``(B, T)`` waveform -> ``(B, n_fft // 2 + 1, 1 + T // hop_length)`` float32 magnitude.

    Args:
        n_fft: FFT size (= window length).
        hop_length: frame hop in samples.
        backend: ``"nnaudio"`` or ``"torch"``.
        trainable: learn the Fourier kernels (``nnaudio`` only).
    """

    def __init__(self, n_fft: int = 2048, hop_length: int = 512, backend: str = "nnaudio", trainable: bool = False):
        super().__init__()
        if backend not in STFT_BACKENDS:
            raise ValueError(f"unknown STFT backend {backend!r} (choose from {', '.join(STFT_BACKENDS)})")
        if trainable and backend != "nnaudio":
            raise ValueError("trainable=True needs the 'nnaudio' STFT backend (torch.stft has no kernels to learn)")
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.backend = backend
        self.trainable = trainable
        if backend == "nnaudio":
            from nnAudio.features import STFT

            self.kernels = STFT(n_fft=n_fft, hop_length=hop_length, window="hann", center=True, pad_mode="constant",
                                trainable=trainable, output_format="Magnitude", verbose=False)
        else:
            self.register_buffer("window", torch.hann_window(n_fft, periodic=True), persistent=False)

    @property
    def n_bins(self) -> int:
        return self.n_fft // 2 + 1

    # torch.compile runs this eagerly (one graph break): the precision switches are host-side settings
    # that dynamo cannot trace, and the STFT must not be compiled down to TF32 kernels.
    @torch.compiler.disable
    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        with full_fp32(waveform.device.type):
            waveform = waveform.float()
            if self.backend == "nnaudio":
                return self.kernels(waveform)
            spectrum = torch.stft(waveform, self.n_fft, self.hop_length, window=self.window, center=True,
                                  pad_mode="constant", return_complex=True)
            return spectrum.abs()

    def extra_repr(self) -> str:
        return f"n_fft={self.n_fft}, hop_length={self.hop_length}, backend={self.backend!r}, trainable={self.trainable}"
