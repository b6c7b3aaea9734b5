"""Scoring a model on one subset: logits of every segment, then segment- and track-level metrics."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from gtzan_gpu.models import GenreClassifier
from gtzan_gpu.progress import progress
from gtzan_gpu.training.batches import SegmentBatches
from gtzan_gpu.training.device import autocast
from gtzan_gpu.training.metrics import evaluate_predictions


def predict_logits(model: GenreClassifier, batches: SegmentBatches, amp: bool,
                   description: str = "scoring") -> tuple[torch.Tensor, ...]:
    """Logits ``(N, C)`` float32, labels ``(N,)`` and track positions ``(N,)`` of every segment, on the device."""
    model.eval()
    logits, labels, tracks = [], [], []
    steps = -(-len(batches) // batches.batch_size)
    with torch.no_grad(), autocast(batches.device, amp):
        for waveforms, batch_labels, batch_tracks in progress(batches.epoch(), steps, description, "batch"):
            logits.append(model(waveforms).float())
            labels.append(batch_labels)
            tracks.append(batch_tracks)
    return torch.cat(logits), torch.cat(labels), torch.cat(tracks)


def score(model: GenreClassifier, batches: SegmentBatches, num_classes: int, amp: bool,
          description: str = "scoring") -> dict:
    """Loss plus segment- and track-level metrics of one subset."""
    logits, labels, tracks = predict_logits(model, batches, amp, description)
    metrics = evaluate_predictions(logits, labels, tracks, num_classes, len(batches.track_ids))
    metrics["loss"] = float(F.cross_entropy(logits, labels))
    return metrics
