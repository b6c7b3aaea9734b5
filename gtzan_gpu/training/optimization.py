"""The optimiser and the learning-rate schedule of a run (``--optimizer``, ``--weight-decay``, ``--schedule``,
``--warmup-epochs``).

The learning rate is a pure function of the global step (:func:`learning_rate_at`), set on the optimiser before
each step: a resumed run continues the schedule exactly with nothing more to checkpoint than the step count.
"""
from __future__ import annotations

import math

import torch
from torch import nn

OPTIMIZERS = ("adam", "adamw")
SCHEDULES = ("constant", "cosine")
ADAMW_WEIGHT_DECAY = 0.01  # torch.optim.AdamW's default


def build_optimizer(model: nn.Module, name: str, lr: float, weight_decay: float,
                    backbone_lr_scale: float = 1.0) -> torch.optim.Optimizer:
    """Adam (the seed's, with ``weight_decay`` 0) or AdamW with decoupled weight decay on the weights of
    convolutions and linear layers only (never on biases or normalisation parameters). Frozen parameters
    (``requires_grad`` False) are left out. A pretrained encoder's parameters (``model.backbone.encoder``) form
    their own groups with ``lr_scale`` = ``backbone_lr_scale`` (discriminative fine-tuning); every group's rate is
    ``lr * lr_scale`` (:func:`set_learning_rate`)."""
    encoder = getattr(getattr(model, "backbone", None), "encoder", None)
    encoder_ids = {id(p) for p in encoder.parameters()} if isinstance(encoder, nn.Module) else set()
    trained = [p for p in model.parameters() if p.requires_grad]
    groups = []
    for scale, members in ((1.0, [p for p in trained if id(p) not in encoder_ids]),
                           (backbone_lr_scale, [p for p in trained if id(p) in encoder_ids])):
        if not members:
            continue
        if name == "adam":
            groups.append({"params": members, "weight_decay": weight_decay, "lr_scale": scale})
        else:
            groups += [{"params": [p for p in members if p.ndim > 1], "weight_decay": weight_decay, "lr_scale": scale},
                       {"params": [p for p in members if p.ndim <= 1], "weight_decay": 0.0, "lr_scale": scale}]
    optimizer = torch.optim.Adam if name == "adam" else torch.optim.AdamW
    return optimizer([group for group in groups if group["params"]], lr=lr)


def learning_rate_at(step: int, base_lr: float, total_steps: int, warmup_steps: int, schedule: str) -> float:
    """The learning rate of optimiser step ``step`` (0-based) of ``total_steps``: a linear warm-up from
    ``base_lr / warmup_steps`` over the first ``warmup_steps``, then ``base_lr`` held (``constant``) or decayed
    along a half cosine to 0 at ``total_steps`` (``cosine``)."""
    if warmup_steps and step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    if schedule == "constant":
        return base_lr
    decay_steps = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / decay_steps)
    return base_lr * 0.5 * (1.0 + math.cos(math.pi * progress))


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Every group at ``lr`` times its ``lr_scale`` (1 unless a pretrained encoder's is scaled)."""
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("lr_scale", 1.0)
