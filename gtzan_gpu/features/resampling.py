"""The resampler the pretrained front ends share: torchaudio's windowed-sinc kernel (built once, a buffer), shaped
after librosa's default resampler (soxr "HQ": linear phase, passband to 0.913 of the output Nyquist, stopband from
1.0, 20-bit precision) since that is how the pretrained models' training audio was resampled.

A Kaiser-windowed sinc cut at the middle of that transition band with the Kaiser beta of ~125 dB: torchaudio's
default (Hann, rolloff 0.99) keeps more of the top of the band than soxr does, and the pretrained taggers are
sensitive to it (on 30 real GTZAN clips the TensorFlow reference's top tag differed on 5 with torchaudio's default
and on 1 with this filter: tests/training/test_tagging.py).
"""
from __future__ import annotations

import torchaudio.transforms as AT
from torch import nn

ROLLOFF = (0.913 + 1.0) / 2
KAISER_BETA = 0.1102 * (125.0 - 8.7)
ZERO_CROSSINGS = 64


def soxr_like_resampler(source_rate: int, target_rate: int) -> nn.Module | None:
    """``(B, T) -> (B, T')`` from ``source_rate`` to ``target_rate`` (None when they are equal). The kernel is a
    non-persistent buffer: derived from the rates, like the mel filters, so it is not saved in checkpoints."""
    if source_rate == target_rate:
        return None
    resample = AT.Resample(source_rate, target_rate, lowpass_filter_width=ZERO_CROSSINGS, rolloff=ROLLOFF,
                           resampling_method="sinc_interp_kaiser", beta=KAISER_BETA)
    kernel = resample._buffers.pop("kernel")
    resample.register_buffer("kernel", kernel, persistent=False)
    return resample
