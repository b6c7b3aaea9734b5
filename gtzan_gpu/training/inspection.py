"""What TensorBoard shows of one scored subset (validation every epoch, test after ``evaluate``): per-genre PR
curves, the most confidently wrong segments to listen to, and the projector of every track's features."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from gtzan_gpu.features import to_displayable
from gtzan_gpu.features.registry import frontend_of
from gtzan_gpu.models import GenreClassifier, grad_cam
from gtzan_gpu.training.batches import SegmentBatches


def view_name(view) -> str:
    """A feature layer's short name in tags and figures (spectrogram, waveform, logmel, cqt), from the front-end
    registry; a layer no entry makes is named by its class."""
    spec = frontend_of(view)
    return spec.display_name if spec is not None else type(view).__name__


def displayable(view, images: torch.Tensor) -> torch.Tensor:
    """``view``'s output ``(B, C, H, W)`` as RGB in [0, 1] on the CPU, its ImageNet normalisation undone."""
    return to_displayable(images, getattr(view, "normalize", False))


def collect_saliency(model: GenreClassifier, waveforms: torch.Tensor, labels: list[int], genres: list[str]) -> dict:
    """What :func:`gtzan_gpu.figures.gradcam_figure` draws for ``(N, T)`` waveforms with true ``labels``: the
    first view's displayable images and Grad-CAM heat maps of the predicted genre (CPU), captioned
    "true X / pred Y (p)"."""
    cam = grad_cam(model, waveforms)
    view = model.views[0]
    confidence = cam.probabilities.gather(1, cam.classes.view(-1, 1))[:, 0].cpu()
    captions = [f"true {genres[label]}\npred {genres[int(c)]} ({float(p):.2f})"
                for label, c, p in zip(labels, cam.classes.cpu(), confidence)]
    return {"images": displayable(view, cam.images), "heatmaps": cam.heatmaps.cpu(), "captions": captions,
            "view": view_name(view)}


def thumbnails(model: GenreClassifier, waveforms: torch.Tensor, size: int = 32) -> torch.Tensor:
    """The first view's displayable image of each waveform, ``(N, 3, size, size)`` on the CPU."""
    view = model.views[0]
    model.eval()
    with torch.no_grad():
        images = displayable(view, model.images(waveforms)[0])
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
