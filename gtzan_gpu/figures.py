"""Every figure the project draws, with matplotlib's object API (no pyplot state, Agg, in memory).

Each ``*_figure`` function returns a :class:`matplotlib.figure.Figure`; :func:`png_bytes` turns it into a PNG
file's bytes and ``SummaryWriter.add_figure`` into a TensorBoard image, so a PNG on disk and the TensorBoard
card come from the same code. Sizes and fonts are chosen to stay readable at TensorBoard's default card
width (about 500-650 px): single-plot figures are at most about 7.3 inches wide at 100 dpi, strips of images
or panels (feature grid, Grad-CAM; the benchmark's in :mod:`gtzan_gpu.bench.figures`) grow with their count, and no
text is smaller than 8 pt.
"""
from __future__ import annotations

import io
from typing import Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

DPI = 100
SMALLEST_FONT = 8


def png_bytes(figure: Figure) -> bytes:
    """The figure as PNG file bytes."""
    buffer = io.BytesIO()
    FigureCanvasAgg(figure)  # attaches an Agg canvas whatever the figure was made with
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


LEGEND_LIMIT = 20        # more labels than this: per-label legends are left out (the title says so)
COUNTS_LIMIT = 24        # more labels than this: confusion cells are shaded only, not numbered
TICK_LABEL_LIMIT = 64    # more labels than this: every k-th label is named on the confusion axes


def palette(count: int) -> list:
    """``count`` distinct colours: tab10, tab20, then evenly spaced along a perceptual rainbow (turbo)."""
    if count <= 20:
        return list(colormaps["tab10" if count <= 10 else "tab20"].colors)
    return [colormaps["turbo"](x) for x in np.linspace(0.05, 0.95, count)]


