"""The HEAR 2021 API (``load_model``, ``get_scene_embeddings``, ``get_timestamp_embeddings``), so the pretrained
encoders plug into the HEAR evaluation kit (``python -m heareval.embeddings.runner gtzan_gpu.hear --model
musicnn:MSD_musicnn``).

- ``load_model(name)``: a pretrained entry (default ``musicnn:MSD_musicnn``) or a musicnn checkpoint folder; the
  model takes audio at its ``sample_rate`` (16 kHz for MusiCNN) and exposes ``scene_embedding_size`` and
  ``timestamp_embedding_size``.
- Scene embeddings: the mean over 3-s patches without overlap (as the musicnn tagger; a clip shorter than 3 s is one
  patch) of the encoder's penultimate layer.
- Timestamp embeddings: the same layer over 1-s windows every 50 ms, centred on each timestamp (the audio is
  zero-padded by half a window at each end); timestamps in milliseconds, as HEAR asks.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from gtzan_gpu.training.embeddings import EmbeddingExtractor

DEFAULT_MODEL = "musicnn:MSD_musicnn"
SCENE_PATCH_SECONDS = 3.0
TIMESTAMP_WINDOW_SECONDS = 1.0
TIMESTAMP_HOP_SECONDS = 0.05


class HearModel(nn.Module):
    """A pretrained encoder with HEAR's attributes; ``forward`` is ``(B, T) -> (B, D)`` embeddings."""

    def __init__(self, name: str = DEFAULT_MODEL):
        super().__init__()
        from gtzan_gpu.models.pretrained.registry import get_weights

        self.sample_rate = get_weights(name).sample_rate
        self.extractor = EmbeddingExtractor(name, None, self.sample_rate)
        self.scene_embedding_size = self.extractor.width
        self.timestamp_embedding_size = self.extractor.width

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        return self.extractor(audio)


def load_model(model_file_path: str = "") -> HearModel:
    """HEAR: ``model_file_path`` is a pretrained name (``musicnn:MTT_musicnn``) or a musicnn checkpoint folder."""
    name = model_file_path or DEFAULT_MODEL
    if ":" not in name and Path(name).is_dir():
        name = f"musicnn:{Path(name).resolve()}"
    return HearModel(name)


def get_scene_embeddings(audio: torch.Tensor, model: HearModel) -> torch.Tensor:
    """``(n_sounds, n_samples)`` at ``model.sample_rate`` -> ``(n_sounds, scene_embedding_size)``."""
    length = int(SCENE_PATCH_SECONDS * model.sample_rate)
    if audio.shape[1] <= length:
        return model(audio)
    windows = audio.unfold(1, length, length)  # (n, P, length): trailing partial patch dropped, as the tagger
    n, patches, _ = windows.shape
    return model(windows.reshape(n * patches, length)).reshape(n, patches, -1).mean(dim=1)


def get_timestamp_embeddings(audio: torch.Tensor, model: HearModel) -> tuple[torch.Tensor, torch.Tensor]:
    """``(n_sounds, n_samples)`` -> ``((n_sounds, n_timestamps, D), (n_sounds, n_timestamps))`` embeddings of 1-s
    windows centred every 50 ms, and their centres in milliseconds."""
    length, hop = int(TIMESTAMP_WINDOW_SECONDS * model.sample_rate), int(TIMESTAMP_HOP_SECONDS * model.sample_rate)
    count = audio.shape[1] // hop + 1
    padded = torch.nn.functional.pad(audio, (length // 2, length // 2 + length))
    windows = padded.unfold(1, length, hop)[:, :count]  # (n, count, length): the padding leaves >= count windows
    n = audio.shape[0]
    embeddings = torch.cat([model(chunk) for chunk in windows.reshape(n * count, length).split(256)])
    timestamps = (torch.arange(count, dtype=torch.float64) * hop / model.sample_rate * 1000.0).expand(n, count)
    return embeddings.reshape(n, count, -1), timestamps.float()
