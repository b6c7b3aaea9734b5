"""The work a front end cannot avoid per segment, for the roofline (:mod:`gtzan_gpu.bench.roofline`): each registry
entry names its counter (``FrontendSpec.work``), so a front end added to the registry is placed under a bound
with no other edit, or shown without one when it declares none.

A count is a lower bound on the work, never the traffic the current code happens to make: the waveform read once
and the output written once (``bytes``); 2.5 N log2 N per real FFT of N points (``fft_flops``); the convolution
products a conv STFT, CQT or resampler is defined by (``conv_flops``, counted by ``torch.utils.flop_counter`` on
the layer itself); the matrix products of a filterbank (``flops``: the mel matrix over the power frames, or the
seed image's frequency map at its sparse size, 2 per non-zero weight per frame). Decibels, colour lookup and
pooling are left out (elementwise on data already counted), so a measured fraction is an upper estimate of
what is left to gain.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

N_FFT, HOP, BINS = 2048, 512, 1025  # the seed's STFT (image and log-mel)


@dataclass(frozen=True)
class Work:
    """Lower-bound work of one segment: ``flops`` (matrix products), ``conv_flops``, ``fft_flops``, ``bytes``."""

    flops: float = 0.0
    conv_flops: float = 0.0
    fft_flops: float = 0.0
    bytes: float = 0.0

    def __add__(self, other: "Work") -> "Work":
        return Work(*(a + b for a, b in zip(asdict(self).values(), asdict(other).values())))

    def as_dict(self) -> dict:
        return asdict(self)


def fft_flops(n_fft: int, frames: int) -> float:
    """``frames`` real FFTs of ``n_fft`` points at 2.5 N log2 N each."""
    return frames * 2.5 * n_fft * math.log2(n_fft)


def segment_size(seconds: float, sample_rate: int, hop: int = HOP) -> tuple[int, int]:
    """Samples and centred STFT frames (``hop``) of a ``seconds``-long segment."""
    samples = int(round(seconds * sample_rate))
    return samples, 1 + samples // hop


def counted_conv_flops(module: torch.nn.Module, samples: int) -> int:
    """The convolution FLOPs ``module`` runs on one ``(1, samples)`` segment (its own kernels, counted)."""
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module(torch.randn(1, samples))
    counts = counter.get_flop_counts().get("Global", {})
    return int(sum(n for op, n in counts.items() if "convolution" in str(op)))


def stft_work(backend: str, samples: int, n_fft: int = N_FFT, hop: int = HOP) -> Work:
    """The STFT's share: its FFTs (``torch``) or its conv kernels' products (``nnaudio``)."""
    from gtzan_gpu.features.stft import MagnitudeSTFT

    if backend == "torch":
        return Work(fft_flops=fft_flops(n_fft, 1 + samples // hop))
    return Work(conv_flops=counted_conv_flops(MagnitudeSTFT(n_fft, hop, backend="nnaudio"), samples))


def _output_bytes(features, channels: int, element_bytes: int = 4) -> float:
    return channels * features.image_size ** 2 * element_bytes


def image_work(features, seconds: float, sample_rate: int) -> Work:
    """The seed's RGB image: the STFT, the sparse frequency map, the waveform in and three channels out."""
    from gtzan_gpu.features.frequency_axis import frequency_area_matrix

    samples, frames = segment_size(seconds, sample_rate)
    area = frequency_area_matrix(BINS, sample_rate, N_FFT, features.image_size)
    element = 2 if features.image_dtype == "bfloat16" else 4
    return stft_work(features.stft_backend, samples) + Work(
        flops=2 * int((area > 0).sum()) * frames, bytes=4 * samples + _output_bytes(features, 3, element))


def logmel_work(features, seconds: float, sample_rate: int) -> Work:
    """Log-mel: the STFT and the (bins x mels) product per frame; one channel out."""
    samples, frames = segment_size(seconds, sample_rate)
    return stft_work(features.stft_backend, samples) + Work(
        flops=2 * BINS * features.image_size * frames, bytes=4 * samples + _output_bytes(features, 1))


def cqt_work(features, seconds: float, sample_rate: int) -> Work:
    """nnAudio's CQT: its convolution kernels' products; one channel out."""
    from gtzan_gpu.features.time_frequency import ConstantQ

    samples, _ = segment_size(seconds, sample_rate)
    return Work(conv_flops=counted_conv_flops(ConstantQ(sample_rate, HOP, features.image_size), samples),
                bytes=4 * samples + _output_bytes(features, 1))


def waveform_work(features, seconds: float, sample_rate: int) -> Work:
    """The filled-envelope image: nothing but the waveform in and three channels out."""
    samples, _ = segment_size(seconds, sample_rate)
    return Work(bytes=4 * samples + _output_bytes(features, 3))


def _pretrained_input_work(layer, target_rate: int, n_fft: int, hop: int, mels: int, seconds: float,
                           sample_rate: int, backend: str) -> Work:
    """A pretrained model's input: the resampler's convolution (counted), the STFT at the model's rate, the mel
    product, the waveform in and mels x frames out."""
    samples, _ = segment_size(seconds, sample_rate)
    resample = getattr(layer, "resample", None)
    resampling = Work(conv_flops=counted_conv_flops(resample, samples)) if resample is not None else Work()
    resampled, frames = segment_size(seconds, target_rate, hop)
    bins = n_fft // 2 + 1
    return resampling + stft_work(backend, resampled, n_fft, hop) + Work(
        flops=2 * bins * mels * frames, bytes=4 * samples + 4 * mels * frames)


def musicnn_work(features, seconds: float, sample_rate: int) -> Work:
    from gtzan_gpu.features.musicnn_mel import MusicnnMel

    layer = MusicnnMel(sample_rate, backend=features.stft_backend)
    return _pretrained_input_work(layer, 16000, 512, 256, 96, seconds, sample_rate, features.stft_backend)


def panns_work(features, seconds: float, sample_rate: int) -> Work:
    from gtzan_gpu.features.panns_logmel import PannsLogMel

    return _pretrained_input_work(PannsLogMel(sample_rate), 32000, 1024, 320, 64, seconds, sample_rate, "torch")
