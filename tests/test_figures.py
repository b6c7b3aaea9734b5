"""The one plotting module: what each figure shows, and that it stays readable at TensorBoard's card size."""
import io
from collections import Counter
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from matplotlib.text import Text
from PIL import Image

from gtzan_gpu.bench.figures import benchmark_figure
from gtzan_gpu.figures import (SMALLEST_FONT, accuracy_bars_figure, confusion_figure, embedding_figure,
                               feature_grid_figure, gradcam_figure, png_bytes, pr_curves_figure, precision_recall,
                               timeline_figure)

GENRES = ["blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock"]
RESULTS = Path(__file__).resolve().parent.parent / "benchmarks" / "results"


def texts(figure) -> list[Text]:
    return [t for t in figure.findobj(Text) if t.get_visible() and t.get_text().strip()]


def assert_readable(figure, widest_px: int = 720):
    """No text under 8 pt, and no wider than TensorBoard shows without shrinking much."""
    small = [(t.get_text(), t.get_fontsize()) for t in texts(figure) if t.get_fontsize() < SMALLEST_FONT]
    assert not small, small
    width, _ = figure.get_size_inches() * figure.dpi
    assert width <= widest_px
    image = Image.open(io.BytesIO(png_bytes(figure)))
    assert image.format == "PNG" and image.size[0] == pytest.approx(width, abs=1)


def test_confusion_matrix_has_counts_row_shares_axis_titles_and_every_genre():
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 4, size=(10, 10)) + np.diag(rng.integers(5, 30, size=10))
    counts[3] = 0  # a genre with no examples: no division by zero, no counts drawn
    figure = confusion_figure(counts.tolist(), GENRES, "val, epoch 3")
    axes = figure.axes[0]
    assert axes.get_xlabel() == "predicted genre" and axes.get_ylabel() == "true genre"
    assert [t.get_text() for t in axes.get_xticklabels()] == GENRES == [t.get_text() for t in axes.get_yticklabels()]
    shares = axes.images[0].get_array()
    rows = counts.sum(axis=1, keepdims=True)
    assert np.allclose(shares, np.divide(counts, rows, out=np.zeros(counts.shape), where=rows > 0))
    cell_labels = sorted(int(t.get_text()) for t in axes.texts)
    assert cell_labels == sorted(counts[counts > 0].tolist())  # every non-zero count, nothing else
    accuracy = np.trace(counts) / counts.sum()
    assert f"accuracy {accuracy:.3f}" in axes.get_title() and "val, epoch 3" in axes.get_title()
    assert_readable(figure, widest_px=760)


def test_confusion_matrix_stays_readable_at_16_labels_and_degrades_gracefully_at_161():
    rng = np.random.default_rng(1)
    fma_medium = ["Blues", "Classical", "Country", "Easy Listening", "Electronic", "Experimental", "Folk", "Hip-Hop",
                  "Instrumental", "International", "Jazz", "Old-Time / Historic", "Pop", "Rock", "Soul-RnB", "Spoken"]
    counts = rng.integers(0, 3, size=(16, 16)) + np.diag(rng.integers(10, 40, size=16))
    figure = confusion_figure(counts.tolist(), fma_medium, "test")
    axes = figure.axes[0]
    assert [t.get_text() for t in axes.get_yticklabels()] == fma_medium
    assert len(axes.texts) == int((counts > 0).sum())  # every count still written
    assert_readable(figure, widest_px=760)
    labels = [f"genre {i}" for i in range(161)]  # FMA-large's top genres
    counts = rng.integers(0, 2, size=(161, 161)) + np.diag(rng.integers(1, 9, size=161))
    figure = confusion_figure(counts.tolist(), labels)
    axes = figure.axes[0]
    named = [t.get_text() for t in axes.get_yticklabels()]
    assert not axes.texts and 40 <= len(named) <= 64 and named[:2] == ["genre 0", "genre 3"]
    small = [t.get_text() for t in texts(figure) if t.get_fontsize() < SMALLEST_FONT]
    assert not small and figure.get_size_inches()[0] <= 17.1
    assert Image.open(io.BytesIO(png_bytes(figure))).format == "PNG"


