"""WaveformImage: the seed's peak-normalised ``librosa.display.waveshow`` PNG, as one GPU layer."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gtzan_gpu.features.display import IMAGENET_MEAN, IMAGENET_STD

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
    in for the seed's 600 -> 128 px resize. Fill ``color`` on white; ImageNet normalisation when ``normalize``;
    written in ``dtype`` (``torch.bfloat16``: half the bytes).
    Silence gives a thin centre line, never NaN. Vectorised over batch, columns and rows.
    """

    def __init__(self, height: int = 128, width: int = 128, envelope: str = "symmetric", color: str = SEED_COLOR,
                 supersample: int = 4, normalize: bool = True, dtype: torch.dtype = torch.float32):
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
        self.register_buffer("pixel_column", torch.arange(columns) // supersample, persistent=False)
        self.register_buffer("edge_sign", torch.tensor([1.0, -1.0]).view(1, 2, 1), persistent=False)
        white, fill = torch.ones(3), torch.tensor(_hex_to_rgb(color))
        mean, std = (torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)) if normalize else (0.0, 1.0)
        self.register_buffer("paper", ((white - mean) / std).view(1, 3, 1, 1).to(dtype), persistent=False)
        self.register_buffer("ink", ((fill - white) / std).view(1, 3, 1, 1).to(dtype), persistent=False)

    def band(self, waveform: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, T)`` -> (low, high) ``(B, data_columns)``: the band of each data sub-column, peak-normalised.

        Each column's lowest and highest sample, read from a view of the waveform (fused into one read under
        ``torch.compile``); the track's peak and the symmetric envelope (each column's largest ``|y|``) follow from
        those, with no ``|y|`` copy of the waveform."""
        lowest, highest = self._column_extremes(waveform.float())
        if self.envelope == "symmetric":
            high = torch.maximum(highest, -lowest)
            high = high / (high.amax(dim=-1, keepdim=True) + 1e-9)
            return -high, high
        peak = torch.maximum(highest.amax(dim=-1, keepdim=True), -lowest.amin(dim=-1, keepdim=True)) + 1e-9
        return lowest / peak, highest / peak

    def _column_extremes(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, T)`` -> (min, max) ``(B, data_columns)`` over each column's ``ceil(T / columns)`` samples (the last
        column's are fewer: the samples it would take past the end repeat the last one, which changes no extreme;
        columns wholly past the end hold only that sample), read in place from a view, without a padded copy."""
        per_column = -(-y.shape[-1] // self.data_columns)
        full = y.shape[-1] // per_column
        # amin and amax, not aminmax: on the CPU aminmax over the last dim is not vectorised (about 10x slower)
        columns = y[:, :full * per_column].view(y.shape[0], full, per_column)
        parts = [(columns.amin(dim=-1), columns.amax(dim=-1))]
        if y.shape[-1] > full * per_column:
            tail = y[:, full * per_column:]
            parts.append((tail.amin(dim=-1, keepdim=True), tail.amax(dim=-1, keepdim=True)))
        missing = self.data_columns - sum(part[0].shape[-1] for part in parts)
        if missing:
            last = y[:, -1:].expand(-1, missing)
            parts.append((last, last))
        return torch.cat([part[0] for part in parts], dim=-1), torch.cat([part[1] for part in parts], dim=-1)

    def coverage(self, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        """Band limits ``(B, D)`` -> fraction of each pixel covered ``(B, H, W)``, averaged over its sub-columns.

        A band ``[top, bottom]`` (in rows, top <= bottom) covers ``f(bottom) - f(top)`` of row ``r``, where
        ``f(x) = clamp(x - r, 0, 1)``. Down a column that is a running sum of two impulses per band edge (at rows
        ``floor(x)`` and ``floor(x) + 1``, weights ``1 - frac(x)`` and ``frac(x)``), so the raster is one scatter
        of ``4 S`` impulses per pixel column and one cumulative sum down the rows: O(S + H) per column instead
        of a comparison of every row with every sub-column, O(S H). The margin sub-columns are empty bands."""
        bottom = low.amin(dim=-1, keepdim=True)
        top = high.amax(dim=-1, keepdim=True)
        span = top - bottom
        # a zero-height band (silence) gets a view centred on it, as matplotlib's nonsingular() does
        half_view = torch.where(span > 0, span * (0.5 + AUTOSCALE_MARGIN), torch.full_like(span, 0.5))
        view_top = (top + bottom) / 2 + half_view
        rows_per_unit = self.height / (2 * half_view)
        edges = torch.stack([(view_top - high) * rows_per_unit - self.half_line,     # each band's top
                             (view_top - low) * rows_per_unit + self.half_line], 1)  # and bottom: (B, 2, D)
        index, weight = self._edge_impulses(F.pad(edges, (self.left_columns, self.right_columns)))
        steps = torch.zeros(low.shape[0], (self.height + 2) * self.width, device=low.device, dtype=low.dtype)
        steps = steps.scatter_add(1, index, weight)
        rows = steps.view(low.shape[0], self.height + 2, self.width)[:, :self.height]
        return rows.cumsum(dim=1) * (1.0 / self.supersample)

    def _edge_impulses(self, edges: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, 2, W S)`` band tops and bottoms in rows (margins: 0, an empty band) -> (flat ``(row, column)``
        index, weight), each ``(B, 4 W S)``: the impulses whose running sum down a column is ``f(bottom) -
        f(top)`` (see :meth:`coverage`): ``1 - frac`` at ``floor(x)`` and ``frac`` at ``floor(x) + 1``, signed
        + for a top and - for a bottom."""
        x = edges.clamp(0.0, float(self.height))
        whole = x.detach().floor()
        fraction = (x - whole) * self.edge_sign
        index = whole.long() * self.width + self.pixel_column
        return (torch.cat([index, index + self.width], dim=1).flatten(1),
                torch.cat([self.edge_sign - fraction, fraction], dim=1).flatten(1))

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """``(B, T)`` -> ``(B, 3, H, W)``: white minus the covered fraction of (white - fill), then normalised, as
        one multiply-add per channel (``paper + alpha * ink``, normalisation folded into both)."""
        alpha = self.coverage(*self.band(waveform)).unsqueeze(1)
        return torch.addcmul(self.paper, alpha.to(self.paper.dtype), self.ink)

    def extra_repr(self) -> str:
        return (f"size=({self.height}, {self.width}), envelope={self.envelope!r}, supersample={self.supersample}, "
                f"normalize={self.normalize}")
