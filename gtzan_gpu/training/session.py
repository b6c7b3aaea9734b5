"""What one training run holds while its epochs run: a :class:`Session`, built by the engine and read by the epoch
loop, the validation and the reporting."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from gtzan_gpu.models import GenreClassifier
from gtzan_gpu.training.batches import SegmentBatches
from gtzan_gpu.training.config import TrainConfig
from gtzan_gpu.training.distributed import Distributed
from gtzan_gpu.training.run_data import RunData
from gtzan_gpu.training.state import TrainingState
from gtzan_gpu.training.tensorboard_log import NullRunLogger, RunLogger


@dataclass
class Session:
    """Everything one training run holds while its epochs run (built by the engine's ``_start_session``)."""

    config: TrainConfig
    run_dir: Path
    device: torch.device
    distributed: Distributed
    data: RunData
    train: SegmentBatches
    val: SegmentBatches
    steps_per_epoch: int
    model: GenreClassifier
    step_model: torch.nn.Module  # the model as stepped: DDP-wrapped and/or compiled
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    state: TrainingState
    logger: RunLogger | NullRunLogger = None
    fixed_batch: torch.Tensor | None = None  # the fixed validation batch TensorBoard shows
    fixed_labels: list[int] | None = None

    @property
    def num_classes(self) -> int:
        return len(self.data.genres)
