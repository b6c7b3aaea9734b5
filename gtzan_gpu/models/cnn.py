"""The seed's small CNN, exactly: two conv blocks and a two-layer head."""
from __future__ import annotations

import torch
from torch import nn


class SmallCNN(nn.Module):
    """``(B, 3, 128, 128)`` image -> ``(B, num_classes)`` logits.

    [3x3 conv 3->16 (pad 1), BN, ReLU, maxpool 2] -> [3x3 conv 16->32 (pad 1), BN, ReLU, maxpool 2]
    -> flatten 32 x 32 x 32 -> Linear 256, ReLU, Dropout 0.4 -> Linear num_classes.
    """

    def __init__(self, num_classes: int = 10, image_size: int = 128, in_channels: int = 3):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 16, kernel_size=3, padding=1), nn.BatchNorm2d(16), nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(16, 32, kernel_size=3, padding=1), nn.BatchNorm2d(32), nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(32 * (image_size // 4) ** 2, 256), nn.ReLU(inplace=True), nn.Dropout(0.4),
            nn.Linear(256, num_classes),
        )

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(image))
