"""A finished run's artifacts as objects: its best model with its checkpoint and configuration.

``evaluate``, ``predict`` and ``export`` all start from here, so none of them imports another.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from gtzan_gpu.errors import GtzanError
from gtzan_gpu.models import GenreClassifier, build_classifier
from gtzan_gpu.training.checkpoint import load_checkpoint, load_model_state
from gtzan_gpu.training.config import TrainConfig
from gtzan_gpu.training.device import resolve_device
from gtzan_gpu.training.run_dir import BEST, LAST

__all__ = ["load_trained_model"]


def load_trained_model(run_dir: str | Path, device: str = "auto"
                       ) -> tuple[GenreClassifier, dict, TrainConfig, torch.device]:
    """The run's best checkpoint (``last.pt`` if none was best yet) as a model on ``device``, in eval mode,
    with the checkpoint and the run's configuration."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise GtzanError(f"run directory not found: {run_dir}")
    target = resolve_device(device)
    path = run_dir / BEST if (run_dir / BEST).is_file() else run_dir / LAST
    checkpoint = load_checkpoint(path)
    config = TrainConfig.from_dict(checkpoint["config"], source=str(path))
    untrained = dataclasses.replace(config.model, weights="none")  # the checkpoint has the weights
    model = build_classifier(untrained, config.features, len(checkpoint["genres"]), config.sample_rate)
    load_model_state(model, checkpoint["model"], path, config.model.name)
    checkpoint["path"] = str(path)
    return model.to(target).eval(), checkpoint, config, target
