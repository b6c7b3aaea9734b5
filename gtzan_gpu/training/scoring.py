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


def _last_linear(model: GenreClassifier) -> torch.nn.Linear:
    return [m for m in model.backbone.modules() if isinstance(m, torch.nn.Linear)][-1]


def predict_logits(model: GenreClassifier, batches: SegmentBatches, amp: bool, description: str = "scoring",
                   features: list | None = None) -> tuple[torch.Tensor, ...]:
    """Logits ``(N, C)`` float32, labels ``(N,)`` and track positions ``(N,)`` of every segment, on the device.
    ``features``: a list that receives each batch's penultimate features (the classifier layer's input)."""
    model.eval()
    hook = None
    if features is not None:
        hook = _last_linear(model).register_forward_hook(lambda module, inputs, output: features.append(
            inputs[0].detach().float()))
    try:
        return _predict(model, batches, amp, description)
    finally:
        if hook is not None:
            hook.remove()


def _predict(model: GenreClassifier, batches: SegmentBatches, amp: bool, description: str) -> tuple[torch.Tensor, ...]:
    logits, labels, tracks = [], [], []
    steps = -(-len(batches) // batches.batch_size)
    with torch.no_grad(), autocast(batches.device, amp):
        for waveforms, batch_labels, batch_tracks in progress(batches.epoch(), steps, description, "batch"):
            logits.append(model(waveforms).float())
            labels.append(batch_labels)
            tracks.append(batch_tracks)
    return torch.cat(logits), torch.cat(labels), torch.cat(tracks)


def score(model: GenreClassifier, batches: SegmentBatches, num_classes: int, amp: bool,
          description: str = "scoring", distributed: Distributed | None = None, track_ids: list[str] | None = None,
          inspect: bool = False) -> dict:
    """Loss plus segment- and track-level metrics of one subset.

    Under torchrun each rank scores its shard of the subset's tracks (``batches``) and the segments' logits
    are gathered, so every rank gets the figures of the whole subset (``track_ids``, all its tracks): the same
    accuracies and confusion matrices as one process.

    ``inspect``: also return, under ``"inspection"``, what TensorBoard shows of this subset (this rank's shard):
    segment probabilities and labels, the penultimate features of every track, and the most confidently wrong
    segments (their index in ``batches``' order).
    """
    features: list | None = [] if inspect else None
    logits, labels, tracks = predict_logits(model, batches, amp, description, features)
    inspection = _inspection(logits, labels, tracks, features) if inspect else None
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
    if inspection is not None:
        metrics["inspection"] = inspection
    return metrics


def _inspection(logits: torch.Tensor, labels: torch.Tensor, tracks: torch.Tensor, features: list,
                mistakes: int = 8) -> dict:
    """CPU tensors for TensorBoard: probabilities ``(N, C)``, labels ``(N,)``, per-track mean features ``(K, D)``
    with the track positions ``(K,)``, and up to ``mistakes`` (segment index, label, prediction, probability)."""
    probabilities = logits.float().softmax(dim=1).cpu()
    labels, tracks = labels.cpu(), tracks.cpu()
    confidence, predicted = probabilities.max(dim=1)
    wrong = torch.nonzero(predicted != labels).flatten()
    worst = wrong[confidence[wrong].argsort(descending=True)][:mistakes]
    stacked = torch.cat(features).cpu()
    present, first_segment, _, _ = _groups(tracks)
    sums = torch.zeros(int(tracks.max()) + 1, stacked.shape[1]).index_add_(0, tracks, stacked)
    counts = torch.bincount(tracks).clamp_min(1).unsqueeze(1).float()
    track_logits = torch.zeros(int(tracks.max()) + 1, logits.shape[1]).index_add_(0, tracks, logits.float().cpu())
    return {"probabilities": probabilities, "labels": labels,
            "track_features": (sums / counts)[present], "tracks": present,
            "track_labels": labels[first_segment], "track_predicted": track_logits[present].argmax(dim=1),
            "track_first_segment": first_segment,
            "mistakes": [(int(i), int(labels[i]), int(predicted[i]), float(confidence[i])) for i in worst]}


def per_track_predictions(logits: torch.Tensor, labels: torch.Tensor, tracks: torch.Tensor,
                          track_ids: list[str]) -> dict[str, dict]:
    """track id -> {"label", "track" (argmax of the mean segment logits), "segments" (each segment's argmax, in
    time order)}: what paired tests compare, the same however the segments were ordered or split across ranks."""
    logits, labels, tracks = logits.float().cpu(), labels.cpu(), tracks.cpu()
    present, first, order, counts = _groups(tracks)
    segment_predictions = logits.argmax(dim=1)[order].tolist()
    sums = torch.zeros(len(track_ids), logits.shape[1]).index_add_(0, tracks, logits)
    track_predictions = sums.argmax(dim=1)  # the argmax of the mean is the argmax of the sum
    predictions = {}
    start = 0
    for position, head, count in zip(present.tolist(), first.tolist(), counts.tolist()):
        predictions[track_ids[position]] = {"label": int(labels[head]), "track": int(track_predictions[position]),
                                            "segments": segment_predictions[start:start + count]}
        start += count
    return dict(sorted(predictions.items()))


def _groups(tracks: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Segments grouped by track in O(N log N): (tracks present, index of each one's first segment, a stable
    order listing each track's segments together in their original order, segments per track)."""
    order = torch.argsort(tracks, stable=True)
    present, counts = torch.unique_consecutive(tracks[order], return_counts=True)
    first = order[counts.cumsum(0) - counts]
    return present, first, order, counts
