"""The grid's report: all cells as JSON, the seed's table layout in markdown, a bar chart and a confusion matrix.

Charts come from :mod:`gtzan_gpu.figures` (the code TensorBoard's figures use). The "best model" is the cell with the best
VALIDATION accuracy; its test confusion matrix is shown (picking it on test would repeat the seed's flaw).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from scipy.stats import t as student_t

from gtzan_gpu.atomic import atomic_write_bytes, atomic_write_text
from gtzan_gpu.figures import accuracy_bars_figure, confusion_figure, png_bytes


def corpus_label(corpus: str | None) -> str:
    """How a report names its corpus: the built-in synthetic one is always labelled as such."""
    return "synthetic corpus (built in; not GTZAN)" if corpus is None else f"corpus {corpus}"


def _short(corpus: str) -> str:
    """A corpus description short enough for a chart title: its last 48 characters."""
    return corpus if len(corpus) <= 48 else "..." + corpus[-45:]


def markdown_table(grid, results: list[dict], corpus: str | None = None) -> str:
    lengths = sorted({r["seconds"] for r in results})
    models = [m for m in grid.models if any(r["model"] == m for r in results)]
    lines = [f"# {grid.name}", "", f"On the {corpus_label(corpus)}.", "",
             "Test accuracy per segment, with per-track accuracy (mean of a track's segment logits) in brackets; "
             "each model's epoch chosen on validation tracks only.", ""]
    for scheme in [s for s in grid.schemes if any(r["scheme"] == s for r in results)]:
        lines += [f"## {scheme} split", "", "| model | " + " | ".join(f"{s:g} s" for s in lengths) + " |",
                  "|---|" + "---|" * len(lengths)]
        for model in models:
            cells = []
            for seconds in lengths:
                match = [r for r in results if (r["scheme"], r["model"], r["seconds"]) == (scheme, model, seconds)]
                if len(match) > 1:  # folds x repeats: the mean, with the 95 % interval's half-width
                    segment, track = (mean_and_interval([r[k] for r in match])
                                      for k in ("test_accuracy", "test_track_accuracy"))
                    cells.append(f"{segment['mean']:.3f} +- {segment['ci95']:.3f} ({track['mean']:.3f} +- "
                                 f"{track['ci95']:.3f})")
                else:
                    cells.append(f"{match[0]['test_accuracy']:.3f} ({match[0]['test_track_accuracy']:.3f})"
                                 if match else "-")
            lines.append(f"| {model} | " + " | ".join(cells) + " |")
        lines.append("")
    repeated = aggregate(results)
    if repeated:
        lines += ["## Over folds x repeats", "",
                  "Mean +- standard deviation, and the 95 % confidence interval of the mean (Student t over the n "
                  "runs; folds share training tracks, so it is optimistic), of test accuracy.", "",
                  "| scheme | model | segment | n | segment accuracy | 95 % CI | track accuracy | 95 % CI |",
                  "|---|---|---|---|---|---|---|---|"]
        for row in repeated:
            seg, trk = row["segment"], row["track"]
            lines.append(f"| {row['scheme']} | {row['model']} | {row['seconds']:g} s | {row['n']} | "
                         f"{seg['mean']:.3f} +- {seg['std']:.3f} | [{seg['mean'] - seg['ci95']:.3f}, "
                         f"{seg['mean'] + seg['ci95']:.3f}] | {trk['mean']:.3f} +- {trk['std']:.3f} | "
                         f"[{trk['mean'] - trk['ci95']:.3f}, {trk['mean'] + trk['ci95']:.3f}] |")
        lines.append("")
    lines += ["## Every cell", "",
              "| cell | test acc | test track acc | test macro F1 | val acc | best epoch / run | weights | wall s | device |",
              "|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['cell']} | {r['test_accuracy']:.3f} | {r['test_track_accuracy']:.3f} | "
                     f"{r['test_macro_f1']:.3f} | {r['val_accuracy']:.3f} | {r['best_epoch']} / {r['epochs_run']} | "
                     f"{r.get('weights', r.get('pretrained'))} | {r['wall_seconds']:.0f} | {r['device']} |")
    best = best_cell(results)
    if best:
        lines += ["", f"Best on validation: {best['cell']} (val {best['val_accuracy']:.3f}); its test confusion "
                      f"matrix is confusion_best.png."]
    return "\n".join(lines) + "\n"


def mean_and_interval(values: list[float]) -> dict:
    """Mean, sample standard deviation and the half-width of the 95 % t interval of the mean."""
    n = len(values)
    mean = sum(values) / n
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    half = float(student_t.ppf(0.975, n - 1)) * std / math.sqrt(n) if n > 1 else 0.0
    return {"mean": mean, "std": std, "ci95": half, "n": n}


def aggregate(results: list[dict]) -> list[dict]:
    """Per (scheme, model, length) with repeated or k-fold cells: statistics of test accuracy over them."""
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        if r.get("repeat") is not None or r.get("fold") is not None:
            groups.setdefault((r["scheme"], r["model"], r["seconds"]), []).append(r)
    return [{"scheme": scheme, "model": model, "seconds": seconds, "n": len(rows),
             "segment": mean_and_interval([r["test_accuracy"] for r in rows]),
             "track": mean_and_interval([r["test_track_accuracy"] for r in rows])}
            for (scheme, model, seconds), rows in groups.items()]


def best_cell(results: list[dict]) -> dict | None:
    return max(results, key=lambda r: (r["val_accuracy"], -r["seconds"])) if results else None


def accuracy_cells(grid, results: list[dict], scheme: str) -> list[dict]:
    """What the bar chart draws for ``scheme``: per (model, length) the test segment and track accuracy, the
    mean with the 95 % interval's half-width where folds or repeats give several runs."""
    cells = []
    for model in [m for m in grid.models if any(r["model"] == m for r in results)]:
        for seconds in sorted({r["seconds"] for r in results}):
            match = [r for r in results if (r["scheme"], r["model"], r["seconds"]) == (scheme, model, seconds)]
            if not match:
                continue
            segment = mean_and_interval([r["test_accuracy"] for r in match])
            track = mean_and_interval([r["test_track_accuracy"] for r in match])
            cells.append({"model": model, "seconds": seconds, "n": len(match), "segment": segment["mean"],
                          "segment_ci95": segment["ci95"], "track": track["mean"], "track_ci95": track["ci95"]})
    return cells


