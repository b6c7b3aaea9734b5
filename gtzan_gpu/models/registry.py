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
from gtzan_gpu.features.config import FeatureConfig
from gtzan_gpu.features.registry import frontend_names, get_frontend
from gtzan_gpu.models.cnn import SmallCNN
from gtzan_gpu.models.cnn10 import CNN10
from gtzan_gpu.models.fusion import LateFusion
from gtzan_gpu.models.pretrained.musicnn import EMBEDDINGS as MUSICNN_EMBEDDINGS
from gtzan_gpu.models.pretrained.musicnn import MusiCNN
from gtzan_gpu.models.pretrained.panns import CNN10_WIDTHS, CNN14_WIDTHS, PannsCNN
from gtzan_gpu.models.pretrained.registry import get_weights, is_pretrained_name
from gtzan_gpu.models.pretrained.transfer import HEADS
from gtzan_gpu.models.resnet import ResNet18Classifier
from gtzan_gpu.models.shortchunk import ShortChunkResNet
from gtzan_gpu.models.weights import NO_WEIGHTS, PRETRAINED_WEIGHTS, describe_weights
from gtzan_gpu.names import check_registry_name
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
        frontends: the ``--frontend`` values it accepts; None (cnn, resnet18): every front end whose output it
            fits, decided by what the front end produces (a square image of any channels), so a plugin's front
            end works with it too. :meth:`front_ends` gives the list as the registry holds it now.
        saliency_layer: the backbone's submodule whose activations Grad-CAM explains (a late convolutional
            layer over the spectrogram image that still has some spatial resolution).
        encoder: for a pretrained encoder (``() -> nn.Module`` with ``embed(map, layer)``): the backbone is then
            the encoder and a new head (:class:`TransferClassifier`), and ``backbone`` is unused.
        embeddings: the encoder's embedding layers and their widths (``--embedding`` choices), first = default.
        family: weights made for a family of encoders (``panns``) fit each of its members.
    """

    name: str
    description: str
    views: tuple[str, ...]
    backbone: BackboneBuilder
    lr: float
    batch_size: int
    default_weights: str = NO_WEIGHTS
    pretrainable: bool = False
    frontends: tuple[str, ...] | None = None  # the front ends it can take (None: every square-image one)
    saliency_layer: str = ""
    encoder: Callable[[], nn.Module] | None = None
    embeddings: tuple[tuple[str, int], ...] = ()
    family: str = ""


    def front_ends(self) -> tuple[str, ...]:
        """The ``--frontend`` values it takes now (the first is its default), plugins' included."""
        if self.frontends is not None:
            return self.frontends
        return tuple(name for name in frontend_names() if get_frontend(name).resized)


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
    ModelSpec("musicnn", "Pons & Serra 2019's MusiCNN (musically motivated timbral + temporal front end, dense mid "
              "end, max + mean pooling) as an encoder, pretrained weights from the musicnn wheel, with a new head",
              ("frontend",), None, lr=1e-3, batch_size=32, default_weights="musicnn:MSD_musicnn", pretrainable=True,
              frontends=("musicnn",), saliency_layer="encoder.timbral.1.norm", encoder=MusiCNN,
              embeddings=tuple(MUSICNN_EMBEDDINGS.items())),
    *(ModelSpec(f"panns-{name}", f"PANNs' {name.upper()} (Kong et al. 2020) as an encoder with a new head; "
                f"--weights panns:FILE loads a PANNs checkpoint you bring (none can be downloaded here)",
                ("frontend",), None, lr=1e-4, batch_size=32, pretrainable=True, frontends=("panns",),
                saliency_layer="encoder.feature_map", encoder=lambda widths=widths: PannsCNN(widths),
                embeddings=(("embedding", widths[-1]), ("pooled", widths[-1])), family="panns")
      for name, widths in (("cnn10", CNN10_WIDTHS), ("cnn14", CNN14_WIDTHS))),
)}


def register_model(spec: ModelSpec) -> ModelSpec:
    """Add ``spec`` to the registry (a name may be registered once), as torchvision's ``register_model``."""
    check_registry_name(spec.name, "model")
    if spec.name in MODELS:
        raise GtzanError(f"model {spec.name!r} is already registered")
    unknown = [name for name in spec.frontends or () if name not in frontend_names()]
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
    """Which model, with which initial weights: ``none``, ``imagenet``, a pretrained entry (``musicnn:MSD_musicnn``)
    or a state_dict file (one setting, as torchvision's ``weights=``). ``weights=None`` means the model's default
    (the seed's choice). ``head``, ``embedding`` and ``freeze_backbone`` shape a pretrained encoder's transfer."""

    name: str = option("cnn", help="model", choices=model_names, flag="--model")
    weights: str | None = option(None, help="initial weights: none, imagenet (resnet18 / fusion: ResNet18 "
                                            "IMAGENET1K_V1 from the torch hub cache), musicnn:MTT_musicnn or "
                                            "musicnn:MSD_musicnn (musicnn: the musicnn wheel's checkpoints), "
                                            "musicnn:FOLDER, or a state_dict FILE of the trunk / encoder",
                                 kind=str)
    head: str = option("linear", help="pretrained encoders: the new head, linear (a probe) or mlp (512 hidden, "
                                      "dropout 0.2, as MARBLE's probes)", choices=HEADS)
    embedding: str | None = option(None, help="pretrained encoders: the layer the head reads (musicnn: penultimate, "
                                              "200 wide, the default; or pooled, its 1506 max + mean features)",
                                   kind=str)
    freeze_backbone: bool = option(False, help="pretrained encoders: train the head only (a frozen probe; the "
                                               "encoder stays in eval mode, its BatchNorm statistics untouched)")

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
        self._check_transfer(spec)

    def _check_transfer(self, spec: ModelSpec) -> None:
        """The weights fit the architecture; the transfer options are given to an encoder only."""
        if is_pretrained_name(self.weights):
            weights = get_weights(self.weights)
            if weights.architecture not in (self.name, spec.family):
                raise GtzanError(f"--weights {self.weights} are {weights.architecture} weights; they do not fit "
                                 f"--model {self.name}")
        elif spec.encoder is not None and self.weights == PRETRAINED_WEIGHTS:
            raise GtzanError(f"--weights imagenet: the {self.name} encoder has no ImageNet weights")
        if spec.encoder is None:
            given = [flag for flag, on in (("--head", self.head != "linear"), ("--embedding", self.embedding),
                                           ("--freeze-backbone", self.freeze_backbone)) if on]
            if given:
                encoders = ", ".join(n for n, s in MODELS.items() if s.encoder is not None)
                raise GtzanError(f"{given[0]} applies to the pretrained encoders ({encoders}), not --model "
                                 f"{self.name}")
            return
        layers = dict(spec.embeddings)
        if self.embedding is None:
            self.embedding = next(iter(layers))
        if self.embedding not in layers:
            raise GtzanError(f"unknown --embedding {self.embedding!r} for {self.name} (choose from "
                             f"{', '.join(layers)})")

    @property
    def pretrained(self):
        """The pretrained-weights entry (None for none, imagenet or a FILE)."""
        return get_weights(self.weights) if is_pretrained_name(self.weights) else None

    @property
    def spec(self) -> ModelSpec:
        return MODELS[self.name]

    def describe_weights(self) -> str:
        return describe_weights(self.weights)
