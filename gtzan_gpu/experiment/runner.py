"""Run an experiment grid: one fixed manifest per scheme, one training run per cell, test figures per cell.

Finished cells (their result JSON exists) are skipped; an interrupted cell resumes from its last.pt.
Every run's TensorBoard logs sit under DIR/runs/<run name> (model, length, split, seed: ``Grid.run_name``), so
``tensorboard --logdir DIR/runs`` compares them by name.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from gtzan_gpu.atomic import atomic_write_text
from gtzan_gpu.data.catalogue import CorpusSpec, catalogue_walk
from gtzan_gpu.data.sources import recognised_source, scan_corpus
from gtzan_gpu.data.splits import kfold_split, make_split
from gtzan_gpu.data.synth import ensure_synthetic_corpus
from gtzan_gpu.errors import GtzanError
from gtzan_gpu.experiment.grid import Cell, Grid
from gtzan_gpu.experiment.report import write_experiment_report
from gtzan_gpu.locking import exclusive_lock
from gtzan_gpu.models.weights import weights_file
from gtzan_gpu.progress import progress
from gtzan_gpu.training import evaluate_run, fit
from gtzan_gpu.training.device import resolve_device
from gtzan_gpu.training.run_dir import LAST

log = logging.getLogger(__name__)


def run_experiment(grid: Grid, out: str | Path, data: "str | CorpusSpec | None" = None,
                   only: list[str] | None = None, device: str = "auto") -> dict:
    """Run (or finish) every selected cell of ``grid`` on ``data`` (DATA, or DATA with its label table; None: the
    built-in synthetic corpus) and write the report under ``out`` (locked meanwhile)."""
    cells = grid.cells(only)  # options first: a bad --only fails before any work
    resolve_device(device)
    for cell in cells:  # weights that are not there (the musicnn wheel, a PANNs file) fail before any cell runs
        weights = grid.cell_config(cell, None, None, None).model.weights
        try:
            weights_file(weights)
        except GtzanError as error:
            raise GtzanError(f"cell {cell.key}: {error}") from None
    out = Path(out)
    with exclusive_lock(out, "experiment folder"):
        return _run_locked(grid, cells, out, data, device)


def _run_locked(grid: Grid, cells: list[Cell], out: Path, data: "str | CorpusSpec | None", device: str) -> dict:
    synthetic = data is None
    if data is None:
        data = CorpusSpec(ensure_synthetic_corpus(out / "corpus", grid.tracks_per_genre, grid.track_seconds,
                                                  difficulty=grid.difficulty).resolve())
    else:
        spec = CorpusSpec.of(data)
        data = spec.resolved()
        if recognised_source(data) is None:
            catalogue_walk(data)  # a missing corpus or a bad table fails now, not after the first cell's setup
    corpus = None
    manifests = {}
    for cell in cells:  # fixed once per (scheme, repeat, fold): every model and length trains on the same tracks
        path = manifests[cell.split_name] = out / "manifests" / f"{cell.split_name}.json"
        if not path.is_file():
            corpus = corpus or scan_corpus(data)
            seed = grid.split_seed + (cell.repeat or 0)
            manifest = kfold_split(corpus, grid.folds, cell.fold, seed) if cell.fold is not None else \
                make_split(corpus, cell.scheme, seed)
            manifest.check_usable(f"split {cell.split_name}")
            manifest.save(path)
    for cell in progress(cells, len(cells), "experiment cells", "cell"):
        result_path = out / "cells" / f"{cell.slug}.json"
        if result_path.is_file():
            log.info("%s: finished, skipping", cell.key)
            continue
        run_dir = out / "runs" / grid.run_name(cell)
        config = grid.cell_config(cell, data, str(manifests[cell.split_name]), str(run_dir), device)
        resume = (run_dir / LAST).is_file()
        log.info("%s: %s", cell.key, "resuming" if resume else "training")
        started = time.perf_counter()
        corpus = corpus or scan_corpus(data)  # once per grid: every cell trains and evaluates on this corpus
        # the runner owns its run folders: one without a checkpoint is a cell killed before its first epoch ended
        summary = fit(config, resume=resume, corpus=corpus, overwrite=not resume)
        report = evaluate_run(run_dir, "test", config.device, corpus)
        result = {"cell": cell.key, "scheme": cell.scheme, "model": cell.model, "seconds": cell.seconds,
                  "repeat": cell.repeat, "fold": cell.fold,
                  "test_accuracy": report["segment"]["accuracy"], "test_track_accuracy": report["track"]["accuracy"],
                  "test_macro_f1": report["segment"]["macro_f1"], "test_track_macro_f1": report["track"]["macro_f1"],
                  "val_accuracy": summary["best"]["val_accuracy"], "best_epoch": summary["best"]["epoch"],
                  "epochs_run": len(summary["history"]), "wall_seconds": time.perf_counter() - started,
                  "device": report["device"], "weights": config.model.weights, "lr": config.lr,
                  "recipe": grid.recipes.get(cell.model), "trained_model": config.model.name,
                  "batch_size": config.batch_size, "run_dir": str(run_dir),
                  "test_confusion": report["segment"]["confusion"], "genres": report["genres"]}
        atomic_write_text(result_path, json.dumps(result, indent=2) + "\n")
    order = {cell.key: i for i, cell in enumerate(grid.cells())}
    results = sorted((json.loads(p.read_text()) for p in (out / "cells").glob("*.json")),
                     key=lambda r: (order.get(r["cell"], len(order)), r["cell"]))
    write_experiment_report(grid, results, out, None if synthetic else data.describe())
    return {"out": str(out), "cells": results}
