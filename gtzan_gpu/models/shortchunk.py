"""The Short-chunk CNN with residual blocks (Won, Ferraro, Bogdanov and Serra, "Evaluation of CNN-based
automatic music tagging models", SMC 2020), written from the paper's description: a modern from-scratch
baseline on log-mel chunks of about 3.7 s.

Seven residual blocks of two 3x3 convolutions, each halving both axes, widen 1 -> 128 -> 128 -> 256 -> 256 ->
256 -> 256 -> 512 channels; whatever frequency extent is left is max-pooled, then time is max-pooled; a
512-unit dense layer with batch norm and dropout 0.5 precedes the classifier.
"""
from __future__ import annotations

import torch
from torch import nn

WIDTHS = (128, 128, 256, 256, 256, 256, 512)


class ResidualBlock(nn.Module):
    """``(B, C_in, H, W)`` -> ``(B, C_out, H/2, W/2)``: conv3x3(stride 2)-BN-ReLU-conv3x3-BN plus a strided
    3x3 projection of the input, then ReLU."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1), nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True), nn.Conv2d(out_channels, out_channels, 3, padding=1), nn.BatchNorm2d(out_channels))
        self.shortcut = nn.Sequential(nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1),
                                      nn.BatchNorm2d(out_channels))
        self.activation = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.body(x) + self.shortcut(x))


class ShortChunkResNet(nn.Module):
    """``(B, 1, n_mels, frames)`` log-mel -> ``(B, num_classes)`` logits."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1, widths: tuple[int, ...] = WIDTHS):
        super().__init__()
        self.input_norm = nn.BatchNorm2d(in_channels)
        blocks, previous = [], in_channels
        for width in widths:
            blocks.append(ResidualBlock(previous, width))
            previous = width
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.Linear(previous, previous), nn.BatchNorm1d(previous), nn.ReLU(inplace=True),
                                  nn.Dropout(0.5), nn.Linear(previous, num_classes))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        features = self.blocks(self.input_norm(image))      # (B, C, H', W')
        features = features.amax(dim=2).amax(dim=2)         # max over frequency, then over time -> (B, C)
        return self.head(features)
