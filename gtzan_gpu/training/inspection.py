"""What TensorBoard shows of one scored subset (validation every epoch, test after ``evaluate``): per-genre PR
curves, the most confidently wrong segments to listen to, and the projector of every track's features."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from gtzan_gpu.features import to_displayable
from gtzan_gpu.models import GenreClassifier
from gtzan_gpu.training.batches import SegmentBatches


def thumbnails(model: GenreClassifier, waveforms: torch.Tensor, size: int = 32) -> torch.Tensor:
    """The first view's displayable image of each waveform, ``(N, 3, size, size)`` on the CPU."""
    view = model.views[0]
    model.eval()
    with torch.no_grad():
        images = to_displayable(model.images(waveforms)[0], getattr(view, "normalize", False))
    return F.interpolate(images, size=(size, size), mode="area")


def collect_inspection(model: GenreClassifier, batches: SegmentBatches, inspection: dict) -> dict:
    """Everything :func:`log_inspection` writes, as CPU tensors: ``score(..., inspect=True)``'s ``inspection``
    plus the mistakes' waveforms and images and a thumbnail per track."""
    collected = dict(inspection)
    mistakes = inspection["mistakes"]
    if mistakes:
        waveforms = batches.segments([m[0] for m in mistakes])
        collected["mistake_waveforms"] = waveforms.cpu()
        collected["mistake_images"] = thumbnails(model, waveforms, 96)
    first = inspection["track_first_segment"].tolist()
    collected["thumbnails"] = torch.cat([thumbnails(model, batches.segments(first[i:i + 32]))
                                         for i in range(0, len(first), 32)])
    collected["track_ids"] = [batches.track_ids[t] for t in inspection["tracks"]]
    return collected


def log_inspection(logger, prefix: str, collected: dict, step: int, sample_rate: int) -> None:
    """``<prefix>_pr/<genre>``, ``<prefix>_mistakes/...`` and the ``<prefix>_tracks`` projector."""
    logger.pr_curves(f"{prefix}_pr", collected["probabilities"], collected["labels"], step)
    if collected["mistakes"]:
        logger.mistakes(f"{prefix}_mistakes", collected["mistake_waveforms"], collected["mistake_images"],
                        collected["mistakes"], step, sample_rate)
    logger.projector(f"{prefix}_tracks", collected["track_features"], collected["track_ids"],
                     collected["track_labels"], collected["track_predicted"], collected["thumbnails"], step)