def test_pr_and_embedding_figures_leave_out_legends_beyond_20_labels():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 30, 300)
    probabilities = rng.dirichlet(np.ones(30), 300)
    names = [f"g{i}" for i in range(30)]
    figure = pr_curves_figure(probabilities, labels, names, "test")
    assert figure.axes[0].get_legend() is None and "30 labels (legend left out)" in figure.axes[0].get_title()
    assert len({tuple(line.get_color()) for line in figure.axes[0].lines}) == 30  # a colour per label
    figure = embedding_figure(rng.standard_normal((300, 8)), labels, labels, names, "test")
    assert figure.axes[0].get_legend() is None
    few = pr_curves_figure(probabilities[:, :8] / probabilities[:, :8].sum(1, keepdims=True), labels % 8,
                           names[:8], "test")
    assert len(few.axes[0].get_legend().get_texts()) == 8


def test_accuracy_bars_draw_each_cell_with_track_markers_and_intervals():
    cells = [{"model": "cnn", "seconds": 3.0, "segment": 0.7, "track": 0.8, "segment_ci95": 0.05, "track_ci95": 0.04},
             {"model": "cnn", "seconds": 5.0, "segment": 0.6, "track": 0.65},
             {"model": "resnet18", "seconds": 3.0, "segment": 0.9, "track": 0.95}]
    figure = accuracy_bars_figure(cells, ["cnn", "resnet18"], [3.0, 5.0], "quick, random split")
    axes = figure.axes[0]
    heights = sorted(round(bar.get_height(), 6) for bar in axes.patches)
    assert heights == [0.6, 0.7, 0.9]
    assert {t.get_text() for t in axes.texts} >= {"0.70", "0.60", "0.90"}
    legend = [t.get_text() for t in axes.get_legend().get_texts()]
    assert sorted(legend) == ["3 s", "5 s", "track accuracy"]
    assert axes.get_ylabel() == "test accuracy"
    assert_readable(figure)


def test_benchmark_figure_draws_the_measured_stages_and_nothing_without_them():
    report = json.loads((RESULTS / "cpu-amd-epyc-2t.json").read_text())
    figure = benchmark_figure(report)
    titles = [axes.get_title() for axes in figure.axes]
    assert titles == ["feature extraction, 5-s segments", "feature extraction per segment length",
                      "training steps (labels: front end's share of a step)"]
    assert report["machine"]["device"] in figure.get_suptitle()
    plotted = {line.get_label() for line in figure.axes[0].get_lines()}
    assert {r["method"] for r in report["features"]} <= plotted
    assert benchmark_figure({"machine": report["machine"]}) is None
    scaling = json.loads((RESULTS / "cpu-amd-epyc-2t-scaling.json").read_text())
    assert [a.get_title() for a in benchmark_figure(scaling).axes] == ["data-parallel training"]


def test_benchmark_figure_pairs_compiled_with_eager_and_keeps_its_legend_inside():
    report = json.loads((RESULTS / "cpu-amd-epyc-2t-roofline.json").read_text())
    figure = benchmark_figure(report)
    lines = {line.get_label(): line for line in figure.axes[0].get_lines()}
    eager, compiled = lines["spectrogram (torch.stft)"], lines["spectrogram (torch.stft) (compiled)"]
    assert eager.get_color() == compiled.get_color()
    assert (eager.get_linestyle(), compiled.get_linestyle()) == ("-", "--")
    eager_colours = {line.get_color() for label, line in lines.items() if not label.endswith("(compiled)")}
    assert len(eager_colours) == len([label for label in lines if not label.endswith("(compiled)")])  # all distinct
    hatched = {bar.get_label() for bar in figure.axes[1].containers if bar.patches[0].get_hatch()}
    assert hatched == {label for label in lines if label.endswith("(compiled)")}
    figure.canvas.draw()  # a legend outside the figure (cut off in the PNG) was the old layout's fault
    legend = figure.legends[0].get_window_extent()
    assert legend.x0 >= 0 and legend.y0 >= 0 and legend.x1 <= figure.bbox.width
    assert "dashed line / hatched bar: compiled" in [t.get_text() for t in figure.legends[0].get_texts()]


