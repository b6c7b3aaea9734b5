"""The benchmark report's plot: throughput panels drawn from what a ``bench`` run measured (the general figure
conventions, DPI and smallest font, are :mod:`gtzan_gpu.figures`'s)."""
from __future__ import annotations

from matplotlib.figure import Figure

from gtzan_gpu.figures import DPI, SMALLEST_FONT, palette


def benchmark_figure(report: dict) -> Figure | None:
    """A benchmark report's throughput panels, from what it measured: feature extraction against batch size
    (5-s segments, log-log, the seed's pipeline as dashed lines), the best batch per segment length, and
    training segments/s per model, and DDP ranks. None when the report has none of those stages."""
    panels = [(draw, rows) for select, draw in PANELS if (rows := select(report))]
    if not panels:
        return None
    figure = Figure(figsize=(min(6.0 * len(panels), 16.0), 5.6), dpi=DPI, layout="constrained")
    for index, (draw, rows) in enumerate(panels, 1):
        draw(report, rows, figure.add_subplot(1, len(panels), index))
    figure.suptitle(f"{report['machine']['device']}, torch {report['machine']['torch']}\n(measured; raw figures in "
                    f"the JSON beside this plot)", fontsize=10)
    return figure


def _legend_below(axes) -> None:
    axes.legend(fontsize=SMALLEST_FONT, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=2, frameon=False)


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


def _feature_batch_panel(report: dict, rows: list[dict], axes) -> None:
    seconds = 5.0 if any(r["seconds"] == 5.0 for r in rows) else rows[0]["seconds"]
    for method in sorted({r["method"] for r in rows}):
        points = sorted((r["batch"], r["segments_per_s"]) for r in rows
                        if r["method"] == method and r["seconds"] == seconds)
        if points:
            axes.plot(*zip(*points), marker="o", label=method)
    for row in _measured(report.get("seed_pipeline", [])):
        if row["seconds"] == seconds and "both views" in row["method"]:
            axes.axhline(row["segments_per_s"], linestyle="--", color="grey" if "read" in row["method"] else "black",
                         label=row["method"])
    axes.set_xscale("log", base=2)
    axes.set_yscale("log")
    axes.set_xlabel("batch size", fontsize=10)
    axes.set_ylabel("segments / s", fontsize=10)
    axes.set_title(f"feature extraction, {seconds:g}-s segments", fontsize=10)
    axes.grid(True, which="both", alpha=0.3)
    _legend_below(axes)


def _feature_length_panel(report: dict, rows: list[dict], axes) -> None:
    lengths = sorted({r["seconds"] for r in rows})
    methods = sorted({r["method"] for r in rows}, key=lambda m: (m.startswith("seed"), m))
    colours = palette(len(methods))
    width = 0.8 / len(methods)
    for i, method in enumerate(methods):
        best = [max((r["segments_per_s"] for r in rows if r["method"] == method and r["seconds"] == s), default=0)
                for s in lengths]
        axes.bar([k - 0.4 + width * (i + 0.5) for k in range(len(lengths))], best, width * 0.92,
                 color=colours[i % len(colours)], label=method)
    axes.set_yscale("log")
    axes.set_xticks(range(len(lengths)), [f"{s:g} s" for s in lengths], fontsize=9)
    axes.set_xlabel("segment length (best batch size for each)", fontsize=10)
    axes.set_ylabel("segments / s", fontsize=10)
    axes.set_title("feature extraction per segment length", fontsize=10)
    axes.grid(axis="y", which="both", alpha=0.3)
    axes.set_axisbelow(True)
    _legend_below(axes)


def _training_panel(report: dict, rows: list[dict], axes) -> None:
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


def _scaling_panel(report: dict, rows: list[dict], axes) -> None:
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
