"""Figures drawn with matplotlib (Agg, in memory): PNG bytes for files and TensorBoard alike."""
from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()


def mm_ss(seconds: float, _position=None) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def timeline_png(start_seconds: list[float], segment_seconds: float, probabilities: list[list[float]],
                 genres: list[str], title: str) -> bytes:
    """Genre probabilities over time as a stacked area plot (each segment drawn at its centre), time in mm:ss."""
    centres = [start + segment_seconds / 2 for start in start_seconds]
    columns = list(zip(*probabilities)) if probabilities else [[] for _ in genres]
    figure, axes = plt.subplots(figsize=(9, 3.6), dpi=110)
    colours = plt.get_cmap("tab10" if len(genres) <= 10 else "tab20").colors
    if len(centres) == 1:  # one segment: a flat band over its span
        centres = [start_seconds[0], start_seconds[0] + segment_seconds]
        columns = [[value, value] for value in columns]
    axes.stackplot(centres, *columns, labels=genres, colors=colours[:len(genres)], alpha=0.9)
    axes.set_xlim(centres[0], centres[-1])
    axes.set_ylim(0, 1)
    axes.xaxis.set_major_formatter(FuncFormatter(mm_ss))
    axes.set_xlabel("time (mm:ss, segment centres)")
    axes.set_ylabel("genre probability")
    axes.set_title(title, fontsize=10)
    axes.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    figure.tight_layout()
    return _png(figure)


def feature_grid_figure(views: dict[str, "object"], captions: list[str]):
    """A grid of feature images: one row per view (name -> displayable ``(N, 3, H, W)`` tensor), one column per
    segment captioned with its genre and track id. Returns the matplotlib Figure (for PNG or TensorBoard)."""
    names = list(views)
    count = len(captions)
    figure, axes = plt.subplots(len(names), count, figsize=(1.6 * count, 1.75 * len(names) + 0.3), dpi=100,
                                squeeze=False)
    for row, name in enumerate(names):
        images = views[name]
        for column in range(count):
            axis = axes[row][column]
            axis.imshow(images[column].permute(1, 2, 0).numpy(), origin="upper", interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
            if row == 0:
                axis.set_title(captions[column], fontsize=7)
            if column == 0:
                axis.set_ylabel(name, fontsize=8)
    figure.tight_layout()
    return figure
