"""What a person inspects in TensorBoard (RUN_DIR/tb): curves, the images the model sees, confusion matrices."""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.tensorboard import SummaryWriter

from gtzan_gpu.features import to_displayable
from gtzan_gpu.training.confusion_image import confusion_image

VIEW_NAMES = {"SpectrogramImage": "spectrogram", "WaveformImage": "waveform", "LogMelSpectrogram": "logmel",
              "ConstantQ": "cqt"}


class RunLogger:
    """A thin SummaryWriter wrapper with the project's tag names."""

    def __init__(self, log_dir: str, genres: list[str]):
        self.writer = SummaryWriter(log_dir=log_dir)
        self.genres = genres

    def scalars(self, values: dict[str, float], step: int) -> None:
        for tag, value in values.items():
            self.writer.add_scalar(tag, value, step)

    def feature_images(self, model, waveforms: torch.Tensor, step: int, augmented: bool = False) -> None:
        """Each view's output for a fixed batch, de-normalised to displayable RGB: as evaluation sees it
        (``features/<view>``), or with the training augmentations applied (``augmented/<view>``)."""
        was_training = model.training
        model.train(augmented)
        try:
            with torch.no_grad():
                for view, image in zip(model.views, model.images(waveforms)):
                    name = VIEW_NAMES.get(type(view).__name__, type(view).__name__)
                    self.writer.add_images(f"{'augmented' if augmented else 'features'}/{name}",
                                           to_displayable(image, getattr(view, "normalize", False)), step)
        finally:
            model.train(was_training)

    def confusion(self, tag: str, confusion: list[list[int]], step: int, title: str) -> None:
        image = confusion_image(confusion, self.genres, title)
        self.writer.add_image(tag, np.ascontiguousarray(image), step, dataformats="HWC")

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
