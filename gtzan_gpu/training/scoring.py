"""Scoring a model on one subset: logits of every segment, then segment- and track-level metrics."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from gtzan_gpu.models import GenreClassifier
from gtzan_gpu.progress import progress
from gtzan_gpu.training.batches import SegmentBatches
from gtzan_gpu.training.device import autocast
from gtzan_gpu.training.distributed import Distributed
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
          description: str = "scoring", distributed: Distributed | None = None, track_ids: list[str] | None = None
          ) -> dict:
    """Loss plus segment- and track-level metrics of one subset.

    Under torchrun each rank scores its shard of the subset's tracks (``batches``) and the segments' logits
    are gathered, so every rank gets the figures of the whole subset (``track_ids``, all its tracks): the same
    accuracies and confusion matrices as one process.
    """
    logits, labels, tracks = predict_logits(model, batches, amp, description)
    if distributed is not None and distributed.active:
        names = batches.track_ids
        shards = distributed.gather((logits.cpu(), labels.cpu(), [names[i] for i in tracks.tolist()]))
        position = {track_id: i for i, track_id in enumerate(track_ids)}
        logits = torch.cat([s[0] for s in shards])
        labels = torch.cat([s[1] for s in shards])
        tracks = torch.tensor([position[name] for s in shards for name in s[2]], dtype=torch.long)
    else:
        track_ids = batches.track_ids
    metrics = evaluate_predictions(logits, labels, tracks, num_classes, len(track_ids))
    metrics["loss"] = float(F.cross_entropy(logits, labels))
    metrics["predictions"] = per_track_predictions(logits, labels, tracks, track_ids)
    return metrics


def per_track_predictions(logits: torch.Tensor, labels: torch.Tensor, tracks: torch.Tensor,
                          track_ids: list[str]) -> dict[str, dict]:
    """track id -> {"label", "track" (argmax of the mean segment logits), "segments" (each segment's argmax, in
    time order)}: what paired tests compare, the same however the segments were ordered or split across ranks."""
    logits, labels, tracks = logits.float().cpu(), labels.cpu(), tracks.cpu()
    predictions = {}
    for position in torch.unique(tracks).tolist():
        mask = tracks == position
        predictions[track_ids[position]] = {"label": int(labels[mask][0]),
                                            "track": int(logits[mask].mean(dim=0).argmax()),
                                            "segments": logits[mask].argmax(dim=1).tolist()}
    return dict(sorted(predictions.items()))