def test_grad_cam_figure_lays_the_heat_map_over_the_image():
    images = torch.rand(3, 3, 32, 32)
    heat = torch.zeros(3, 32, 32)
    heat[:, :8, :8] = 1.0
    figure = gradcam_figure(images, heat, ["true jazz\npred jazz (0.91)"] * 3)
    image_axes = [axes for axes in figure.axes if axes.images]
    assert len(image_axes) == 6
    overlays = [axes.images[1] for axes in image_axes if len(axes.images) == 2]
    assert len(overlays) == 3 and np.array_equal(overlays[0].get_array(), heat[0].numpy())
    assert "true jazz\npred jazz (0.91)" in {t.get_text() for t in texts(figure)}
    assert_readable(figure, widest_px=1400)


def test_timeline_and_feature_grid_render():
    figure = timeline_figure([0.0, 1.0, 2.0], 2.0, [[0.9, 0.1], [0.5, 0.5], [0.1, 0.9]], ["rock", "jazz"], "mix")
    assert figure.axes[0].get_xlabel().startswith("time (mm:ss")
    assert png_bytes(figure)[:4] == b"\x89PNG"
    grid = feature_grid_figure({"spectrogram": torch.rand(2, 3, 16, 16)}, ["rock\nrock.00001", "jazz\njazz.00002"])
    assert {"rock\nrock.00001", "spectrogram"} <= {t.get_text() for t in texts(grid)}


@pytest.mark.parametrize("count", [3, 8, 10])
def test_feature_grid_and_grad_cam_are_at_most_four_wide_at_card_size(count):
    """Issue 33: 10-wide strips had captions no one could read on a TensorBoard card."""
    captions = [f"genre{i}\ntrack.{i:05d}" for i in range(count)]
    views = {"spectrogram": torch.rand(count, 3, 16, 16), "waveform": torch.rand(count, 3, 16, 16)}
    fusion = feature_grid_figure(views, captions)
    cam = gradcam_figure(torch.rand(count, 3, 16, 16), torch.rand(count, 16, 16), captions)
    for figure, per_block in ((fusion, 2), (cam, 2)):
        images = [axes for axes in figure.axes if axes.images]
        png_bytes(figure)  # lay it out
        rows = Counter(round(axes.get_position().y0, 2) for axes in images)
        assert len(images) == per_block * count and max(rows.values()) == min(4, count)
        assert set(captions) <= {t.get_text() for t in texts(figure)}
        assert_readable(figure, widest_px=800)


def test_average_precision_matches_scikit_learn_and_the_pr_figure_reports_it():
    metrics = pytest.importorskip("sklearn.metrics")  # a librosa dependency, so present with the dev extra
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, size=200)
    probabilities = rng.dirichlet(np.ones(3), size=200) + 0.3 * np.eye(3)[labels]
    for genre in range(3):
        precision, recall, average = precision_recall(probabilities[:, genre], labels == genre)
        assert average == pytest.approx(metrics.average_precision_score(labels == genre, probabilities[:, genre]))
        assert recall[-1] == 1.0 and np.all(np.diff(recall) >= 0)
    figure = pr_curves_figure(probabilities, labels, ["blues", "jazz", "rock"], "val")
    legend = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
    expected = metrics.average_precision_score(labels == 1, probabilities[:, 1])
    assert legend[1] == f"jazz (AP {expected:.2f})"
    assert_readable(figure)


def test_embedding_figure_projects_on_principal_components_and_marks_mistakes():
    rng = np.random.default_rng(2)
    labels = np.repeat(np.arange(3), 10)
    features = np.eye(3)[labels] * 10 + rng.normal(0, 0.1, size=(30, 3))
    predicted = labels.copy()
    predicted[:2] = 1
    figure = embedding_figure(features, labels, predicted, ["blues", "jazz", "rock"], "test tracks")
    axes = figure.axes[0]
    assert axes.get_xlabel().startswith("principal component 1")
    collections = axes.collections
    assert sum(len(c.get_offsets()) for c in collections) == 30  # every track drawn once
    crosses = [c for c in collections if len(c.get_offsets()) and c.get_label().startswith("_")]
    assert sum(len(c.get_offsets()) for c in crosses) == 2  # the two wrong ones
    assert_readable(figure)
