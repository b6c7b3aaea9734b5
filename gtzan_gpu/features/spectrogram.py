"""SpectrogramImage: the seed's librosa + specshow + PNG spectrogram, as one GPU layer."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gtzan_gpu.features.colormaps import apply_colormap, colormap_table, interpolation_table
from gtzan_gpu.features.display import IMAGENET_MEAN, IMAGENET_STD
from gtzan_gpu.features.frequency_axis import FrequencyAreaMap
from gtzan_gpu.features.functional import relative_decibels
from gtzan_gpu.features.precision import autocast_off
from gtzan_gpu.features.stft import MagnitudeSTFT


class SpectrogramImage(nn.Module):
    """``(B, T)`` waveform -> ``(B, 3, H, W)`` spectrogram image, as the seed's models saw it.

    Steps, all on the input's device, frames first until the image is small:
      1. power STFT (n_fft 2048, hop 512, Hann, centred, zero padding), fp32 even under autocast/TF32;
      2. dB relative to each example's own maximum, ``amin`` 1e-5 on the magnitude, floor ``top_db`` below the
         maximum (``librosa.amplitude_to_db(|S|, ref=np.max)``, from the power: no square root);
      3. frequency axis mapped like ``specshow(y_axis='log')`` (or ``linear`` / ``mel``) by a running integral
         (:class:`FrequencyAreaMap`), and time axis, both area-averaged to ``height x width``;
      4. colour scale from each example's min to max dB (matplotlib's autoscaled norm), then the colormap
         as a device lookup (``magma``, or ``gray`` repeated to 3 channels): RGB in [0, 1];
      5. ImageNet mean/std when ``normalize`` (folded into the lookup table: one pass writes the image).

    Args:
        sample_rate: corpus rate; sets the Hz of each STFT bin.
        n_fft, hop_length: STFT framing.
        height, width: output image size.
        frequency_scale: ``"log"`` (seed), ``"linear"`` or ``"mel"``.
        colormap: ``"magma"`` (seed) or ``"gray"``.
        top_db, amin: dB floor and magnitude floor.
        normalize: apply ImageNet normalisation.
        backend: ``"nnaudio"`` or ``"torch"`` STFT.
        trainable: learn the STFT kernels (nnAudio).
        dtype: of the image written (``torch.bfloat16``: half the bytes; the colour lookup runs in it, everything
            before it in fp32).
    """

    def __init__(self, sample_rate: int = 22050, n_fft: int = 2048, hop_length: int = 512, height: int = 128,
                 width: int = 128, frequency_scale: str = "log", colormap: str = "magma", top_db: float = 80.0,
                 amin: float = 1e-5, normalize: bool = True, backend: str = "nnaudio", trainable: bool = False,
                 dtype: torch.dtype = torch.float32):
        super().__init__()
        self.sample_rate = sample_rate
        self.height = height
        self.width = width
        self.frequency_scale = frequency_scale
        self.colormap = colormap
        self.top_db = top_db
        self.amin = amin
        self.normalize = normalize
        self.stft = MagnitudeSTFT(n_fft, hop_length, backend, trainable)
        self.frequency_map = FrequencyAreaMap(self.stft.n_bins, sample_rate, n_fft, height, frequency_scale)
        table = colormap_table(colormap)  # (256, 3) RGB in [0, 1]
        self.register_buffer("colormap_table", table, persistent=False)
        # the colours as the model sees them: ImageNet normalisation folded into the table (exact: it is affine
        # per channel, and the lookup interpolates linearly), so the image is written once
        shown = (table - torch.tensor(IMAGENET_MEAN)) / torch.tensor(IMAGENET_STD) if normalize else table
        self.register_buffer("display_table", interpolation_table(shown).to(dtype), persistent=False)
        self.spec_augment: nn.Module | None = None  # set by build_classifier for --augment specaugment

    @property
    def trainable(self) -> bool:
        return self.stft.trainable

    def frame_decibels(self, waveform: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` -> ``(B, frames, F)`` dB relative to each example's maximum, floored at -top_db."""
        return self._decibels_and_floor(self.stft.power_frames(waveform))[0]

    def decibels(self, waveform: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` -> ``(B, F, frames)`` dB relative to each example's maximum, floored at -top_db."""
        return self.frame_decibels(waveform).transpose(1, 2)

    def _decibels_and_floor(self, power: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, frames, F)`` power -> (dB re each example's maximum, floored; each example's lowest dB ``(B, 1,
        1)``), both from the power's extremes (:func:`relative_decibels`): the dB map is never reduced."""
        with autocast_off(power.device.type):
            return relative_decibels(power, power=True, amin=self.amin ** 2, top_db=self.top_db, with_lowest=True)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` -> ``(B, 3, H, W)`` (a channels-last view: the colour lookup writes each pixel's RGB together)."""
        db, low = self._decibels_and_floor(self.stft.power_frames(waveform))
        with autocast_off(db.device.type):
            rows = self.frequency_map(db).transpose(1, 2)  # (B, height, frames)
            pixels = F.adaptive_avg_pool1d(rows, self.width)
            if self.spec_augment is not None:  # training only: masked cells take the floor colour
                pixels = self.spec_augment(pixels, low)
            # the colour scale runs from the lowest dB to the highest (0): scale 1 / -low, none for a flat map
            scale = torch.where(low < 0, -1.0 / low.clamp_max(-1e-12), torch.zeros_like(low))
            return apply_colormap(pixels, self.display_table, scale, -low * scale)

    def extra_repr(self) -> str:
        return (f"sample_rate={self.sample_rate}, size=({self.height}, {self.width}), "
                f"frequency_scale={self.frequency_scale!r}, colormap={self.colormap!r}, top_db={self.top_db}, "
                f"normalize={self.normalize}")
