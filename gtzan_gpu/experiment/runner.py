"""Run an experiment grid: one fixed manifest per scheme, one training run per cell, test figures per cell.

Finished cells (their result JSON exists) are skipped; an interrupted cell resumes from its last.pt.
Every run's TensorBoard logs sit under DIR/runs, so ``tensorboard --logdir DIR/runs`` compares them.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from gtzan_gpu.atomic import atomic_write_text
from gtzan_gpu.config import SEED_HYPERPARAMETERS, FeatureConfig, ModelConfig, TrainConfig
from gtzan_gpu.data.corpus import scan_corpus
from gtzan_gpu.data.splits import make_split
from gtzan_gpu.data.synth import write_synthetic_corpus
from gtzan_gpu.experiment.grid import Cell, Grid
from gtzan_gpu.experiment.report import write_experiment_report
from gtzan_gpu.training import evaluate_run, fit

log = logging.getLogger(__name__)


def cell_config(grid: Grid, cell: Cell, data: str, manifest: Path, run_dir: Path, device: str) -> TrainConfig:
    settings = dict(grid.train)
    defaults = SEED_HYPERPARAMETERS[cell.model]
    pretrained = settings.pop("pretrained", defaults["pretrained"])
    weights = settings.pop("weights", None)
    features = FeatureConfig(image_size=settings.pop("image_size", 128),
                             stft_backend=settings.pop("stft_backend", "nnaudio"))
    return TrainConfig(
        data=data, out=str(run_dir), model=ModelConfig(cell.model, "none" if cell.model == "cnn" else pretrained,
                                                       weights if cell.model != "cnn" else None),
        features=features, segment_seconds=cell.seconds, manifest=str(manifest), split_scheme=cell.scheme,
        split_seed=grid.split_seed, lr=settings.pop("lr", defaults["lr"]),
        batch_size=settings.pop("batch_size", defaults["batch_size"]), device=settings.pop("device", device),
        **settings)


def run_experiment(grid: Grid, out: str | Path, data: str | None = None, only: list[str] | None = None,
                   device: str = "auto") -> dict:
    """Run (or finish) every selected cell of ``grid`` and write the report under ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if data is None:
        corpus_dir = out / "corpus"
        if not (corpus_dir / "genres_original").is_dir():
            log.info("writing a synthetic corpus: 10 genres x %d tracks x %g s", grid.tracks_per_genre,
                     grid.track_seconds)
            write_synthetic_corpus(corpus_dir, grid.tracks_per_genre, grid.track_seconds, seed=0)
        data = str(corpus_dir.resolve())
    else:
        data = str(Path(data).resolve())
    corpus = None
    manifests = {}
    for scheme in grid.schemes:
        manifests[scheme] = out / "manifests" / f"{scheme}.json"
        if not manifests[scheme].is_file():  # fixed once per scheme: every cell trains on the same tracks
            corpus = corpus or scan_corpus(data)
            make_split(corpus, scheme, grid.split_seed).save(manifests[scheme])
    for cell in grid.cells(only):
        result_path = out / "cells" / f"{cell.scheme}__{cell.model}-{cell.seconds:g}s.json"
        if result_path.is_file():
            log.info("%s: finished, skipping", cell.key)
            continue
        run_dir = out / "runs" / cell.scheme / f"{cell.model}-{cell.seconds:g}s"
        config = cell_config(grid, cell, data, manifests[cell.scheme], run_dir, device)
        resume = (run_dir / "last.pt").is_file()
        log.info("%s: %s", cell.key, "resuming" if resume else "training")
        started = time.perf_counter()
        corpus = corpus or scan_corpus(data)  # once per grid: every cell trains and evaluates on this corpus
        summary = fit(config, resume=resume, corpus=corpus)
        report = evaluate_run(run_dir, "test", config.device, corpus)
        result = {"cell": cell.key, "scheme": cell.scheme, "model": cell.model, "seconds": cell.seconds,
                  "test_accuracy": report["segment"]["accuracy"], "test_track_accuracy": report["track"]["accuracy"],
                  "test_macro_f1": report["segment"]["macro_f1"], "test_track_macro_f1": report["track"]["macro_f1"],
                  "val_accuracy": summary["best"]["val_accuracy"], "best_epoch": summary["best"]["epoch"],
                  "epochs_run": len(summary["history"]), "wall_seconds": time.perf_counter() - started,
                  "device": report["device"], "pretrained": config.model.pretrained, "lr": config.lr,
                  "batch_size": config.batch_size, "run_dir": str(run_dir),
                  "test_confusion": report["segment"]["confusion"], "genres": report["genres"]}
        atomic_write_text(result_path, json.dumps(result, indent=2) + "\n")
    order = {cell.key: i for i, cell in enumerate(grid.cells())}
    results = sorted((json.loads(p.read_text()) for p in (out / "cells").glob("*.json")),
                     key=lambda r: (order.get(r["cell"], len(order)), r["cell"]))
    write_experiment_report(grid, results, out)
    return {"out": str(out), "cells": results}
