"""A small modern CNN from scratch: PANNs' CNN10 layout with input BatchNorm over frequency and global pooling.

Kong et al. 2020 (PANNs) train CNN10 on log-mel maps: BatchNorm over the mel bins of the input, four blocks of
two 3x3 convolutions (BN, ReLU) each followed by 2x2 average pooling, then the feature map averaged over
frequency and pooled over time by max + mean, dropout and a linear layer. Global pooling keeps the head small
(``widths[-1]`` inputs instead of the seed CNN's 32,768), so Adam's first steps cannot throw the logits far
(the seed CNN starts at a training loss of 8-12 on real clips) and the model does not depend on the map's size.
"""
from __future__ import annotations

import torch
from torch import nn

HALF_WIDTHS = (32, 64, 128, 256)  # PANNs' CNN10 uses 64-512; half width trains in seconds on 250 real clips


def conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """Two 3x3 conv + BN + ReLU, then 2x2 average pooling: ``(B, C, H, W) -> (B, C', H/2, W/2)``."""
    layers = []
    for channels in (in_channels, out_channels):
        layers += [nn.Conv2d(channels, out_channels, 3, padding=1, bias=False), nn.BatchNorm2d(out_channels),
                   nn.ReLU(inplace=True)]
    return nn.Sequential(*layers, nn.AvgPool2d(2))


class FrequencyBatchNorm(nn.Module):
    """``(B, 1, F, N) -> (B, 1, F, N)``: each frequency row standardised with its own batch statistics (PANNs'
    ``bn0``), so every bin reaches the first convolution at a comparable scale, whatever the dB reference."""

    def __init__(self, bins: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(bins)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.norm(image.transpose(1, 2)).transpose(1, 2)


class CNN10(nn.Module):
    """``(B, C, F, N)`` time-frequency map (F = ``bins`` rows) -> ``(B, num_classes)`` logits.

    ``C`` is 1 for log-mel / CQT; the RGB image (C = 3) works too (the input BatchNorm then standardises each
    row of its first channel's statistics jointly with the others: one norm per row over channels and time).
    """

    def __init__(self, num_classes: int = 10, bins: int = 128, in_channels: int = 1,
                 widths: tuple[int, ...] = HALF_WIDTHS, dropout: float = 0.3):
        super().__init__()
        self.input_norm = FrequencyBatchNorm(bins)
        channels = (in_channels, *widths)
        self.blocks = nn.Sequential(*(conv_block(a, b) for a, b in zip(channels, channels[1:])))
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(widths[-1], widths[-1]), nn.ReLU(inplace=True),
                                  nn.Dropout(dropout), nn.Linear(widths[-1], num_classes))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        features = self.blocks(self.input_norm(image)).mean(dim=2)  # (B, C, N'): frequency averaged out
        pooled = features.amax(dim=2) + features.mean(dim=2)         # (B, C): PANNs' max + mean over time
        return self.head(pooled)
