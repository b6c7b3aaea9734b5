"""WaveformImage: the seed's peak-normalised ``librosa.display.waveshow`` PNG, as one GPU layer."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gtzan_gpu.features.display import ImageNetNormalize

ENVELOPES = ("symmetric", "minmax")
SEED_COLOR = "#1f77b4"
SEED_LINE_WIDTH_PX = 0.7 / 72 * 150 / 600  # 0.7 pt at 150 dpi on a 600-px image, as a fraction of the height
AUTOSCALE_MARGIN = 0.05                    # matplotlib's axes.xmargin / axes.ymargin


def _hex_to_rgb(color: str) -> tuple[float, float, float]:
    color = color.lstrip("#")
    return tuple(int(color[i:i + 2], 16) / 255.0 for i in (0, 2, 4))


class WaveformImage(nn.Module):
    """``(B, T)`` waveform -> ``(B, 3, H, W)`` filled-envelope image, as the seed's fusion model saw it.

    The waveform is peak-normalised ``y / (max|y| + 1e-9)`` (the seed's code; its report puts the epsilon
    outside the division). Each pixel column is drawn as a filled band, like waveshow's envelope at this
    zoom: ``envelope="symmetric"`` is what waveshow draws (+-max|y| of the samples in the column);
    ``"minmax"`` is the band between the lowest and highest sample. Axes are autoscaled like matplotlib's
    (data limits plus a 5 % margin on each side, both axes), the band edges get half the seed's 0.7-pt line
    width, and each column's coverage is computed on ``supersample`` sub-columns and averaged, which stands
    in for the seed's 600 -> 128 px resize. Fill ``color`` on white; ImageNet normalisation when ``normalize``.
    Silence gives a thin centre line, never NaN. Vectorised over batch, columns and rows.
    """

    def __init__(self, height: int = 128, width: int = 128, envelope: str = "symmetric", color: str = SEED_COLOR,
                 supersample: int = 4, normalize: bool = True):
        super().__init__()
        if envelope not in ENVELOPES:
            raise ValueError(f"unknown envelope {envelope!r} (choose from {', '.join(ENVELOPES)})")
        self.height = height
        self.width = width
        self.envelope = envelope
        self.supersample = supersample
        self.normalize = normalize
        columns = width * supersample
        self.data_columns = round(columns / (1 + 2 * AUTOSCALE_MARGIN))
        self.left_columns = (columns - self.data_columns) // 2
        self.right_columns = columns - self.data_columns - self.left_columns
        self.half_line = SEED_LINE_WIDTH_PX * height / 2
        self.register_buffer("row_top", torch.arange(height, dtype=torch.float32).view(1, height, 1), persistent=False)
        self.register_buffer("fill_rgb", torch.tensor(_hex_to_rgb(color)).view(1, 3, 1, 1), persistent=False)
        self.imagenet = ImageNetNormalize() if normalize else nn.Identity()

    def band(self, waveform: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, T)`` -> (low, high) ``(B, data_columns)``: the band of each data sub-column, peak-normalised."""
        y = waveform.float()
        if self.envelope == "symmetric":  # one pass: each column's peak; the track's peak is the largest of them
            high = self._columns(y.abs(), torch.amax)
            high = high / (high.amax(dim=-1, keepdim=True) + 1e-9)
            return -high, high
        peak = y.abs().amax(dim=-1, keepdim=True) + 1e-9
        return self._columns(y, torch.amin) / peak, self._columns(y, torch.amax) / peak

    def _columns(self, y: torch.Tensor, reduce) -> torch.Tensor:
        """``(B, T)`` -> ``(B, data_columns)``: ``reduce`` over each column's ``ceil(T / columns)`` samples (the
        last column's are fewer: the samples it would take past the end repeat the last one, which changes no
        extreme; columns wholly past the end hold only that sample), read in place from a view, without a padded
        copy."""
        per_column = -(-y.shape[-1] // self.data_columns)
        full = y.shape[-1] // per_column
        columns = [reduce(y[:, :full * per_column].view(y.shape[0], full, per_column), dim=-1)]
        if y.shape[-1] > full * per_column:
            columns.append(reduce(y[:, full * per_column:], dim=-1, keepdim=True))
        missing = self.data_columns - sum(c.shape[-1] for c in columns)
        if missing:
            columns.append(y[:, -1:].expand(-1, missing))
        return torch.cat(columns, dim=-1)

    def coverage(self, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        """Band limits ``(B, D)`` -> fraction of each pixel covered ``(B, H, W)``."""
        bottom = low.amin(dim=-1, keepdim=True)
        top = high.amax(dim=-1, keepdim=True)
        span = top - bottom
        # a zero-height band (silence) gets a view centred on it, as matplotlib's nonsingular() does
        half_view = torch.where(span > 0, span * (0.5 + AUTOSCALE_MARGIN), torch.full_like(span, 0.5))
        view_top = (top + bottom) / 2 + half_view
        rows_per_unit = self.height / (2 * half_view)
        band_top = ((view_top - high) * rows_per_unit - self.half_line).unsqueeze(1)
        band_bottom = ((view_top - low) * rows_per_unit + self.half_line).unsqueeze(1)
        covered = torch.minimum(self.row_top + 1, band_bottom) - torch.maximum(self.row_top, band_top)
        covered = covered.clamp(0.0, 1.0)
        covered = F.pad(covered, (self.left_columns, self.right_columns))
        return covered.view(*covered.shape[:2], self.width, self.supersample).mean(dim=-1)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        alpha = self.coverage(*self.band(waveform)).unsqueeze(1)
        rgb = 1.0 - alpha * (1.0 - self.fill_rgb)
        return self.imagenet(rgb)

    def extra_repr(self) -> str:
        return (f"size=({self.height}, {self.width}), envelope={self.envelope!r}, supersample={self.supersample}, "
                f"normalize={self.normalize}")
