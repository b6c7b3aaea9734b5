"""The training step, written once: ``train``, ``doctor`` (one process and its DDP probe) and ``bench`` all run
this, so what they check and time is what training does.

A step: the forward pass under bf16 autocast on CUDA when ``amp`` (no loss scaling: bf16 keeps fp32's range), the
loss in fp32, ``zero_grad(set_to_none=True)``, ``backward``, ``optimizer.step()``.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from gtzan_gpu.training.device import autocast

LossOf = Callable[[torch.Tensor], torch.Tensor]  # fp32 logits (B, C) -> scalar loss


def cross_entropy_of(labels: torch.Tensor, label_smoothing: float = 0.0) -> LossOf:
    """The run's loss for hard ``labels`` ``(B,)`` (mixup brings its own, :func:`gtzan_gpu.training.epoch.mixup`)."""
    return lambda logits: F.cross_entropy(logits, labels, label_smoothing=label_smoothing)


def training_step(forward: Callable[[], torch.Tensor], loss_of: LossOf, optimizer: torch.optim.Optimizer,
                  device: torch.device, amp: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimiser step. ``forward() -> (B, C)`` logits runs under the autocast (a closure, so a caller may time
    inside it, as ``bench`` times the front end apart from the backbone). Returns the loss and the logits,
    detached, on the device (nothing is read back to the host)."""
    with autocast(device, amp):
        logits = forward()
        loss = loss_of(logits.float())
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.detach(), logits.detach()
