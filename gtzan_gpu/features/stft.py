"""Magnitude STFT with librosa's framing, computed in fp32 whatever the surrounding precision.

Two backends give the same numbers: ``nnaudio`` (nnAudio's conv1d STFT, optionally with trainable
Fourier kernels) and ``torch`` (framed ``torch.fft.rfft``, cuFFT/pocketfft: what ``torch.stft`` computes, without
its transposed complex output). Framing is librosa's default: periodic Hann window, ``center=True`` with zero
padding of ``n_fft // 2`` on each side.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gtzan_gpu.features.fourier import complex_parts
from gtzan_gpu.features.precision import autocast_off, fp32_conv_power

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

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` -> ``(B, F, frames)`` magnitude."""
        if self.backend == "nnaudio":  # nnAudio's epsilon for learned kernels: no NaN gradient at a zero bin
            return (self._nnaudio_power(waveform) + (1e-8 if self.trainable else 0.0)).sqrt()
        return self.power_frames(waveform).sqrt().transpose(1, 2)

    def power_frames(self, waveform: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` -> ``(B, frames, F)`` power ``|X|^2``, frames first (the FFT's own layout: no transpose).

        ``torch`` backend: the waveform is padded by a ``cat`` with zeros (under ``torch.compile`` inductor writes a
        cat as plain copies; ``F.pad`` fused into the framing costs a masked load per sample, 3x slower here), the
        windowed frames go to one batched ``rfft``, and the power is read from the real and imaginary parts, never a
        magnitude or a transposed copy. The parts: eager, ``view_as_real``'s; compiled (dynamo), the spectrum's
        int64 words (:func:`complex_parts`: whole-vector loads, where inductor would load every other float one by
        one), for a waveform that needs no gradient (words carry none). No precision switch is needed (an FFT has
        no TF32 path), so ``torch.compile`` traces it whole. ``nnaudio``: the conv STFT, fp32-accurate by
        :func:`fp32_conv_power` (no switch: it compiles whole too)."""
        if self.backend == "nnaudio":
            return self._nnaudio_power(waveform).transpose(1, 2)
        with autocast_off(waveform.device.type):
            zeros = waveform.new_zeros(waveform.shape[0], self.n_fft // 2, dtype=torch.float32)
            padded = torch.cat([zeros, waveform.float(), zeros], dim=-1)  # (B, T + n_fft)
            frames = padded.unfold(-1, self.n_fft, self.hop_length)  # (B, frames, n_fft), a view
            spectrum = torch.fft.rfft(frames * self.window)  # (B, frames, F) complex
            if torch.compiler.is_dynamo_compiling() and not waveform.requires_grad:
                real, imag = complex_parts(spectrum)
            else:
                real, imag = torch.view_as_real(spectrum).unbind(-1)
            return torch.addcmul(real * real, imag, imag)  # two passes over strided parts (eager), not three

    def _nnaudio_power(self, waveform: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` -> ``(B, F, frames)`` power: nnAudio's STFT (its cosine and sine kernels, zero padding, hop as
        stride) with the convolutions by :func:`fp32_conv_power`. Its sums cancel, so TF32 (cuDNN's default for fp32
        convolutions) would leave a noise floor near -60 dB; the head/tail split keeps fp32 accuracy instead of a
        precision switch that ``torch.compile`` could not trace."""
        with autocast_off(waveform.device.type):
            half = self.n_fft // 2
            padded = F.pad(waveform.float().unsqueeze(1), (half, half))
            return fp32_conv_power(padded, self.kernels.wcos, self.kernels.wsin, self.hop_length)

    def extra_repr(self) -> str:
        return f"n_fft={self.n_fft}, hop_length={self.hop_length}, backend={self.backend!r}, trainable={self.trainable}"
