"""The model registry: one entry per model name, the one place a model is declared.

An entry holds the views the model looks at, the builder of its backbone and the seed study's
hyper-parameters for it; the command line's ``--model`` choices, the config checks, the experiment
grids and the benchmark all read it (as torchvision's ``get_model`` registry). Adding a model is one
:class:`ModelSpec` in ``MODELS``, or one passed to :func:`register_model` from another package through the
``gtzan_gpu.models`` entry-point group (:func:`gtzan_gpu.plugins.load_all`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn

from gtzan_gpu.errors import GtzanError
from gtzan_gpu.features.config import FRONTENDS, FeatureConfig
from gtzan_gpu.features.registry import frontend_names
from gtzan_gpu.models.cnn import SmallCNN
from gtzan_gpu.models.cnn10 import CNN10
from gtzan_gpu.models.fusion import LateFusion
from gtzan_gpu.models.resnet import ResNet18Classifier
from gtzan_gpu.models.shortchunk import ShortChunkResNet
from gtzan_gpu.models.weights import NO_WEIGHTS, PRETRAINED_WEIGHTS, describe_weights
from gtzan_gpu.options import check_options, option

BackboneBuilder = Callable[[int, FeatureConfig, str], nn.Module]  # (num_classes, features, weights) -> backbone


@dataclass(frozen=True)
class ModelSpec:
    """What ``--model NAME`` means.

    Attributes:
        views: the images the backbone takes, in order: ``"frontend"`` (the run's ``--frontend``: the seed's
            spectrogram image, log-mel, CQT, ...) and, for fusion, ``"waveform"`` (the seed's waveform image).
        backbone: ``(num_classes, features, weights) -> nn.Module`` taking one image per view.
        lr, batch_size: the seed study's Adam learning rate and batch size for this model.
        default_weights: ``"none"`` or ``"imagenet"`` (the seed's choice).
        pretrainable: whether ``weights`` other than ``"none"`` mean anything.
        frontends: the ``--frontend`` values it accepts.
        saliency_layer: the backbone's submodule whose activations Grad-CAM explains (a late convolutional
            layer over the spectrogram image that still has some spatial resolution).
    """

    name: str
    description: str
    views: tuple[str, ...]
    backbone: BackboneBuilder
    lr: float
    batch_size: int
    default_weights: str = NO_WEIGHTS
    pretrainable: bool = False
    frontends: tuple[str, ...] = FRONTENDS  # the front ends it can take
    saliency_layer: str = ""


MODELS: dict[str, ModelSpec] = {spec.name: spec for spec in (
    ModelSpec("cnn", "the seed's 2-block CNN on the spectrogram image", ("frontend",),
              lambda classes, features, weights: SmallCNN(classes, features.image_size, features.channels), lr=1e-3,
              batch_size=60, saliency_layer="features"),
    ModelSpec("resnet18", "torchvision ResNet18 with the seed's 512-256-N head, on the spectrogram image",
              ("frontend",), lambda classes, features, weights: ResNet18Classifier(classes, weights, features.channels),
              lr=1e-3, batch_size=60, default_weights=PRETRAINED_WEIGHTS, pretrainable=True,
              saliency_layer="trunk.layer4"),
    ModelSpec("fusion", "two ResNet18 trunks on the spectrogram and waveform images, late fusion",
              ("frontend", "waveform"), lambda classes, features, weights: LateFusion(classes, weights),
              lr=5e-4, batch_size=32, default_weights=PRETRAINED_WEIGHTS, pretrainable=True, frontends=("image",),
              saliency_layer="spectrogram_trunk.layer4"),
    ModelSpec("shortchunk", "Won et al. 2020's Short-chunk CNN with residual blocks, on the log-mel front end",
              ("frontend",), lambda classes, features, weights: ShortChunkResNet(classes, features.channels),
              lr=1e-4, batch_size=16, frontends=("logmel",),  # Won et al.'s Adam lr and batch size
              saliency_layer="blocks.3"),  # 1/16 of the input: the last blocks shrink a 128-px map to 1 x 1
    ModelSpec("cnn10", "PANNs' CNN10 layout at half width: BatchNorm over frequency rows, four blocks of two 3x3 "
              "convolutions, global max + mean pooling (Kong et al. 2020), on log-mel or CQT",
              ("frontend",), lambda classes, features, weights: CNN10(classes, features.image_size,
                                                                         features.channels),
              lr=1e-3, batch_size=32, frontends=("logmel", "cqt"), saliency_layer="blocks.2"),
)}


def register_model(spec: ModelSpec) -> ModelSpec:
    """Add ``spec`` to the registry (a name may be registered once), as torchvision's ``register_model``."""
    if spec.name in MODELS:
        raise GtzanError(f"model {spec.name!r} is already registered")
    unknown = [name for name in spec.frontends if name not in frontend_names()]
    if unknown:
        raise GtzanError(f"model {spec.name!r} names unknown front end(s) {', '.join(unknown)}")
    MODELS[spec.name] = spec
    return spec


def model_names() -> tuple[str, ...]:
    """Registered models, built-in ones first (``--model`` choices, plugins included)."""
    return tuple(MODELS)


MODEL_NAMES = model_names()  # the built-in models


def get_model_spec(name: str) -> ModelSpec:
    if name not in MODELS:
        raise GtzanError(f"unknown --model {name!r} (choose from {', '.join(model_names())})")
    return MODELS[name]


@dataclass
class ModelConfig:
    """Which model, with which initial weights: ``none``, ``imagenet`` or a state_dict file (one setting, as
    torchvision's ``weights=``). ``weights=None`` means the model's default (the seed's choice)."""

    name: str = option("cnn", help="model", choices=model_names, flag="--model")
    weights: str | None = option(None, help="initial weights of the ResNet trunks: none, imagenet (ResNet18 "
                                            "IMAGENET1K_V1 from the torch hub cache) or a resnet18 state_dict FILE",
                                 kind=str)

    def __post_init__(self):
        check_options(self)
        spec = get_model_spec(self.name)
        if self.weights is None:
            self.weights = spec.default_weights
        if self.weights == "":
            raise GtzanError("--weights needs a value: none, imagenet or a FILE")
        if not spec.pretrainable and self.weights != NO_WEIGHTS:
            raise GtzanError(f"--weights {self.weights}: the {self.name} model has no pretrained weights "
                             f"(it is trained from scratch; use --weights none)")

    @property
    def spec(self) -> ModelSpec:
        return MODELS[self.name]

    def describe_weights(self) -> str:
        return describe_weights(self.weights)
