"""The grid's report: all cells as JSON, the seed's table layout in markdown, a bar chart and a confusion matrix.

Charts are drawn with Pillow (no matplotlib at run time). The "best model" is the cell with the best
VALIDATION accuracy; its test confusion matrix is shown (picking it on test would repeat the seed's flaw).
"""
from __future__ import annotations

import io
import json
import math
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from scipy.stats import t as student_t

from gtzan_gpu.atomic import atomic_write_bytes, atomic_write_text
from gtzan_gpu.training.confusion_image import confusion_png

BAR_COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189)]


def markdown_table(grid, results: list[dict]) -> str:
    lengths = sorted({r["seconds"] for r in results})
    models = [m for m in grid.models if any(r["model"] == m for r in results)]
    lines = [f"# {grid.name}", "",
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


def accuracy_chart_png(grid, results: list[dict], scheme: str) -> bytes:
    """Grouped bars: test segment accuracy per model (groups) and segment length (colours); a black tick
    marks track accuracy."""
    lengths = sorted({r["seconds"] for r in results})
    models = [m for m in grid.models if any(r["model"] == m for r in results)]
    font = ImageFont.load_default()
    width, height, left, bottom, top = 120 + 150 * len(models), 330, 50, 50, 30
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text((left, 8), f"{grid.name}, {scheme} split: test accuracy (bars: segment, ticks: track)", fill="black",
              font=font)
    plot_height = height - top - bottom
    for level in range(0, 11, 2):
        y = top + plot_height * (1 - level / 10)
        draw.line([(left, y), (width - 10, y)], fill=(225, 225, 225))
        draw.text((8, y - 6), f"{level / 10:.1f}", fill="black", font=font)
    bar = 130 // max(1, len(lengths)) - 4
    for g, model in enumerate(models):
        x0 = left + 10 + g * 150
        for i, seconds in enumerate(lengths):
            match = [r for r in results if (r["scheme"], r["model"], r["seconds"]) == (scheme, model, seconds)]
            if not match:
                continue
            x = x0 + i * (bar + 4)
            y = top + plot_height * (1 - match[0]["test_accuracy"])
            draw.rectangle([x, y, x + bar, top + plot_height], fill=BAR_COLOURS[i % len(BAR_COLOURS)])
            ty = top + plot_height * (1 - match[0]["test_track_accuracy"])
            draw.line([(x - 2, ty), (x + bar + 2, ty)], fill="black", width=2)
        draw.text((x0 + 20, top + plot_height + 8), model, fill="black", font=font)
    for i, seconds in enumerate(lengths):
        x = left + 10 + i * 60
        draw.rectangle([x, height - 18, x + 10, height - 8], fill=BAR_COLOURS[i % len(BAR_COLOURS)])
        draw.text((x + 14, height - 20), f"{seconds:g} s", fill="black", font=font)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def write_experiment_report(grid, results: list[dict], out: Path) -> None:
    atomic_write_text(out / "results.json", json.dumps({"grid": grid.name, "cells": results,
                                                        "over_folds_and_repeats": aggregate(results)}, indent=2) + "\n")
    atomic_write_text(out / "results.md", markdown_table(grid, results))
    for scheme in {r["scheme"] for r in results}:
        atomic_write_bytes(out / f"accuracy_{scheme}.png", accuracy_chart_png(grid, results, scheme))
    best = best_cell(results)
    if best:
        atomic_write_bytes(out / "confusion_best.png", confusion_png(
            best["test_confusion"], best["genres"], f"{best['cell']} (best on validation): test, segment level"))
