"""torchvision ResNet18 trunks, with their initial weights from :mod:`gtzan_gpu.models.weights`."""
from __future__ import annotations

import logging

import torch
from torch import nn
from torchvision.models import resnet18

from gtzan_gpu.errors import GtzanError
from gtzan_gpu.models.weights import NO_WEIGHTS, load_state_dict

log = logging.getLogger(__name__)


def resnet18_trunk(weights: str = NO_WEIGHTS, in_channels: int = 3) -> nn.Module:
    """A torchvision resnet18 (``(B, C, H, W)`` -> ``(B, 1000)`` until its fc is replaced) with ``weights``:
    ``"none"``, ``"imagenet"`` or a state_dict file. The fc layer's weights are not required. With
    ``in_channels=1`` the stem takes one channel; pretrained stem weights are summed over RGB."""
    model = resnet18(weights=None)
    if weights != NO_WEIGHTS:
        _load_trunk_weights(model, weights)
    if in_channels != 3:
        rgb = model.conv1
        model.conv1 = nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False)
        if weights != NO_WEIGHTS and in_channels == 1:
            with torch.no_grad():
                model.conv1.weight.copy_(rgb.weight.sum(dim=1, keepdim=True))
    return model


def _load_trunk_weights(model: nn.Module, weights: str) -> None:
    state, source = load_state_dict(weights)
    try:
        result = model.load_state_dict(state, strict=False)
    except RuntimeError as error:  # a key with the wrong shape
        detail = next((line.strip() for line in str(error).splitlines() if "size mismatch" in line),
                      str(error).splitlines()[0])
        raise GtzanError(f"weights {source} do not fit resnet18 ({detail})") from None
    trunk_missing = [k for k in result.missing_keys if not k.startswith("fc.")]
    if trunk_missing or result.unexpected_keys:
        raise GtzanError(f"weights {source} do not fit resnet18: missing {trunk_missing[:3]}, "
                         f"unexpected {result.unexpected_keys[:3]}")
    log.info("resnet18 trunk initialised from %s", source)


class ResNet18Classifier(nn.Module):
    """``(B, C, H, W)`` -> ``(B, num_classes)``, C = ``in_channels``: resnet18 with fc -> Linear(512, 256), ReLU, Dropout 0.4, Linear."""

    def __init__(self, num_classes: int = 10, weights: str = NO_WEIGHTS, in_channels: int = 3):
        super().__init__()
        self.trunk = resnet18_trunk(weights, in_channels)
        self.trunk.fc = nn.Sequential(nn.Linear(512, 256), nn.ReLU(inplace=True), nn.Dropout(0.4),
                                      nn.Linear(256, num_classes))

    def forward(self, image):
        """``(B, 3, H, W)`` -> ``(B, num_classes)``."""
        return self.trunk(image)
