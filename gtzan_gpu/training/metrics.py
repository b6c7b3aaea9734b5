"""Classification metrics from a confusion matrix, at segment level and at track level."""
from __future__ import annotations

import torch


def confusion_matrix(predicted: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``(N,)`` predictions and targets -> ``(C, C)`` int64 counts; rows are true classes, columns predicted."""
    flat = target.long() * num_classes + predicted.long()
    return torch.bincount(flat, minlength=num_classes * num_classes).view(num_classes, num_classes)


def summarize(confusion: torch.Tensor) -> dict:
    """Accuracy and macro precision / recall / F1 over the classes that occur in the truth.

    A class never predicted has precision 0 (as sklearn's ``zero_division=0``).
    """
    confusion = confusion.double()
    true_positive = confusion.diag()
    support = confusion.sum(dim=1)
    predicted = confusion.sum(dim=0)
    precision = torch.where(predicted > 0, true_positive / predicted.clamp_min(1), torch.zeros_like(predicted))
    recall = torch.where(support > 0, true_positive / support.clamp_min(1), torch.zeros_like(support))
    denominator = precision + recall
    f1 = torch.where(denominator > 0, 2 * precision * recall / denominator.clamp_min(1e-12), torch.zeros_like(support))
    present = support > 0
    total = float(confusion.sum())
    return {
        "accuracy": float(true_positive.sum()) / total if total else 0.0,
        "macro_precision": float(precision[present].mean()) if present.any() else 0.0,
        "macro_recall": float(recall[present].mean()) if present.any() else 0.0,
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "count": int(total),
    }


def track_logits(logits: torch.Tensor, track: torch.Tensor, num_tracks: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean of each track's segment logits: ``(N, C)``, ``(N,)`` -> (``(K, C)`` logits, ``(K,)`` track positions)
    for the K tracks that have segments."""
    sums = torch.zeros(num_tracks, logits.shape[1], dtype=logits.dtype, device=logits.device)
    sums.index_add_(0, track, logits)
    counts = torch.bincount(track, minlength=num_tracks)
    present = torch.nonzero(counts).squeeze(1)
    return sums[present] / counts[present].unsqueeze(1).to(logits.dtype), present


def evaluate_predictions(logits: torch.Tensor, labels: torch.Tensor, track: torch.Tensor, num_classes: int,
                         num_tracks: int) -> dict:
    """Segment- and track-level metrics and confusion matrices from per-segment logits."""
    segment_confusion = confusion_matrix(logits.argmax(dim=1), labels, num_classes)
    per_track, tracks_present = track_logits(logits.float(), track, num_tracks)
    track_labels = torch.zeros(num_tracks, dtype=torch.long, device=labels.device)
    track_labels[track] = labels
    track_confusion = confusion_matrix(per_track.argmax(dim=1), track_labels[tracks_present], num_classes)
    return {
        "segment": {**summarize(segment_confusion), "confusion": segment_confusion.tolist()},
        "track": {**summarize(track_confusion), "confusion": track_confusion.tolist()},
    }