def mm_ss(seconds: float, _position=None) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def confusion_figure(confusion: Sequence[Sequence[int]], labels: Sequence[str], title: str = "") -> Figure:
    """A ``(C, C)`` confusion matrix (rows: true genre, columns: predicted): each cell shaded by its share of
    the true genre's examples (row-normalised, so classes of any size compare) and labelled with its count.

    Readable at 16 labels (FMA-medium); beyond :data:`COUNTS_LIMIT` the cells are shaded only, and beyond
    :data:`TICK_LABEL_LIMIT` (FMA-large's 161) every k-th label is named, the figure growing to at most 16 in."""
    counts = np.asarray(confusion, dtype=np.int64)
    rows = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, rows, out=np.zeros(counts.shape), where=rows > 0)
    n = len(labels)
    side = min(6.2, max(3.6, 0.42 * n + 2.0)) if n <= COUNTS_LIMIT else min(16.0, 0.1 * n + 2.0)
    figure = Figure(figsize=(side + 1.1, side), dpi=DPI, layout="constrained")
    axes = figure.add_subplot()
    image = axes.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0, interpolation="nearest")
    font = 9 if n <= 12 else SMALLEST_FONT
    if n <= COUNTS_LIMIT:
        for i in range(n):
            for j in range(n):
                if counts[i, j]:
                    axes.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=font,
                              color="white" if share[i, j] > 0.55 else "black")
    every = max(1, -(-n // TICK_LABEL_LIMIT))
    ticks = list(range(0, n, every))
    names = [labels[i] for i in ticks]
    axes.set_xticks(ticks, names, rotation=45 if n <= COUNTS_LIMIT else 90, ha="right", rotation_mode="anchor",
                    fontsize=font)
    axes.set_yticks(ticks, names, fontsize=font)
    axes.set_xlabel("predicted genre", fontsize=10)
    axes.set_ylabel("true genre", fontsize=10)
    total = int(counts.sum())
    accuracy = np.trace(counts) / total if total else 0.0
    axes.set_title(f"{title}\naccuracy {accuracy:.3f} ({np.trace(counts)} / {total})" if title else
                   f"accuracy {accuracy:.3f} ({np.trace(counts)} / {total})", fontsize=10)
    bar = figure.colorbar(image, ax=axes, shrink=0.8)
    bar.set_label("share of the true genre (row)", fontsize=9)
    bar.ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    bar.ax.tick_params(labelsize=SMALLEST_FONT)
    return figure


def precision_recall(scores: np.ndarray, positives: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """One-vs-rest precision-recall curve of ``scores`` ``(N,)`` for the boolean ``positives`` ``(N,)``, at every
    threshold from the highest score down, and its average precision (the mean of the precision at each
    positive's rank: the area under the step curve, no interpolation). Ties are broken by order."""
    order = np.argsort(-scores, kind="stable")
    hits = positives[order].astype(np.float64)
    true_positives = np.cumsum(hits)
    precision = true_positives / np.arange(1, len(hits) + 1)
    total = hits.sum()
    recall = true_positives / total if total else np.zeros_like(true_positives)
    average = float((precision * hits).sum() / total) if total else 0.0
    return precision, recall, average


def pr_curves_figure(probabilities: np.ndarray, labels: np.ndarray, genres: Sequence[str], title: str) -> Figure:
    """Per-genre precision-recall curves (one vs rest) of ``(N, C)`` probabilities against ``(N,)`` labels,
    each with its average precision in the legend, and the mean over genres (macro AP) in the title."""
    probabilities, labels = np.asarray(probabilities, dtype=np.float64), np.asarray(labels)
    colours = palette(len(genres))
    figure = Figure(figsize=(6.8, 4.6), dpi=DPI, layout="constrained")
    axes = figure.add_subplot()
    averages = []
    for index, genre in enumerate(genres):
        precision, recall, average = precision_recall(probabilities[:, index], labels == index)
        averages.append(average)
        axes.step(np.concatenate([[0.0], recall]), np.concatenate([[1.0], precision]), where="post",
                  color=colours[index % len(colours)], linewidth=1.4, label=f"{genre} (AP {average:.2f})")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.02)
    axes.set_xlabel("recall", fontsize=10)
    axes.set_ylabel("precision", fontsize=10)
    axes.grid(alpha=0.3)
    many = len(genres) > LEGEND_LIMIT
    axes.set_title(f"{title}\nmacro average precision {np.mean(averages):.3f}"
                   + (f" over {len(genres)} labels (legend left out)" if many else ""), fontsize=10)
    if not many:
        axes.legend(fontsize=SMALLEST_FONT, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    return figure


def embedding_figure(features: np.ndarray, labels: np.ndarray, predicted: np.ndarray, genres: Sequence[str],
                     title: str) -> Figure:
    """The projector's view on paper: ``(N, D)`` features projected on their first two principal components,
    coloured by true genre, wrong predictions drawn as crosses."""
    features = np.asarray(features, dtype=np.float64)
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    centred = features - features.mean(axis=0, keepdims=True)
    _, singular, basis = np.linalg.svd(centred, full_matrices=False)
    points = centred @ basis[:2].T if basis.shape[0] >= 2 else np.pad(centred @ basis.T, ((0, 0), (0, 1)))
    explained = singular ** 2 / max(float((singular ** 2).sum()), 1e-12)
    colours = palette(len(genres))
    figure = Figure(figsize=(6.8, 4.8), dpi=DPI, layout="constrained")
    axes = figure.add_subplot()
    for index, genre in enumerate(genres):
        right = (labels == index) & (predicted == labels)
        wrong = (labels == index) & (predicted != labels)
        colour = colours[index % len(colours)]
        axes.scatter(points[right, 0], points[right, 1], s=28, color=colour, label=genre)
        if wrong.any():
            axes.scatter(points[wrong, 0], points[wrong, 1], s=40, color=colour, marker="x", linewidths=1.6)
    axes.scatter([], [], s=40, color="grey", marker="x", label="predicted wrongly")
    axes.set_xlabel(f"principal component 1 ({100 * explained[0]:.0f} % of variance)", fontsize=10)
    axes.set_ylabel(f"principal component 2 ({100 * (explained[1] if len(explained) > 1 else 0):.0f} %)",
                    fontsize=10)
    many = len(genres) > LEGEND_LIMIT
    axes.set_title(title + (f" ({len(genres)} labels, legend left out)" if many else ""), fontsize=10)
    axes.tick_params(labelsize=SMALLEST_FONT)
    if not many:
        axes.legend(fontsize=SMALLEST_FONT, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    return figure


def accuracy_bars_figure(cells: Sequence[dict], models: Sequence[str], lengths: Sequence[float],
                         title: str) -> Figure:
    """Grouped bars of test accuracy: one group per model, one bar per segment length.

    ``cells``: dicts with ``model``, ``seconds``, ``segment`` and ``track`` accuracy, and optionally
    ``segment_ci95`` / ``track_ci95`` (half-widths of 95 % intervals over folds or repeats, drawn as error
    bars) and ``n`` (runs averaged). Bars are segment accuracy, black diamonds track accuracy."""
    colours = palette(len(lengths))
    figure = Figure(figsize=(max(4.8, min(7.0, 1.6 + 1.5 * len(models))), 3.8), dpi=DPI, layout="constrained")
    axes = figure.add_subplot()
    width = 0.8 / max(1, len(lengths))
    track_x, tracks, track_errors = [], [], []
    for i, seconds in enumerate(lengths):
        x, heights, errors = [], [], []
        for g, model in enumerate(models):
            match = [c for c in cells if c["model"] == model and c["seconds"] == seconds]
            if match:
                x.append(g - 0.4 + width * (i + 0.5))
                heights.append(match[0]["segment"])
                errors.append(match[0].get("segment_ci95", 0.0))
                tracks.append(match[0]["track"])
                track_errors.append(match[0].get("track_ci95", 0.0))
        if not x:
            continue
        track_x += x
        bars = axes.bar(x, heights, width * 0.92, color=colours[i % len(colours)], label=f"{seconds:g} s",
                        yerr=errors if any(errors) else None, capsize=3, error_kw={"elinewidth": 1})
        axes.bar_label(bars, [f"{h:.2f}" for h in heights], label_type="center", rotation=90, color="white",
                       fontsize=9, fontweight="bold")
    if track_x:
        axes.errorbar([x + width * 0.2 for x in track_x], tracks,
                      yerr=track_errors if any(track_errors) else None, fmt="D", color="black", markersize=4,
                      capsize=2, linewidth=0.8, label="track accuracy")
    axes.set_xticks(range(len(models)), models, fontsize=9)
    axes.set_ylim(0, 1.1)
    axes.set_yticks(np.linspace(0, 1, 6))
    axes.tick_params(axis="y", labelsize=SMALLEST_FONT + 1)
    axes.set_ylabel("test accuracy", fontsize=10)
    axes.set_xlabel("model (bars: segment accuracy per segment length)", fontsize=9)
    axes.grid(axis="y", alpha=0.3)
    axes.set_axisbelow(True)
    axes.set_title(title, fontsize=10)
    axes.legend(fontsize=SMALLEST_FONT, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    return figure


def timeline_figure(start_seconds: Sequence[float], segment_seconds: float,
                    probabilities: Sequence[Sequence[float]], genres: Sequence[str], title: str) -> Figure:
    """Genre probabilities over time as a stacked area plot (each segment drawn at its centre), time in mm:ss."""
    centres = [start + segment_seconds / 2 for start in start_seconds]
    columns = [list(column) for column in zip(*probabilities)] if probabilities else [[] for _ in genres]
    figure = Figure(figsize=(9, 3.6), dpi=110, layout="constrained")
    axes = figure.add_subplot()
    if len(centres) == 1:  # one segment: a flat band over its span
        centres = [start_seconds[0], start_seconds[0] + segment_seconds]
        columns = [[value, value] for value in columns]
    axes.stackplot(centres, *columns, labels=genres, colors=palette(len(genres))[:len(genres)], alpha=0.9)
    axes.set_xlim(centres[0], centres[-1])
    axes.set_ylim(0, 1)
    axes.xaxis.set_major_formatter(FuncFormatter(mm_ss))
    axes.set_xlabel("time (mm:ss, segment centres)")
    axes.set_ylabel("genre probability")
    axes.set_title(title, fontsize=10)
    axes.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=SMALLEST_FONT, frameon=False)
    return figure


CARD_COLUMNS = 4  # images per row in a figure TensorBoard shows at card size: captions stay readable


def _card_grid(count: int, rows_per_item: int, inches: float = 1.75):
    """(figure, axes[item][row]) for ``count`` items of ``rows_per_item`` stacked images each, at most
    :data:`CARD_COLUMNS` items a row (a 10-wide strip is unreadable at TensorBoard's card size)."""
    columns = max(1, min(CARD_COLUMNS, count))
    bands = -(-count // columns)
    figure = Figure(figsize=(inches * columns + 0.9, (inches * 0.95 * rows_per_item + 0.35) * bands + 0.4), dpi=DPI,
                    layout="constrained")
    grid = figure.subplots(bands * rows_per_item, columns, squeeze=False)
    items = [[grid[(i // columns) * rows_per_item + r][i % columns] for r in range(rows_per_item)]
             for i in range(count)]
    for spare in range(count, bands * columns):
        for r in range(rows_per_item):
            grid[(spare // columns) * rows_per_item + r][spare % columns].set_axis_off()
    return figure, items


def feature_grid_figure(views: dict[str, "object"], captions: Sequence[str]) -> Figure:
    """The feature images of a fixed batch: one block per segment (its views stacked, each named), captioned with
    the segment's genre and track id, at most :data:`CARD_COLUMNS` blocks a row. ``views``: name -> displayable
    ``(N, 3, H, W)`` tensor."""
    names = list(views)
    figure, items = _card_grid(len(captions), len(names))
    for index, axes in enumerate(items):
        for row, name in enumerate(names):
            axis = axes[row]
            axis.imshow(views[name][index].permute(1, 2, 0).numpy(), origin="upper", interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
            if index % CARD_COLUMNS == 0:
                axis.set_ylabel(name, fontsize=9)
        axes[0].set_title(captions[index], fontsize=9)
    return figure


def gradcam_figure(images, heatmaps, captions: Sequence[str], view: str = "spectrogram") -> Figure:
    """Grad-CAM over feature images: one block per segment, the displayable ``(N, 3, H, W)`` image above the same
    image with its ``(N, H, W)`` heat map in [0, 1] laid over it (jet, half transparent), captioned with
    ``captions`` ("true X / pred Y (p)"), at most :data:`CARD_COLUMNS` blocks a row."""
    figure, items = _card_grid(len(captions), 2)
    overlay = None
    for index, axes in enumerate(items):
        picture = images[index].permute(1, 2, 0).numpy()
        for row, axis in enumerate(axes):
            axis.imshow(picture, origin="upper", interpolation="nearest")
            if row == 1:
                overlay = axis.imshow(heatmaps[index].numpy(), cmap="jet", alpha=0.5, vmin=0.0, vmax=1.0,
                                      origin="upper", interpolation="bilinear")
            axis.set_xticks([])
            axis.set_yticks([])
            if index % CARD_COLUMNS == 0:
                axis.set_ylabel(view if row == 0 else "Grad-CAM", fontsize=9)
        axes[0].set_title(captions[index], fontsize=9)
    if overlay is not None:
        bar = figure.colorbar(overlay, ax=[axes[1] for axes in items], shrink=0.6)
        bar.set_label("relevance to the class explained", fontsize=SMALLEST_FONT)
        bar.ax.tick_params(labelsize=SMALLEST_FONT)
    figure.suptitle(f"Grad-CAM: which parts of the {view} image drove the predicted genre\n(frequency up, time "
                    f"right)", fontsize=9)
    return figure
