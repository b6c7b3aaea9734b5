"""The benchmark report's plot: throughput panels drawn from what a ``bench`` run measured (the general figure
conventions, DPI and smallest font, are :mod:`gtzan_gpu.figures`'s)."""
from __future__ import annotations

from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from gtzan_gpu.bench.features import COMPILED_SUFFIX
from gtzan_gpu.figures import DPI, SMALLEST_FONT, palette

COMPILED_LINE, COMPILED_HATCH, SEED_LINE = "--", "///", ":"


def benchmark_figure(report: dict) -> Figure | None:
    """A benchmark report's throughput panels, from what it measured: feature extraction against batch size
    (5-s segments, log-log, the seed's pipeline as dotted lines), the best batch per segment length, and
    training segments/s per model, and DDP ranks. None when the report has none of those stages.

    The feature panels share one legend below the figure: one colour per method, its ``torch.compile`` variant in
    the same colour, dashed (lines) or hatched (bars)."""
    panels = [(draw, rows) for select, draw in PANELS if (rows := select(report))]
    if not panels:
        return None
    measured = _feature_rows(report) + _measured(report.get("seed_pipeline", []))
    colours = method_colours(measured)
    height = 5.6 + (0.16 * len(colours) / 3 if colours else 0.0)
    figure = Figure(figsize=(min(6.0 * len(panels), 16.0), height), dpi=DPI, layout="constrained")
    for index, (draw, rows) in enumerate(panels, 1):
        draw(report, rows, figure.add_subplot(1, len(panels), index), colours)
    if colours and any(draw in (_feature_batch_panel, _feature_length_panel) for draw, _ in panels):
        _feature_legend(figure, colours, compiled=any(r["method"].endswith(COMPILED_SUFFIX) for r in measured))
    figure.suptitle(f"{report['machine']['device']}, torch {report['machine']['torch']}\n(measured; raw figures in "
                    f"the JSON beside this plot)", fontsize=10)
    return figure


def method_colours(rows: list[dict]) -> dict[str, tuple]:
    """A colour per measured method, its compiled variant sharing it (the seed's pipeline last)."""
    methods = sorted({_eager_name(r["method"]) for r in rows}, key=lambda m: (m.startswith("seed"), m))
    colours = palette(len(methods))
    return {method: colours[i % len(colours)] for i, method in enumerate(methods)}


def _eager_name(method: str) -> str:
    return method.removesuffix(COMPILED_SUFFIX)


def _feature_legend(figure: Figure, colours: dict[str, tuple], compiled: bool) -> None:
    """One legend for both feature panels, below them and inside the figure."""
    handles = [Line2D([], [], color=colour, linewidth=4, label=method) for method, colour in colours.items()]
    if compiled:
        handles.append(Line2D([], [], color="grey", linestyle=COMPILED_LINE,
                              label="dashed line / hatched bar: compiled"))
    if any(method.startswith("seed") for method in colours):
        handles.append(Line2D([], [], color="black", linestyle=SEED_LINE, label="dotted line: the seed's pipeline"))
    figure.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=SMALLEST_FONT, frameon=False)


def _measured(rows: list[dict]) -> list[dict]:
    return [row for row in rows if "skipped" not in row]


def _feature_rows(report: dict) -> list[dict]:
    return _measured(report.get("features", []))


def _length_rows(report: dict) -> list[dict]:
    """Feature and seed-pipeline rows, when they span two segment lengths or more."""
    rows = _measured(report.get("features", []) + report.get("seed_pipeline", []))
    return rows if len({r["seconds"] for r in rows}) >= 2 else []


def _training_rows(report: dict) -> list[dict]:
    return _measured(report.get("training", []))


def _scaling_rows(report: dict) -> list[dict]:
    return _measured((report.get("scaling") or {}).get("ddp", []))


