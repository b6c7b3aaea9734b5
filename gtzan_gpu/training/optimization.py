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


def build_optimizer(model: nn.Module, name: str, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """Adam (the seed's, with ``weight_decay`` 0) or AdamW with decoupled weight decay on the weights of
    convolutions and linear layers only (never on biases or normalisation parameters)."""
    if name == "adam":
        return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    decayed = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
    kept = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
    return torch.optim.AdamW([{"params": decayed, "weight_decay": weight_decay},
                              {"params": kept, "weight_decay": 0.0}], lr=lr)


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
    for group in optimizer.param_groups:
        group["lr"] = lr
