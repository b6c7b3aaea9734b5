"""MusiCNN's input as a GPU layer: resample to 16 kHz, 512 / 256 power STFT, 96 Slaney mels, ``log10(1 + 10^4 x)``.

The musicnn project computes it with librosa on the host (``librosa.load(sr=16000)``, ``melspectrogram(n_fft=512,
hop_length=256, n_mels=96)``), rounds the mel power to float16 (its models were trained on float16 maps) and takes
``np.log10(10000 * power + 1)``, which numpy's value-based casting computes in float32.

This layer does the same on the batch's device: a resampler shaped after soxr's
(:mod:`gtzan_gpu.features.resampling`), the shared :class:`MagnitudeSTFT` (either ``--stft-backend``; librosa's
framing: periodic Hann, centred, zero padding as librosa >= 0.10 pads), librosa's default mel bank, and the
reference's rounding of the power to float16 (then the log in float32), so the values equal the reference's wherever
our float32 power rounds to the same half.
"""
from __future__ import annotations

import torch
import torchaudio.functional as AF
from torch import nn

from gtzan_gpu.features.precision import autocast_off
from gtzan_gpu.features.resampling import soxr_like_resampler
from gtzan_gpu.features.stft import MagnitudeSTFT

MUSICNN_SAMPLE_RATE = 16000
MUSICNN_N_FFT, MUSICNN_HOP, MUSICNN_MELS = 512, 256, 96
LOG_GAIN = 10000.0


PATCH_PADDINGS = ("none", "repeat", "zeros")
TRAINED_PATCH_SECONDS = 3.0  # the checkpoints' training patches (187 frames)


def pad_to_patch(waveform: torch.Tensor, samples: int, mode: str) -> torch.Tensor:
    """``(B, T) -> (B, max(T, samples))``: a segment shorter than the models' 3-s patches repeated (musicnn's training
    ``repeat-pad``) or zero-padded to ``samples``; ``none`` and longer segments are returned as they are. Pure tensor
    code: the length is static."""
    length = waveform.shape[-1]
    if mode == "none" or length >= samples:
        return waveform
    if mode == "zeros":
        return torch.nn.functional.pad(waveform, (0, samples - length))
    return waveform.repeat(1, -(-samples // length))[:, :samples]


def frames_of(seconds: float) -> int:
    """Frames of a MusiCNN patch of ``seconds``, as the reference counts them (``librosa.time_to_frames(seconds,
    sr=16000, n_fft=512, hop_length=256) + 1``): 187 for its 3 s."""
    return max(1, (int(round(seconds * MUSICNN_SAMPLE_RATE)) - MUSICNN_N_FFT // 2) // MUSICNN_HOP + 1)


class MusicnnMel(nn.Module):
    """``(B, T)`` waveform at ``sample_rate`` -> ``(B, 1, 96, N)`` MusiCNN log-mel, N = ``T' // 256 + 1`` frames of
    the 16 kHz signal (T' samples).

    Args:
        sample_rate: the corpus rate; resampled to 16 kHz on the device when it differs.
        backend: ``--stft-backend`` (``nnaudio`` conv kernels or ``torch`` FFT).
        half_precision_power: round the mel power to float16 as the reference does (default: the checkpoints were
            trained on such maps).
        patch_padding: ``none``, or bring a segment shorter than 3 s up to the models' 3-s patch by ``repeat`` or
            ``zeros`` (before resampling, at the corpus rate).
    """

    def __init__(self, sample_rate: int = 22050, backend: str = "nnaudio", half_precision_power: bool = True,
                 patch_padding: str = "none"):
        super().__init__()
        if patch_padding not in PATCH_PADDINGS:
            raise ValueError(f"unknown patch_padding {patch_padding!r} (choose from {', '.join(PATCH_PADDINGS)})")
        self.patch_padding = patch_padding
        self.patch_samples = int(round(TRAINED_PATCH_SECONDS * sample_rate))
        self.sample_rate = sample_rate
        self.half_precision_power = half_precision_power
        self.spec_augment: nn.Module | None = None  # set by build_classifier for --augment specaugment
        self.resample = soxr_like_resampler(sample_rate, MUSICNN_SAMPLE_RATE)
        self.stft = MagnitudeSTFT(MUSICNN_N_FFT, MUSICNN_HOP, backend)
        filters = AF.melscale_fbanks(MUSICNN_N_FFT // 2 + 1, 0.0, MUSICNN_SAMPLE_RATE / 2, MUSICNN_MELS,
                                     MUSICNN_SAMPLE_RATE, norm="slaney", mel_scale="slaney")  # (bins, mels)
        self.register_buffer("mel_filter_columns", filters.contiguous(), persistent=False)

    def resampled(self, waveform: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` -> ``(B, T')`` at 16 kHz, float32."""
        waveform = waveform.float()
        return waveform if self.resample is None else self.resample(waveform)

    def log_mel(self, waveform16k: torch.Tensor) -> torch.Tensor:
        """``(B, T')`` 16-kHz waveform -> ``(B, 96, N)`` ``log10(1 + 10^4 mel power)``."""
        with autocast_off(waveform16k.device.type):
            power = self.stft.power_frames(waveform16k)  # (B, N, 257)
            mel = torch.matmul(power, self.mel_filter_columns)  # (B, N, 96)
            if self.half_precision_power:
                mel = mel.half().float()
            return torch.log10(mel * LOG_GAIN + 1.0).transpose(1, 2)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        mel = self.log_mel(self.resampled(pad_to_patch(waveform, self.patch_samples, self.patch_padding)))
        if self.spec_augment is not None:  # masked cells take each example's mean
            mel = self.spec_augment(mel, mel.mean(dim=(1, 2)).view(-1, 1, 1))
        return mel.unsqueeze(1)

    def extra_repr(self) -> str:
        return (f"sample_rate={self.sample_rate}, half_precision_power={self.half_precision_power}, "
                f"patch_padding={self.patch_padding!r}")