def accuracy_chart_png(grid, results: list[dict], scheme: str, corpus: str | None = None) -> bytes:
    """The seed's Figure 2 as grouped bars: test segment accuracy per model (groups) and segment length
    (colours), track accuracy as diamonds, 95 % intervals as error bars over folds x repeats."""
    cells = accuracy_cells(grid, results, scheme)
    runs = max((c["n"] for c in cells), default=1)
    title = (f"{grid.name}, {scheme} split: test accuracy" + (f"\nmean of {runs} runs, 95 % CI," if runs > 1 else "\n")
             + (" on the synthetic corpus (not GTZAN)" if corpus is None else f" on {_short(corpus)}"))
    return png_bytes(accuracy_bars_figure(cells, [m for m in grid.models if any(c["model"] == m for c in cells)],
                                          sorted({c["seconds"] for c in cells}), title))


def write_experiment_report(grid, results: list[dict], out: Path, corpus: str | None = None) -> None:
    """results.json, results.md, accuracy_<scheme>.png and confusion_best.png under ``out``. ``corpus``: the
    DATA the grid ran on, None for the built-in synthetic corpus (then every output says so)."""
    atomic_write_text(out / "results.json", json.dumps({"grid": grid.name, "corpus": corpus or "synthetic",
                                                        "cells": results,
                                                        "over_folds_and_repeats": aggregate(results)}, indent=2) + "\n")
    atomic_write_text(out / "results.md", markdown_table(grid, results, corpus))
    for scheme in {r["scheme"] for r in results}:
        atomic_write_bytes(out / f"accuracy_{scheme}.png", accuracy_chart_png(grid, results, scheme, corpus))
    best = best_cell(results)
    if best:
        where = " (synthetic corpus)" if corpus is None else ""
        atomic_write_bytes(out / "confusion_best.png", png_bytes(confusion_figure(
            best["test_confusion"], best["genres"],
            f"{best['cell']} (best on validation): test, segment level{where}")))
