"""GenreClassifier: one module from raw audio to logits; what is trained, checkpointed and served."""
from __future__ import annotations

import logging

import torch
from torch import nn

from gtzan_gpu.augment import Gain, Noise, SpecAugment
from gtzan_gpu.augment.settings import AugmentSettings
from gtzan_gpu.errors import GtzanError
from gtzan_gpu.features.config import FeatureConfig
from gtzan_gpu.features.registry import get_frontend
from gtzan_gpu.models.pretrained.transfer import TransferClassifier, load_encoder_weights
from gtzan_gpu.models.registry import ModelConfig, get_model_spec
from gtzan_gpu.models.weights import NO_WEIGHTS, load_state_dict


log = logging.getLogger(__name__)


class GenreClassifier(nn.Module):
    """``(B, T)`` waveform -> ``(B, num_classes)`` logits.

    ``views`` are feature layers, each ``(B, T) -> (B, 3, H, W)``; the backbone takes one image per view,
    in order, in the memory format its front end wrote (the RGB spectrogram: channels-last), or channels-last for
    all with ``channels_last``. ``image_dtype`` ``torch.bfloat16``: the images are bf16 (the RGB front ends
    write it, others are cast) and go to the backbone as they are under autocast, else back in fp32.
    ``saliency_layer`` names the backbone's submodule Grad-CAM reads (:mod:`gtzan_gpu.models.saliency`).
    """

    def __init__(self, views: list[nn.Module], backbone: nn.Module, channels_last: bool = False,
                 waveform_augment: list[nn.Module] | None = None, saliency_layer: str = "",
                 image_dtype: torch.dtype = torch.float32):
        super().__init__()
        self.image_dtype = image_dtype
        self.saliency_layer = saliency_layer
        self.waveform_augment = nn.Sequential(*(waveform_augment or []))  # training only; parameter-free
        self.views = nn.ModuleList(views)
        self.backbone = backbone
        self.channels_last = channels_last

    def images(self, waveform: torch.Tensor) -> list[torch.Tensor]:
        """``(B, T)`` -> one ``(B, 3, H, W)`` image per view."""
        waveform = self.waveform_augment(waveform)
        images = [view(waveform) for view in self.views]
        if self.image_dtype != torch.float32:  # opt-in narrow images: what the backbone reads under autocast
            narrow = torch.is_autocast_enabled(waveform.device.type)
            images = [image.to(self.image_dtype) if narrow else image.float() for image in images]
        if self.channels_last:
            images = [image.contiguous(memory_format=torch.channels_last) for image in images]
        return images

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.backbone(*self.images(waveform))


def _built(what: str, build):
    """``build()``; a registry builder that raises (a plugin's, or a bug) is one line naming ``what`` (``--model
    NAME``), its traceback with -v. Our own GtzanErrors pass through as they are."""
    try:
        return build()
    except GtzanError:
        raise
    except Exception as error:
        log.debug("building %s failed", what, exc_info=True)
        first = str(error).strip().splitlines()[0][:200] if str(error).strip() else ""
        raise GtzanError(f"building {what} failed: {type(error).__name__}: {first}") from None


FRONTEND_VIEW = "frontend"  # a ModelSpec view slot: the run's --frontend (the other slots name a front end)


def view_layer(view: str, features: FeatureConfig, sample_rate: int,
               augment: AugmentSettings | None = None) -> nn.Module:
    """One view of a model, built from the front-end registry: ``"frontend"`` is the chosen
    ``features.frontend`` (the seed's RGB image, log-mel, CQT, ...), ``"waveform"`` the seed's waveform image;
    ``(B, T) -> (B, C, S, S)``, S = ``features.image_size``. SpecAugment goes to the front ends that take it."""
    spec = get_frontend(features.frontend if view == FRONTEND_VIEW else view)
    spec_augment = None
    if augment is not None and "specaugment" in augment.names and spec.takes_spec_augment:
        spec_augment = SpecAugment(augment.spec_masks, augment.spec_mask_width)
    return _built(f"--frontend {spec.name}", lambda: spec.build(features, sample_rate, spec_augment))


def build_classifier(model: ModelConfig, features: FeatureConfig, num_classes: int, sample_rate: int = 22050,
                     channels_last: bool = False, augment: AugmentSettings | None = None) -> GenreClassifier:
    """The registered model ``model.name`` behind the views it needs, its trunks initialised from
    ``model.weights``; with ``channels_last`` its images and its weights are channels-last."""
    spec = get_model_spec(model.name)
    if features.frontend not in spec.front_ends():
        raise GtzanError(f"--frontend {features.frontend}: the {model.name} model takes --frontend "
                         f"{' or '.join(spec.front_ends())}")
    views = [view_layer(view, features, sample_rate, augment) for view in spec.views]
    waveform_augment = []
    if augment is not None:
        if "gain" in augment.names:
            waveform_augment.append(Gain(augment.gain_db))
        if "noise" in augment.names:
            waveform_augment.append(Noise(augment.min_snr_db, augment.max_snr_db))
    backbone = _built(f"--model {model.name}", lambda: transfer_backbone(model, num_classes) if spec.encoder
                      is not None else spec.backbone(num_classes, features, model.weights))
    classifier = GenreClassifier(views, backbone, channels_last, waveform_augment, spec.saliency_layer,
                                 features.torch_image_dtype)
    # channels-last applied here, once: the images (GenreClassifier.images) and the weights
    return classifier.to(memory_format=torch.channels_last) if channels_last else classifier


def transfer_backbone(model: ModelConfig, num_classes: int) -> TransferClassifier:
    """A registered encoder with its weights (a pretrained entry, a state_dict FILE, or none) and a new head."""
    spec = get_model_spec(model.name)
    encoder = spec.encoder()
    if model.pretrained is not None:
        load_encoder_weights(encoder, model.pretrained.state_dict(), model.pretrained.name, model.name)
    elif model.weights != NO_WEIGHTS:
        state, source = load_state_dict(model.weights)
        load_encoder_weights(encoder, state, str(source), model.name)
    width = dict(spec.embeddings)[model.embedding]
    return TransferClassifier(encoder, width, model.embedding, model.head, num_classes, model.freeze_backbone)
