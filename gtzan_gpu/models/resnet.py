"""torchvision ResNet18 trunks, with ImageNet weights from the torch hub cache or a state_dict file.

Nothing is downloaded: asking for weights that are not on disk is a one-line error that says how to
provide them, never a silent random initialisation.
"""
from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch import nn
from torchvision.models import ResNet18_Weights, resnet18

from gtzan_gpu.errors import GtzanError

log = logging.getLogger(__name__)

IMAGENET_WEIGHTS = ResNet18_Weights.IMAGENET1K_V1


def hub_cache_file() -> Path:
    """Where torchvision keeps ResNet18_Weights.IMAGENET1K_V1 once downloaded."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(IMAGENET_WEIGHTS.url).name


def imagenet_state_dict(weights_file: str | None = None) -> tuple[dict, str]:
    """The ResNet18 ImageNet state_dict and where it came from: ``weights_file`` or the hub cache."""
    path = Path(weights_file) if weights_file else hub_cache_file()
    if not path.is_file():
        if weights_file:
            raise GtzanError(f"--weights file not found: {path}")
        raise GtzanError(
            f"ImageNet weights for resnet18 are not in the torch hub cache ({path}); download "
            f"{IMAGENET_WEIGHTS.url} to that path, pass --weights FILE, or use --pretrained none")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise GtzanError(f"cannot read weights {path}: {str(error).splitlines()[0]}") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise GtzanError(f"weights {path} hold no state_dict")
    return state, str(path)


def resnet18_trunk(pretrained: str = "none", weights_file: str | None = None) -> nn.Module:
    """A torchvision resnet18 (``(B, 3, H, W)`` -> ``(B, 1000)`` until its fc is replaced) with the asked weights."""
    model = resnet18(weights=None)
    if pretrained == "imagenet" or weights_file:
        state, source = imagenet_state_dict(weights_file)
        result = model.load_state_dict(state, strict=False)
        trunk_missing = [k for k in result.missing_keys if not k.startswith("fc.")]
        if trunk_missing or result.unexpected_keys:
            raise GtzanError(f"weights {source} do not fit resnet18: missing {trunk_missing[:3]}, "
                             f"unexpected {result.unexpected_keys[:3]}")
        log.info("resnet18 trunk initialised from ImageNet weights %s", source)
    return model


class ResNet18Classifier(nn.Module):
    """``(B, 3, H, W)`` -> ``(B, num_classes)``: resnet18 with fc -> Linear(512, 256), ReLU, Dropout 0.4, Linear."""

    def __init__(self, num_classes: int = 10, pretrained: str = "none", weights_file: str | None = None):
        super().__init__()
        self.trunk = resnet18_trunk(pretrained, weights_file)
        self.trunk.fc = nn.Sequential(nn.Linear(512, 256), nn.ReLU(inplace=True), nn.Dropout(0.4),
                                      nn.Linear(256, num_classes))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.trunk(image)