def _feature_batch_panel(report: dict, rows: list[dict], axes, colours: dict[str, tuple]) -> None:
    seconds = 5.0 if any(r["seconds"] == 5.0 for r in rows) else rows[0]["seconds"]
    for method in sorted({r["method"] for r in rows}):
        points = sorted((r["batch"], r["segments_per_s"]) for r in rows
                        if r["method"] == method and r["seconds"] == seconds)
        if points:
            axes.plot(*zip(*points), marker="o", label=method, color=colours[_eager_name(method)],
                      linestyle=COMPILED_LINE if method.endswith(COMPILED_SUFFIX) else "-")
    for row in _measured(report.get("seed_pipeline", [])):
        if row["seconds"] == seconds and "both views" in row["method"]:
            axes.axhline(row["segments_per_s"], linestyle=SEED_LINE, color=colours[row["method"]],
                         label=row["method"])
    axes.set_xscale("log", base=2)
    axes.set_yscale("log")
    axes.set_xlabel("batch size", fontsize=10)
    axes.set_ylabel("segments / s", fontsize=10)
    axes.set_title(f"feature extraction, {seconds:g}-s segments", fontsize=10)
    axes.grid(True, which="both", alpha=0.3)


def _feature_length_panel(report: dict, rows: list[dict], axes, colours: dict[str, tuple]) -> None:
    lengths = sorted({r["seconds"] for r in rows})
    methods = sorted({r["method"] for r in rows}, key=lambda m: (m.startswith("seed"), _eager_name(m), m))
    width = 0.8 / len(methods)
    for i, method in enumerate(methods):
        best = [max((r["segments_per_s"] for r in rows if r["method"] == method and r["seconds"] == s), default=0)
                for s in lengths]
        axes.bar([k - 0.4 + width * (i + 0.5) for k in range(len(lengths))], best, width * 0.92,
                 color=colours[_eager_name(method)], label=method, edgecolor="white", linewidth=0,
                 hatch=COMPILED_HATCH if method.endswith(COMPILED_SUFFIX) else None)
    axes.set_yscale("log")
    axes.set_xticks(range(len(lengths)), [f"{s:g} s" for s in lengths], fontsize=9)
    axes.set_xlabel("segment length (best batch size for each)", fontsize=10)
    axes.set_ylabel("segments / s", fontsize=10)
    axes.set_title("feature extraction per segment length", fontsize=10)
    axes.grid(axis="y", which="both", alpha=0.3)
    axes.set_axisbelow(True)


def _training_panel(report: dict, rows: list[dict], axes, colours: dict[str, tuple]) -> None:
    models = list(dict.fromkeys(r["model"] for r in rows))
    lengths = sorted({r["seconds"] for r in rows})
    colours = palette(len(lengths))
    width = 0.8 / len(lengths)
    for i, seconds in enumerate(lengths):
        match = [(g, r) for g, model in enumerate(models) for r in rows
                 if r["model"] == model and r["seconds"] == seconds]
        bars = axes.bar([g - 0.4 + width * (i + 0.5) for g, _ in match], [r["segments_per_s"] for _, r in match],
                        width * 0.92, color=colours[i % len(colours)], label=f"{seconds:g} s")
        axes.bar_label(bars, [f"{100 * r['frontend_share']:.0f}%" for _, r in match], fontsize=SMALLEST_FONT,
                       padding=2)
    axes.set_xticks(range(len(models)), models, fontsize=9)
    axes.set_ylabel("segments / s", fontsize=10)
    axes.set_title("training steps (labels: front end's share of a step)", fontsize=10)
    axes.grid(axis="y", alpha=0.3)
    axes.set_axisbelow(True)
    axes.legend(fontsize=SMALLEST_FONT)


def _scaling_panel(report: dict, rows: list[dict], axes, colours: dict[str, tuple]) -> None:
    bars = axes.bar(range(len(rows)), [r["segments_per_s"] for r in rows], 0.6, color=palette(1)[0])
    axes.set_xticks(range(len(rows)), [str(r["ranks"]) for r in rows])
    axes.bar_label(bars, [f"efficiency {r.get('efficiency', 1.0):.2f}" for r in rows], fontsize=SMALLEST_FONT,
                   padding=2)
    axes.set_xlabel("DDP ranks (torchrun)", fontsize=10)
    axes.set_ylabel("segments / s, all ranks", fontsize=10)
    axes.set_title("data-parallel training", fontsize=10)
    axes.grid(axis="y", alpha=0.3)
    axes.set_axisbelow(True)


# (rows a panel draws from the report, or none: the panel is left out; the panel drawn from them), in order
PANELS = ((_feature_rows, _feature_batch_panel), (_length_rows, _feature_length_panel),
          (_training_rows, _training_panel), (_scaling_rows, _scaling_panel))
