"""FeatureConfig: how raw audio becomes the model's image(s), with every option's allowed values."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from gtzan_gpu.errors import GtzanError
from gtzan_gpu.features.colormaps import COLORMAPS
from gtzan_gpu.features.frequency_axis import FREQUENCY_SCALES
from gtzan_gpu.features.musicnn_mel import PATCH_PADDINGS
from gtzan_gpu.features.registry import frontend_names, get_frontend
from gtzan_gpu.features.stft import STFT_BACKENDS
from gtzan_gpu.features.functional import DB_REFERENCES
from gtzan_gpu.features.waveform import ENVELOPES
from gtzan_gpu.options import check_options, option

FRONTENDS = frontend_names()  # the built-in --frontend choices (the option reads the registry, plugins included)
MIN_IMAGE_SIZE = 16      # the small CNN pools twice and a ResNet halves five times; below this nothing is left
MAX_IMAGE_SIZE = 1024
IMAGE_DTYPES = ("float32", "bfloat16")  # torch dtype names


@dataclass
class FeatureConfig:
    """Options of the front ends (SpectrogramImage / WaveformImage, LogMelSpectrogram, ConstantQ); validated on
    construction."""

    @property
    def channels(self) -> int:
        """Channels of the chosen front end's image: 3 (RGB image) or 1 (log-mel, CQT), from the registry."""
        return get_frontend(self.frontend).channels

    frontend: str = option("image", help="what the model looks at: " + "; ".join(
        f"{name}: {get_frontend(name).description}" for name in FRONTENDS), choices=frontend_names)
    image_size: int = option(128, help="height and width of every view's image", minimum=MIN_IMAGE_SIZE,
                             maximum=MAX_IMAGE_SIZE)
    frequency_scale: str = option("log", help="spectrogram frequency axis (seed: log, as specshow)",
                                  choices=FREQUENCY_SCALES)
    colormap: str = option("magma", help="spectrogram colormap (seed: magma)", choices=COLORMAPS)
    normalize: bool = option(True, help="skip ImageNet mean/std normalisation", flag="--no-normalize", negate=True)
    stft_backend: str = option("nnaudio", help="STFT implementation (nnaudio: conv kernels, for GPUs; torch: "
                                               "torch.stft, FFT, far cheaper on a CPU)", choices=STFT_BACKENDS)
    trainable_stft: bool = option(False, help="learn the STFT kernels (nnaudio backend only)")
    db_reference: str = option("max", help="dB reference of the logmel and cqt maps: max (each example's own "
                                           "maximum, as the seed's image: loudness divided out) or fixed (1.0, "
                                           "as PANNs: loudness kept, so --augment gain matters)",
                               choices=DB_REFERENCES)
    image_dtype: str = option("float32", help="dtype of the images the front ends write; bfloat16 halves their "
                                              "bytes (the STFT and dB stay fp32; a bf16 image keeps ~3 digits, "
                                              "finer than the seed's 8-bit PNG colours). Meant for --amp on CUDA, "
                                              "where the backbone takes it as it is; without autocast it is cast "
                                              "back to fp32 for the backbone", choices=IMAGE_DTYPES)
    patch_padding: str = option("none", help="musicnn front end: bring segments shorter than the pretrained "
                                             "models' 3-s patches up to 3 s by repeating them (musicnn's training "
                                             "repeat-pad) or with zeros (none: use them as they are)",
                                choices=PATCH_PADDINGS)
    waveform_envelope: str = option("symmetric", help="waveform view: symmetric +-max|y| (as waveshow) or minmax",
                                    choices=ENVELOPES)

    @property
    def torch_image_dtype(self) -> torch.dtype:
        """``image_dtype`` as a ``torch.dtype``."""
        return getattr(torch, self.image_dtype)

    def __post_init__(self):
        check_options(self)
        spec = get_frontend(self.frontend)
        if self.trainable_stft and not (spec.stft and spec.trainable_kernels):
            stft_frontends = ", ".join(name for name in frontend_names()
                                       if get_frontend(name).stft and get_frontend(name).trainable_kernels)
            raise GtzanError(f"--trainable-stft applies to the STFT front ends ({stft_frontends}), not "
                             f"{self.frontend}")
        if self.db_reference != "max" and self.frontend == "image":
            raise GtzanError("--db-reference fixed applies to --frontend logmel or cqt (the seed's image is drawn "
                             "re each example's maximum, as specshow)")
        if self.patch_padding != "none" and self.frontend != "musicnn":
            raise GtzanError(f"--patch-padding applies to --frontend musicnn, not {self.frontend}")
        if self.trainable_stft and self.stft_backend != "nnaudio":
            raise GtzanError("--trainable-stft needs --stft-backend nnaudio (torch.stft has no kernels to learn)")
