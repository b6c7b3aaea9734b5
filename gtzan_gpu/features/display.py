"""ImageNet normalisation of RGB images, and its inverse for showing what a model saw (TensorBoard)."""
from __future__ import annotations

import torch
from torch import nn

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ImageNetNormalize(nn.Module):
    """``(B, 3, H, W)`` RGB in [0, 1] -> ``(rgb - mean) / std`` with ImageNet's per-channel statistics."""

    def __init__(self):
        super().__init__()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        return (rgb - self.mean) / self.std


def to_displayable(images: torch.Tensor, normalized: bool = True) -> torch.Tensor:
    """Images a feature layer produced -> ``(B, 3, H, W)`` float RGB in [0, 1] on the CPU, ready for display.

    Undoes the ImageNet normalisation when ``normalized``; a 1-channel batch is repeated to 3 channels.
    """
    images = images.detach().float()
    if normalized:
        mean = torch.tensor(IMAGENET_MEAN, device=images.device).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD, device=images.device).view(1, 3, 1, 1)
        images = images * std + mean
    if images.shape[1] == 1:
        images = images.repeat(1, 3, 1, 1)
    return images.clamp(0.0, 1.0).cpu()
