"""Transfer from a pretrained encoder to a corpus's labels: the encoder's embedding and a new head.

- ``--head linear`` (a probe) or ``mlp`` (MARBLE's probe: one hidden layer of 512, ReLU, dropout 0.2);
- ``--embedding`` picks the encoder layer the head reads (MusiCNN: ``penultimate``, 200 wide, or ``pooled``, the
  1506 max + mean pooled features);
- ``--freeze-backbone`` trains the head only: the encoder's parameters take no gradient and the encoder stays in
  eval mode whatever ``train()`` is called with, so its BatchNorm statistics are never touched (a frozen probe);
  without it the whole model is fine-tuned (``--backbone-lr-scale`` scales the encoder's learning rate).
"""
from __future__ import annotations

import logging

import torch
from torch import nn

from gtzan_gpu.errors import GtzanError

log = logging.getLogger(__name__)

HEADS = ("linear", "mlp")
MLP_HIDDEN, MLP_DROPOUT = 512, 0.2


def build_head(kind: str, width: int, num_classes: int) -> nn.Module:
    """``(B, width) -> (B, num_classes)``."""
    if kind == "linear":
        return nn.Linear(width, num_classes)
    if kind == "mlp":
        return nn.Sequential(nn.Linear(width, MLP_HIDDEN), nn.ReLU(inplace=True), nn.Dropout(MLP_DROPOUT),
                             nn.Linear(MLP_HIDDEN, num_classes))
    raise GtzanError(f"unknown --head {kind!r} (choose from {', '.join(HEADS)})")


class TransferClassifier(nn.Module):
    """``(B, C, F, N)`` front-end map -> ``(B, num_classes)`` logits: ``encoder.embed(map, layer)`` then the head.

    Args:
        encoder: a module with ``embed(map, layer) -> (B, D)``.
        width: D, the width of the chosen embedding layer.
        layer: the embedding layer's name.
        head: ``linear`` or ``mlp``.
        frozen: train the head only (encoder in eval mode, no gradients to its parameters).
    """

    def __init__(self, encoder: nn.Module, width: int, layer: str, head: str, num_classes: int, frozen: bool):
        super().__init__()
        self.encoder = encoder
        self.layer = layer
        self.frozen = frozen
        self.head = build_head(head, width, num_classes)
        if frozen:
            self.encoder.requires_grad_(False)
            self.encoder.eval()

    def train(self, mode: bool = True) -> "TransferClassifier":
        super().train(mode)
        if self.frozen:
            self.encoder.eval()
        return self

    def embed(self, image: torch.Tensor) -> torch.Tensor:
        """``(B, C, F, N) -> (B, D)``: the encoder's embedding the head reads."""
        return self.encoder.embed(image, self.layer)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(image))


def load_encoder_weights(encoder: nn.Module, state: dict[str, torch.Tensor], source: str, name: str) -> None:
    """Load ``state`` into ``encoder`` strictly; missing / unexpected keys and shape mismatches are one line that
    lists them (a pretrained encoder is never left partly random)."""
    own = encoder.state_dict()
    missing = [key for key in own if key not in state]
    unexpected = [key for key in state if key not in own]
    mismatched = [f"{key} {tuple(state[key].shape)} vs {tuple(own[key].shape)}" for key in own
                  if key in state and tuple(state[key].shape) != tuple(own[key].shape)]
    if missing or unexpected or mismatched:
        raise GtzanError(f"weights {source} do not fit the {name} encoder: missing {missing[:4]}, unexpected "
                         f"{unexpected[:4]}, shape mismatches {mismatched[:3]}")
    encoder.load_state_dict(state)
    log.info("%s encoder initialised from %s", name, source)
