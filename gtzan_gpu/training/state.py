"""The training state (epoch, step, best epoch, patience, history) and its place in a checkpoint.

Two small questions are asked of it after every epoch, separately: "is this the best epoch so far?"
(model selection on validation: accuracy, ties to lower loss) and "should training stop?" (patience,
``max_steps``, ``epochs``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from gtzan_gpu.training.config import TrainConfig


def _no_best() -> dict:
    return {"epoch": None, "val_accuracy": -1.0, "val_loss": math.inf}


@dataclass
class TrainingState:
    epoch: int = 0                      # epochs completed
    global_step: int = 0                # optimiser steps taken
    best: dict = field(default_factory=_no_best)
    epochs_without_improvement: int = 0
    history: list[dict] = field(default_factory=list)

    def is_improvement(self, record: dict) -> bool:
        """Better validation accuracy than the best so far, or the same with lower loss."""
        return (record["val_accuracy"] > self.best["val_accuracy"] or
                (record["val_accuracy"] == self.best["val_accuracy"] and record["val_loss"] < self.best["val_loss"]))

    def end_epoch(self, record: dict) -> bool:
        """Record a finished epoch; returns whether it is the new best."""
        self.epoch = record["epoch"]
        self.history.append(record)
        improved = self.is_improvement(record)
        if improved:
            self.best = {"epoch": record["epoch"], "val_accuracy": record["val_accuracy"],
                         "val_loss": record["val_loss"], "val_track_accuracy": record["val_track_accuracy"]}
            self.epochs_without_improvement = 0
        else:
            self.epochs_without_improvement += 1
        return improved

    def stop_reason(self, config: TrainConfig) -> str | None:
        """Why training stops now, or None to go on."""
        if self.epochs_without_improvement >= config.patience:
            return f"early stop: no validation improvement for {self.epochs_without_improvement} epochs"
        if config.max_steps and self.global_step >= config.max_steps:
            return f"stopping at --max-steps {config.max_steps}"
        if self.epoch >= config.epochs:
            return f"finished {config.epochs} epochs"
        return None

    def to_payload(self) -> dict:
        """The checkpoint's keys for this state, with the RNG states a resumed run restores."""
        rng = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        return {"epoch": self.epoch, "global_step": self.global_step, "best": self.best,
                "epochs_without_improvement": self.epochs_without_improvement, "history": self.history, "rng": rng}

    @classmethod
    def from_checkpoint(cls, checkpoint: dict, rank: int = 0, restore_rng: bool = True) -> "TrainingState":
        """The state saved in ``checkpoint``; restores this rank's RNG state (each rank's travels in it)."""
        if restore_rng:
            ranks = checkpoint["rng"].get("ranks")
            torch.set_rng_state(ranks[rank] if ranks else checkpoint["rng"]["torch"])
            if "cuda" in checkpoint["rng"] and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(checkpoint["rng"]["cuda"])
        return cls(checkpoint["epoch"], checkpoint["global_step"], checkpoint["best"],
                   checkpoint["epochs_without_improvement"], list(checkpoint["history"]))
