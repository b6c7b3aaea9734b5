"""Initial weights of the ResNet trunks: ``none``, ``imagenet`` (the torch hub cache) or a state_dict file.

Nothing is downloaded: asking for weights that are not on disk is a one-line error that says how to
provide them, never a silent random initialisation.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torchvision.models import ResNet18_Weights

from gtzan_gpu.errors import GtzanError
from gtzan_gpu.models.pretrained.registry import get_weights, is_pretrained_name

NO_WEIGHTS = "none"
PRETRAINED_WEIGHTS = "imagenet"
IMAGENET_WEIGHTS = ResNet18_Weights.IMAGENET1K_V1


def hub_cache_file() -> Path:
    """Where torchvision keeps ResNet18_Weights.IMAGENET1K_V1 once downloaded."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(IMAGENET_WEIGHTS.url).name


def weights_file(weights: str) -> Path | None:
    """The file ``weights`` stands for (None for ``none``), checked to exist; cheap, so run it before slow work.
    A pretrained entry (``musicnn:MTT_musicnn``) gives its checkpoint folder, or the error naming its install."""
    if weights == NO_WEIGHTS:
        return None
    if is_pretrained_name(weights):
        return get_weights(weights).check_available()
    path = hub_cache_file() if weights == PRETRAINED_WEIGHTS else Path(weights)
    if path.is_file():
        return path
    if weights == PRETRAINED_WEIGHTS:
        raise GtzanError(
            f"ImageNet weights for resnet18 are not in the torch hub cache ({path}); download "
            f"{IMAGENET_WEIGHTS.url} to that path, pass --weights FILE, or use --weights none")
    if path.is_dir():
        raise GtzanError(f"--weights {path} is a directory, not a state_dict file")
    raise GtzanError(f"--weights file not found: {path}")


def load_state_dict(weights: str) -> tuple[dict, Path]:
    """The resnet18 state_dict ``weights`` stands for, and its file. Raises GtzanError for ``none``."""
    path = weights_file(weights)
    if path is None:
        raise GtzanError("no weights file to load for --weights none")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        first = (str(error).strip().splitlines() or [""])[0][:120]
        raise GtzanError(f"cannot read weights {path}: not a torch state_dict file ({type(error).__name__}: "
                         f"{first})") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise GtzanError(f"weights {path} hold no state_dict of tensors")
    return state, path


def describe_weights(weights: str) -> str:
    """For logs and TensorBoard: what the trunk started from."""
    if weights == NO_WEIGHTS:
        return "random init"
    if weights == PRETRAINED_WEIGHTS:
        return f"ImageNet {IMAGENET_WEIGHTS.name} (torch hub cache {hub_cache_file()})"
    if is_pretrained_name(weights):
        return get_weights(weights).describe()
    return f"state_dict file {weights}"
