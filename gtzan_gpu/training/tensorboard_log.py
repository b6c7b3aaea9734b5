"""What a person inspects in TensorBoard (RUN_DIR/tb): curves, the images the model sees, confusion matrices,
Grad-CAM, PR curves, mistakes to listen to and the projector. Figures come from :mod:`gtzan_gpu.figures`,
the same code that draws the PNG files."""
from __future__ import annotations

import re

import torch
from torch.utils.tensorboard import SummaryWriter

from gtzan_gpu.figures import confusion_figure, feature_grid_figure, gradcam_figure
from gtzan_gpu.training.inspection import collect_saliency, displayable, view_name


def tag_names(labels: list[str]) -> list[str]:
    """Labels as TensorBoard tag parts: runs of characters other than letters, digits, ``.``, ``-`` and ``_`` become
    one ``_`` (a ``/`` would open a new tag group); two labels that end up alike get their index appended."""
    names = [re.sub(r"[^A-Za-z0-9._-]+", "_", label).strip("_") or "label" for label in labels]
    return [f"{name}_{index}" if names.count(name) > 1 else name for index, name in enumerate(names)]


def metadata_safe(text: str) -> str:
    """A projector metadata cell: the file is tab-separated, one row per line."""
    return re.sub(r"[\t\r\n]+", " ", text)


class RunLogger:
    """A thin SummaryWriter wrapper with the project's tag names."""

    def __init__(self, log_dir: str, genres: list[str]):
        self.writer = SummaryWriter(log_dir=log_dir)
        self.genres = genres

    def scalars(self, values: dict[str, float], step: int) -> None:
        for tag, value in values.items():
            self.writer.add_scalar(tag, value, step)

    def feature_images(self, model, waveforms: torch.Tensor, step: int, augmented: bool = False,
                       labels: list[int] | None = None) -> None:
        """Each view's output for a fixed batch, de-normalised to displayable RGB, one image per segment with its
        genre in the tag (``features/<view>/<genre>``; ``augmented/<view>/<genre>`` with the training
        augmentations applied), so each TensorBoard card shows one readable image. ``labels``: the segments'
        label indices (without them the tag says the segment's position)."""
        was_training = model.training
        model.train(augmented)
        try:
            with torch.no_grad():
                for view, image in zip(model.views, model.images(waveforms)):
                    name = view_name(view)
                    for part, picture in zip(self.image_names(labels, image.shape[0]), displayable(view, image)):
                        self.writer.add_image(f"{'augmented' if augmented else 'features'}/{name}/{part}",
                                              picture, step)
        finally:
            model.train(was_training)

    def image_names(self, labels: list[int] | None, count: int) -> list[str]:
        """One tag part per segment: its genre (``rock``, a second rock segment ``rock-2``), or ``segment-<i>``."""
        if labels is None:
            return [f"segment-{i}" for i in range(count)]
        seen: dict[str, int] = {}
        names = []
        for label in labels[:count]:
            genre = self.genres[label]
            seen[genre] = seen.get(genre, 0) + 1
            names.append(genre if seen[genre] == 1 else f"{genre}-{seen[genre]}")
        return names

    def confusion(self, tag: str, confusion: list[list[int]], step: int, title: str) -> None:
        """The confusion matrix as a figure: counts, row-normalised shading, axis titles."""
        self.writer.add_figure(tag, confusion_figure(confusion, self.genres, title), step, close=True)

    def saliency(self, tag: str, saliency: dict, step: int) -> None:
        """``tag`` (``saliency/gradcam``): Grad-CAM of each segment's predicted genre over its spectrogram image,
        from :func:`collect_saliency`."""
        self.writer.add_figure(tag, gradcam_figure(saliency["images"], saliency["heatmaps"], saliency["captions"],
                                                   saliency["view"]), step, close=True)

    def saliency_of(self, model, waveforms: torch.Tensor, labels: list[int], step: int) -> None:
        """``saliency/gradcam`` for a fixed batch of ``(N, T)`` waveforms with true ``labels``."""
        self.saliency("saliency/gradcam", collect_saliency(model, waveforms, labels, self.genres), step)

    def feature_grid(self, model, waveforms: torch.Tensor, captions: list[str], step: int) -> None:
        """``features/grid``: every view of a fixed batch side by side (rows), each segment captioned with its
        genre and track id (columns), as the model sees it in evaluation."""
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                views = {view_name(view): displayable(view, image)
                         for view, image in zip(model.views, model.images(waveforms))}
        finally:
            model.train(was_training)
        self.writer.add_figure("features/grid", feature_grid_figure(views, captions), step, close=True)

    def pr_curves(self, prefix: str, probabilities: torch.Tensor, labels: torch.Tensor, step: int) -> None:
        """One precision-recall curve per genre (one-vs-rest over segments): ``<prefix>/<genre>``, the label made
        tag-safe (:func:`tag_names`: FMA's "Old-Time / Historic" -> ``Old-Time_Historic``)."""
        for index, name in enumerate(tag_names(self.genres)):
            self.writer.add_pr_curve(f"{prefix}/{name}", labels == index, probabilities[:, index], step)

    def mistakes(self, prefix: str, waveforms: torch.Tensor, images: torch.Tensor, mistakes: list[tuple],
                 step: int, sample_rate: int) -> None:
        """The most confidently wrong segments: ``<prefix>/audio/<k>`` to listen to, captioned "true X, predicted
        Y (p)", and ``<prefix>/image/<k>`` beside them (``images``: displayable ``(N, 3, H, W)``)."""
        for k, ((_, label, predicted, probability), waveform, image) in enumerate(zip(mistakes, waveforms, images)):
            caption = f"true {self.genres[label]}, predicted {self.genres[predicted]} ({probability:.2f})"
            peak = waveform.abs().max().clamp_min(1e-9)
            self.writer.add_audio(f"{prefix}/audio/{k}", (waveform / peak).unsqueeze(0).cpu(), step,
                                  sample_rate=sample_rate)
            self.writer.add_image(f"{prefix}/image/{k}", image, step)
            self.writer.add_text(f"{prefix}/caption/{k}", caption, step)

    def projector(self, tag: str, features: torch.Tensor, track_ids: list[str], labels: torch.Tensor,
                  predicted: torch.Tensor, thumbnails: torch.Tensor, step: int) -> None:
        """Penultimate features of each track in the embedding projector, with genre, prediction and correctness
        as metadata and a thumbnail of the track's image as the sprite."""
        metadata = [[metadata_safe(self.genres[int(t)]), metadata_safe(self.genres[int(p)]), str(bool(t == p)),
                     metadata_safe(track)]
                    for t, p, track in zip(labels, predicted, track_ids)]
        self.writer.add_embedding(features, metadata=metadata, label_img=thumbnails, global_step=step, tag=tag,
                                  metadata_header=["genre", "predicted", "correct", "track"])

    def flush(self) -> None:
        self.writer.flush()

    def text(self, tag: str, text: str) -> None:
        self.writer.add_text(tag, text)

    def hparams(self, config: dict, metrics: dict[str, float]) -> None:
        flat = {key: (value if isinstance(value, (int, float, str, bool)) else str(value))
                for key, value in _flatten(config).items()}
        self.writer.add_hparams(flat, metrics, run_name=".")

    def close(self) -> None:
        self.writer.close()


def _flatten(values: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = "None" if value is None else value
    return flat


class NullRunLogger:
    """RunLogger's interface, writing nothing: what ranks other than 0 log to under torchrun."""

    def __getattr__(self, name: str):
        return lambda *args, **kwargs: None
