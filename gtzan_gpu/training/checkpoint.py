"""Checkpoints: everything needed to resume or evaluate a run, written atomically."""
from __future__ import annotations

import io
import pickle
from pathlib import Path

import torch

from gtzan_gpu import __version__
from gtzan_gpu.atomic import atomic_write_bytes
from gtzan_gpu.errors import GtzanError

CHECKPOINT_FORMAT = "gtzan-gpu/checkpoint"
CHECKPOINT_VERSION = 1
REQUIRED_KEYS = ("config", "genres", "manifest", "manifest_digest", "model_name", "model", "optimizer", "scaler",
                 "epoch", "global_step", "best", "epochs_without_improvement", "history", "rng")


def save_checkpoint(path: Path, payload: dict) -> None:
    """Serialise in memory, then write-to-temp-and-rename: a crash never leaves a partial file."""
    buffer = io.BytesIO()
    torch.save({"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "gtzan_gpu": __version__, **payload},
               buffer)
    atomic_write_bytes(path, buffer.getvalue())


def load_checkpoint(path: Path) -> dict:
    """Read a checkpoint on the CPU and check that this version of gtzan-gpu can use it."""
    path = Path(path)
    if not path.is_file():
        raise GtzanError(f"no checkpoint at {path}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)  # tensors and plain data only
    except pickle.UnpicklingError:
        # torch's message advises retrying with weights_only=False, i.e. running the file's code: never pass it on
        raise GtzanError(f"cannot read checkpoint {path}: it holds Python objects other than tensors and plain "
                         f"data, which are never loaded (not a gtzan-gpu checkpoint, or a tampered one)") from None
    except Exception as error:
        raise GtzanError(f"cannot read checkpoint {path}: {str(error).splitlines()[0]}") from None
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise GtzanError(f"{path} is not a gtzan-gpu checkpoint")
    if checkpoint.get("version") != CHECKPOINT_VERSION:
        raise GtzanError(f"{path} has checkpoint version {checkpoint.get('version')}; this gtzan-gpu reads "
                         f"version {CHECKPOINT_VERSION}")
    missing = [key for key in REQUIRED_KEYS if key not in checkpoint]
    if missing:
        raise GtzanError(f"{path} is an incomplete gtzan-gpu checkpoint (missing {', '.join(missing)})")
    if not isinstance(checkpoint["genres"], list) or not isinstance(checkpoint["config"], dict):
        raise GtzanError(f"{path} is a damaged gtzan-gpu checkpoint (config or genres of the wrong type)")
    return checkpoint


def load_model_state(model: torch.nn.Module, state: dict, source: Path, model_name: str) -> None:
    """Load weights, turning a shape or key mismatch into a one-line error that names the file."""
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        first = str(error).splitlines()[0]
        raise GtzanError(f"checkpoint {source} does not fit a {model_name!r} model ({first})") from None
