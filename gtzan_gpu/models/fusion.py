"""The seed's late fusion: two ResNet18 trunks, one per view of the same segment, trained jointly."""
from __future__ import annotations

import torch
from torch import nn

from gtzan_gpu.models.resnet import resnet18_trunk
from gtzan_gpu.models.weights import NO_WEIGHTS


class LateFusion(nn.Module):
    """(spectrogram ``(B, 3, H, W)``, waveform ``(B, 3, H, W)``) -> ``(B, num_classes)``.

    Each trunk's fc is Identity (512 features); concat 1024 -> Linear 512, ReLU, Dropout 0.5 -> Linear.
    """

    def __init__(self, num_classes: int = 10, weights: str = NO_WEIGHTS):
        super().__init__()
        self.spectrogram_trunk = resnet18_trunk(weights)
        self.waveform_trunk = resnet18_trunk(weights)
        self.spectrogram_trunk.fc = nn.Identity()
        self.waveform_trunk.fc = nn.Identity()
        self.head = nn.Sequential(nn.Linear(1024, 512), nn.ReLU(inplace=True), nn.Dropout(0.5),
                                  nn.Linear(512, num_classes))

    def forward(self, spectrogram: torch.Tensor, waveform: torch.Tensor) -> torch.Tensor:
        features = torch.cat([self.spectrogram_trunk(spectrogram), self.waveform_trunk(waveform)], dim=1)
        return self.head(features)
