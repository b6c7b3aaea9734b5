"""The front-end registry: one entry per front end, the one place a way of turning audio into an image is declared.

An entry says how to build the layer from the feature options, how many channels it gives, its short name in
TensorBoard tags and figures, and whether it takes SpecAugment masks. ``--frontend`` choices, the classifier,
TensorBoard names, ``doctor`` and ``bench`` read it (as :mod:`gtzan_gpu.models.registry` does for models).
Adding a front end is one :class:`FrontendSpec` passed to :func:`register_frontend`, here or from another package
through the ``gtzan_gpu.frontends`` entry-point group (:func:`gtzan_gpu.plugins.load_all`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from torch import nn

from gtzan_gpu.errors import GtzanError
from gtzan_gpu.names import check_registry_name
from gtzan_gpu.features.musicnn_mel import MusicnnMel
from gtzan_gpu.features.panns_logmel import PannsLogMel
from gtzan_gpu.features.spectrogram import SpectrogramImage
from gtzan_gpu.features.time_frequency import ConstantQ, LogMelSpectrogram
from gtzan_gpu.features.waveform import WaveformImage
from gtzan_gpu.features.work import (Work, cqt_work, image_work, logmel_work, musicnn_work, panns_work,
                                     waveform_work)

# (features: FeatureConfig, sample_rate, spec_augment or None) -> layer (B, T) -> (B, C, S, S)
FrontendBuilder = Callable[[Any, int, "nn.Module | None"], nn.Module]


@dataclass(frozen=True)
class FrontendSpec:
    """What ``--frontend NAME`` means.

    Attributes:
        layer: the ``nn.Module`` class the builder makes (how a built layer is recognised, e.g. in TensorBoard).
        build: ``(features, sample_rate, spec_augment) -> layer``; ``spec_augment`` is None unless the run
            uses ``--augment specaugment`` and the front end takes it.
        channels: channels of the layer's output image.
        display_name: the layer's short name in tags and figures.
        takes_spec_augment: whether SpecAugment masks its time-frequency values.
        selectable: offered as ``--frontend`` (the waveform view is a second view of fusion only).
        stft: built on the STFT layer, so ``--stft-backend`` and ``--trainable-stft`` apply to it.
        resized: its output is ``image_size x image_size``; False: ``rows`` x frames at the layer's own resolution
            (MusiCNN's 96 mels x frames, which its pretrained weights need), ``--image-size`` does not apply.
        rows: the output's rows when not resized.
        trainable_kernels: ``--trainable-stft`` applies (its STFT kernels may be learned).
        work: ``(features, seconds, sample_rate) -> Work``, the lower-bound work of one segment
            (:mod:`gtzan_gpu.features.work`) that places it under a roofline bound; None: ``bench`` shows it
            without a bound.
        bench_variants: further ``bench`` rows, ``(label, FeatureConfig overrides)`` (the image in bf16).
        compiles: ``torch.compile`` traces it whole, so ``bench`` times it compiled too.
    """

    name: str
    description: str
    layer: type
    build: FrontendBuilder
    channels: int
    display_name: str
    takes_spec_augment: bool = True
    selectable: bool = True
    stft: bool = False
    resized: bool = True
    rows: int | None = None
    trainable_kernels: bool = True
    work: Callable[[Any, float, int], Work] | None = None
    bench_variants: tuple[tuple[str, dict], ...] = ()
    compiles: bool = False


def _image(features, sample_rate: int, spec_augment: nn.Module | None) -> SpectrogramImage:
    layer = SpectrogramImage(sample_rate=sample_rate, height=features.image_size, width=features.image_size,
                             frequency_scale=features.frequency_scale, colormap=features.colormap,
                             normalize=features.normalize, backend=features.stft_backend,
                             trainable=features.trainable_stft, dtype=features.torch_image_dtype)
    layer.spec_augment = spec_augment
    return layer


def _logmel(features, sample_rate: int, spec_augment: nn.Module | None) -> LogMelSpectrogram:
    layer = LogMelSpectrogram(sample_rate, size=features.image_size, backend=features.stft_backend,
                              trainable=features.trainable_stft, db_reference=features.db_reference)
    layer.spec_augment = spec_augment
    return layer


def _cqt(features, sample_rate: int, spec_augment: nn.Module | None) -> ConstantQ:
    layer = ConstantQ(sample_rate, size=features.image_size, db_reference=features.db_reference)
    layer.spec_augment = spec_augment
    return layer


def _waveform(features, sample_rate: int, spec_augment: nn.Module | None) -> WaveformImage:
    return WaveformImage(height=features.image_size, width=features.image_size, envelope=features.waveform_envelope,
                         normalize=features.normalize, dtype=features.torch_image_dtype)


def _musicnn(features, sample_rate: int, spec_augment: nn.Module | None) -> MusicnnMel:
    layer = MusicnnMel(sample_rate, backend=features.stft_backend, patch_padding=features.patch_padding)
    layer.spec_augment = spec_augment
    return layer


def _panns(features, sample_rate: int, spec_augment: nn.Module | None) -> PannsLogMel:
    layer = PannsLogMel(sample_rate)
    layer.spec_augment = spec_augment
    return layer


_FRONTENDS: dict[str, FrontendSpec] = {}


def register_frontend(spec: FrontendSpec) -> FrontendSpec:
    """Add ``spec`` to the registry (a name may be registered once)."""
    check_registry_name(spec.name, "front end")
    if spec.name in _FRONTENDS:
        raise GtzanError(f"front end {spec.name!r} is already registered")
    _FRONTENDS[spec.name] = spec
    return spec


for _spec in (
    FrontendSpec("image", "the seed's RGB spectrogram image (log-frequency axis, magma, ImageNet mean/std)",
                 SpectrogramImage, _image, 3, "spectrogram", stft=True, work=image_work, compiles=True,
                 bench_variants=(("torch.stft, bf16 image", {"stft_backend": "torch", "image_dtype": "bfloat16"}),)),
    FrontendSpec("logmel", "1-channel log-mel map (128 Slaney mels, dB)", LogMelSpectrogram, _logmel, 1, "logmel",
                 stft=True, work=logmel_work, compiles=True),
    FrontendSpec("cqt", "1-channel nnAudio CQT (84 bins from C1, dB)", ConstantQ, _cqt, 1, "cqt", work=cqt_work,
                 compiles=True),
    FrontendSpec("musicnn", "MusiCNN's input: 16 kHz, 96 Slaney mels of a 512/256 STFT, log10(1 + 10^4 x), "
                 "96 x frames (any segment length; not resized)", MusicnnMel, _musicnn, 1, "musicnn-mel",
                 stft=True, resized=False, rows=96, trainable_kernels=False, work=musicnn_work),
    FrontendSpec("panns", "PANNs' input: 32 kHz, 64 Slaney mels (50-14,000 Hz) of a 1024/320 reflect-padded "
                 "torch.stft, dB re 1.0, 64 x frames (not resized)", PannsLogMel, _panns, 1, "panns-logmel",
                 resized=False, rows=64, work=panns_work),
    FrontendSpec("waveform", "the seed's RGB filled-envelope waveform image (fusion's second view)", WaveformImage,
                 _waveform, 3, "waveform", takes_spec_augment=False, selectable=False, work=waveform_work,
                 compiles=True),
):
    register_frontend(_spec)


def get_frontend(name: str) -> FrontendSpec:
    if name not in _FRONTENDS:
        raise GtzanError(f"unknown --frontend {name!r} (choose from {', '.join(frontend_names())})")
    return _FRONTENDS[name]


def frontend_names(selectable_only: bool = True) -> tuple[str, ...]:
    """Registered front ends, in registration order (``--frontend`` choices unless ``selectable_only=False``)."""
    return tuple(name for name, spec in _FRONTENDS.items() if spec.selectable or not selectable_only)


def frontend_of(layer: nn.Module) -> FrontendSpec | None:
    """The registry entry a built layer belongs to (None for a layer no entry makes)."""
    return next((spec for spec in _FRONTENDS.values() if type(layer) is spec.layer), None)
