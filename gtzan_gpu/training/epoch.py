"""One training epoch over a :class:`~gtzan_gpu.training.session.Session` (every step through
:func:`~gtzan_gpu.training.step.training_step`), mixup, and the warnings an epoch's figures call for."""
from __future__ import annotations

import itertools
import logging
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from gtzan_gpu.augment import augment_seed, reseed_augmentations
from gtzan_gpu.errors import GtzanError
from gtzan_gpu.progress import progress
from gtzan_gpu.training.config import TrainConfig
from gtzan_gpu.training.optimization import learning_rate_at, set_learning_rate
from gtzan_gpu.training.run_dir import LAST
from gtzan_gpu.training.session import Session
from gtzan_gpu.training.step import cross_entropy_of, training_step

log = logging.getLogger(__name__)


def non_finite_loss(epoch: int, step: int, run_dir: Path) -> GtzanError:
    kept = f"{run_dir / LAST} (epoch {epoch}) is kept" if epoch else "no checkpoint was written"
    return GtzanError(f"non-finite loss at epoch {epoch + 1} step {step} (NaN in a batch, or training diverged; "
                      f"try a lower --lr); {kept}")


def train_one_epoch(session: Session) -> tuple[float, float, int, float]:
    """One pass of ``session``'s model over this rank's shuffled training segments, ``steps_per_epoch`` steps (the
    same on every rank; stopping early at --max-steps), advancing ``state.global_step``. Loss and accuracy (this
    rank's) accumulate on the device and are read back only every ``log_every`` steps.
    Returns (mean loss, accuracy, segments seen, seconds)."""
    config, state, device, run_dir = session.config, session.state, session.device, session.run_dir
    model, step_model, train, optimizer = session.model, session.step_model, session.train, session.optimizer
    steps_per_epoch, rank = session.steps_per_epoch, session.distributed.rank
    model.train()
    epoch = state.epoch
    augment = config.augment_settings()
    seed = augment_seed(config.seed, epoch, rank)
    reseed_augmentations(model, seed)  # exact resume: augmentations restart from (seed, epoch, rank) each epoch
    mixing = torch.Generator().manual_seed(seed + 101) if "mixup" in augment.names else None
    started = time.perf_counter()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    seen = step = 0
    crop_seed = seed + 211 if "crop" in augment.names else None
    train.sampler.set_epoch(epoch)
    batches = itertools.islice(train.epoch(crop_seed), steps_per_epoch)
    total_steps = config.epochs * steps_per_epoch
    warmup_steps = round(config.warmup_epochs * steps_per_epoch)
    smoothing = config.label_smoothing
    for step, (waveforms, labels, _) in enumerate(progress(batches, steps_per_epoch, f"epoch {epoch + 1}", "step"), 1):
        set_learning_rate(optimizer, learning_rate_at(state.global_step, config.lr, total_steps, warmup_steps,
                                                      config.schedule))
        if mixing is None:
            loss_of = cross_entropy_of(labels, smoothing)
        else:
            waveforms, labels, loss_of = mixup(waveforms, labels, augment.mixup_alpha, mixing, smoothing)
        loss, logits = training_step(lambda: step_model(waveforms), loss_of, optimizer, device, config.amp)
        state.global_step += 1
        loss_sum += loss * labels.numel()
        correct += (logits.argmax(dim=1) == labels).sum()
        seen += labels.numel()
        if step % config.log_every == 0 or step == steps_per_epoch:
            mean_loss = float(loss_sum) / seen
            if not math.isfinite(mean_loss):
                raise non_finite_loss(epoch, step, run_dir)
            log.info("epoch %d/%d step %d/%d loss %.4f acc %.3f %.0f seg/s", epoch + 1, config.epochs, step,
                     steps_per_epoch, mean_loss, float(correct) / seen, seen / (time.perf_counter() - started))
        if config.max_steps and state.global_step >= config.max_steps:
            break
    train_loss = float(loss_sum) / seen
    if not math.isfinite(train_loss):
        raise non_finite_loss(epoch, step, run_dir)
    return train_loss, float(correct) / seen, seen, time.perf_counter() - started


CHANCE_EPOCHS = 3       # epochs of chance-level training accuracy before a run warns
CHANCE_MARGIN = 1.5     # "at chance": training accuracy below 1.5 / number of classes


def chance_warning(history: list[dict], num_classes: int, config: TrainConfig) -> str | None:
    """A warning when the last ``CHANCE_EPOCHS`` epochs all trained at chance level (and the run had not yet
    been warned), saying what to try; None otherwise."""
    recent = [record["train_accuracy"] for record in history[-CHANCE_EPOCHS - 1:]]
    at_chance = [accuracy < CHANCE_MARGIN / num_classes for accuracy in recent]
    if len(at_chance) < CHANCE_EPOCHS or not all(at_chance[-CHANCE_EPOCHS:]) or \
            (len(at_chance) > CHANCE_EPOCHS and at_chance[0]):
        return None
    hints = [f"a lower --lr (now {config.lr:g})"]
    if not config.warmup_epochs:
        hints.append("--warmup-epochs 1")
    if config.augmentations:
        hints.append(f"fewer augmentations (now {config.augment})")
    hints.append("--model cnn10 --frontend logmel (global pooling, input BatchNorm)")
    return (f"training accuracy has stayed at chance level ({', '.join(f'{a:.2f}' for a in recent[-CHANCE_EPOCHS:])}"
            f"; chance is {1 / num_classes:.2f}) for {CHANCE_EPOCHS} epochs: try " + ", or ".join(hints))


def mixup(waveforms: torch.Tensor, labels: torch.Tensor, alpha: float, generator: torch.Generator,
          label_smoothing: float = 0.0):
    """Mix each example with another of the batch, weight ``lam ~ Beta(alpha, alpha)`` (drawn on the CPU from
    ``generator``: no device sync). Returns (mixed waveforms, the dominant labels for accuracy, and the soft-target
    loss ``lam * CE(y) + (1 - lam) * CE(y[perm])`` as a function of the logits)."""
    gammas = torch._standard_gamma(torch.full((2,), float(alpha)), generator=generator)
    lam = float(gammas[0] / gammas.sum())
    permutation = torch.randperm(labels.shape[0], generator=generator).to(labels.device, non_blocking=True)
    mixed = lam * waveforms + (1.0 - lam) * waveforms[permutation]
    partner = labels[permutation]
    dominant = labels if lam >= 0.5 else partner
    return mixed, dominant, lambda logits: (lam * F.cross_entropy(logits, labels, label_smoothing=label_smoothing) +
                                            (1.0 - lam) * F.cross_entropy(logits, partner,
                                                                          label_smoothing=label_smoothing))
