"""Paired tests of k-fold recipes against a baseline recipe: exact McNemar per repeat, over every track.

In a k-fold repeat each track is tested exactly once, so pooling the folds of one repeat gives one prediction per
track and recipe; the runs of two recipes in that repeat are paired track by track (same folds: the manifests are
shared). Reads each cell's ``runs/<run>/eval_test.json`` (kept locally, not committed) and writes
``paired.md`` and ``paired.json`` (``paired-vs-<baseline>.*`` for another baseline than the seed) next to the
experiment's ``results.md``.

    python -m experiments.paired_kfold experiments/results/recipes-real-5fold-x3 --baseline seed
    python -m experiments.paired_kfold experiments/results/dropped-recipes-real-5fold-x1 \
        --baseline seed --baseline-from experiments/results/recipes-real-5fold-x3   # same folds, other folder
"""
from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from gtzan_gpu.training.compare import mcnemar


def pooled_predictions(folder: Path) -> dict[tuple[str, int], dict[str, bool]]:
    """(recipe, repeat) -> {track id: track-level prediction correct}, pooled over the repeat's folds."""
    pooled: dict[tuple[str, int], dict[str, bool]] = defaultdict(dict)
    for cell_file in sorted((folder / "cells").glob("*.json")):
        cell = json.loads(cell_file.read_text())
        report = json.loads((Path(cell["run_dir"]) / "eval_test.json").read_text())
        for track, prediction in report["predictions"].items():
            pooled[(cell["model"], cell["repeat"] or 0)][track] = prediction["track"] == prediction["label"]
    return pooled


def paired_rows(pooled: dict, baseline: str) -> list[dict]:
    rows = []
    for (recipe, repeat), correct in sorted(pooled.items()):
        if recipe == baseline or (baseline, repeat) not in pooled:
            continue
        reference = pooled[(baseline, repeat)]
        tracks = sorted(set(correct) & set(reference))
        result = mcnemar([reference[t] for t in tracks], [correct[t] for t in tracks])
        rows.append({"recipe": recipe, "repeat": repeat, **result})
    return rows


def markdown(rows: list[dict], baseline: str, corpus: str) -> str:
    lines = [f"# Paired tests against `{baseline}` ({corpus})", "",
             "Exact McNemar test per repeat: the k folds of a repeat pooled, so every track is tested once by each "
             "recipe (track level; A = the baseline, B = the recipe).", "",
             "| recipe | repeat | tracks | acc A | acc B | only A right | only B right | McNemar p |",
             "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['recipe']} | {row['repeat']} | {row['n']} | {row['accuracy_a']:.3f} | "
                     f"{row['accuracy_b']:.3f} | {row['only_a_correct']} | {row['only_b_correct']} | "
                     f"{row['p_value']:.3g} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="an experiment's results folder (run with --folds)")
    parser.add_argument("--baseline", default="seed", help="the recipe every other is paired with")
    parser.add_argument("--baseline-from", type=Path, help="another experiment folder holding the baseline's cells "
                                                           "(run on the same manifests: same corpus, seed, folds)")
    parser.add_argument("--corpus", default="real GTZAN excerpts (250 clips of 2-3 s, ids 1-25 per genre)",
                        help="how the tables name the corpus")
    args = parser.parse_args()
    pooled = pooled_predictions(args.folder)
    if args.baseline_from:
        pooled.update({key: value for key, value in pooled_predictions(args.baseline_from).items()
                       if key[0] == args.baseline})
    rows = paired_rows(pooled, args.baseline)
    name = "paired" if args.baseline == "seed" else f"paired-vs-{args.baseline}"
    (args.folder / f"{name}.json").write_text(json.dumps({"baseline": args.baseline, "corpus": args.corpus,
                                                         "rows": rows}, indent=2) + "\n")
    (args.folder / f"{name}.md").write_text(markdown(rows, args.baseline, args.corpus))
    print(markdown(rows, args.baseline, args.corpus))


if __name__ == "__main__":
    main()
