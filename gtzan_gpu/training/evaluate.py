"""Evaluate a finished run on its validation or test tracks: segment- and track-level figures."""
from __future__ import annotations

import contextlib
import json
import logging
import shutil
import sys
from pathlib import Path

from gtzan_gpu.atomic import atomic_write_bytes, atomic_write_text, pid_tag, remove_dead_temporaries
from gtzan_gpu.data.corpus import Corpus
from gtzan_gpu.data.splits import SplitManifest
from gtzan_gpu.errors import GtzanError
from gtzan_gpu.locking import exclusive_lock
from gtzan_gpu.figures import confusion_figure, embedding_figure, gradcam_figure, png_bytes, pr_curves_figure
from gtzan_gpu.training.inspection import collect_inspection, collect_saliency, log_inspection
from gtzan_gpu.training.distributed import Distributed
from gtzan_gpu.training.run_data import load_run_data
from gtzan_gpu.training.artifacts import load_trained_model
from gtzan_gpu.training.scoring import score
from gtzan_gpu.training.tensorboard_log import RunLogger

log = logging.getLogger(__name__)
EVAL_SPLITS = ("test", "val")
SALIENCY_SEGMENTS = 8  # one per genre where the split allows


def audio_digest(run_data, track_ids: list[str], sample_rate: int) -> str:
    """:meth:`RunData.audio_digest` (``compare`` checks it)."""
    return run_data.audio_digest(track_ids, sample_rate)


def evaluate_run(run_dir: str | Path, split: str = "test", device: str = "auto", corpus: Corpus | None = None,
                 data: str | None = None) -> dict:
    """Score the run's model on ``split`` and write the report files into RUN_DIR (:func:`write_evaluation`)."""
    report = score_run(run_dir, split, device, corpus, data)
    write_evaluation(report)
    return public(report)


def score_run(run_dir: str | Path, split: str = "test", device: str = "auto", corpus: Corpus | None = None,
              data: str | None = None, labels: str | None = None, fma_subset: str | None = None,
              label_column: str | None = None, audio_column: str | None = None,
              shard_url: str | None = None) -> dict:
    """The run's segment- and track-level figures on ``split``; writes nothing.

    ``corpus``: the run's corpus already scanned, to skip scanning it again; ``data`` (and ``labels``, its label
    table, ``fma_subset``, a dataset's ``label_column`` / ``audio_column``): where the corpus is now, if it moved
    since training (the manifest pins the tracks)."""
    if split not in EVAL_SPLITS:
        raise GtzanError(f"--split must be test or val, not {split!r}")
    run_dir = Path(run_dir)
    distributed, _ = Distributed.from_environment(device)
    model, checkpoint, config, target = load_trained_model(run_dir, device)
    config.device = target.type
    if data is not None:
        config.data = str(Path(data).resolve())
    if labels is not None:
        config.labels = str(Path(labels).resolve())
    if fma_subset is not None:
        config.fma_subset = fma_subset
    config.label_column = label_column or config.label_column
    config.audio_column = audio_column or config.audio_column
    config.shard_url = shard_url or config.shard_url
    config.corpus_spec()  # the corpus options as changed here, checked before any work
    manifest = SplitManifest.from_json(checkpoint["manifest"])
    if distributed.active and corpus is None:  # decode-validate once, on rank 0
        corpus = distributed.on_main(lambda: load_run_data(config, manifest).corpus)
    run_data = load_run_data(config, manifest, corpus)
    labels_digest = run_data.labels_digest()
    labels_changed = bool(checkpoint.get("labels_digest")) and checkpoint["labels_digest"] != labels_digest
    if labels_changed and distributed.is_main:
        log.warning("the labels of %s's tracks differ from those it was trained on (an edited label table, or "
                    "another corpus under the same ids): these figures score it against other labels", run_dir)
    batches = run_data.batches(split, config, target, rank=distributed.rank, world_size=distributed.world_size)
    if distributed.minimum(len(batches)) == 0:
        raise GtzanError(f"the {split} subset of {run_dir} has no segments"
                         + (" on some rank" if distributed.active else ""))
    metrics = score(model, batches, len(run_data.genres), config.amp, f"evaluating {split}", distributed,
                    manifest.subsets[split], inspect=distributed.is_main)
    inspection = saliency = None
    if distributed.is_main:
        inspection = collect_inspection(model, batches, metrics["inspection"])
        if model.saliency_layer:
            shown = batches.showcase(SALIENCY_SEGMENTS)
            saliency = collect_saliency(model, batches.segments(shown), batches.labels_of(shown), run_data.genres)
    digest = audio_digest(run_data, manifest.subsets[split], config.sample_rate) if distributed.is_main else None
    distributed.finish()
    return {"_inspection": inspection, "_saliency": saliency, "sample_rate": config.sample_rate,
            "audio_digest": digest, "labels_digest": labels_digest, "labels_match_training":
                None if not checkpoint.get("labels_digest") else not labels_changed,
            "run_dir": str(run_dir), "checkpoint": checkpoint["path"], "epoch": checkpoint["epoch"],
            "split": split, "model": config.model.name, "segment_seconds": config.segment_seconds,
            "genres": run_data.genres, "tracks": len(manifest.subsets[split]), "loss": metrics["loss"],
            "segment": metrics["segment"], "track": metrics["track"], "device": str(target),
            "config": config.to_dict(), "best_val_accuracy": checkpoint["best"]["val_accuracy"],
            "predictions": metrics["predictions"]}


def write_evaluation(report: dict) -> None:
    """``eval_<split>.json``, the confusion, PR-curve, embedding and Grad-CAM PNGs and the TensorBoard entries of a
    :func:`score_run` report, into its RUN_DIR.
    An unwritable RUN_DIR is a GtzanError naming the file (the figures are already computed: print them first)."""
    run_dir = Path(report["run_dir"])
    with exclusive_lock(run_dir, "run directory"):  # one writer at a time: train, or one evaluate
        _write_evaluation_files(report)
        _replace_tensorboard_run(report)


def _write_evaluation_files(report: dict) -> None:
    """eval_<split>.json and the PNG figures, each written atomically."""
    run_dir, split, genres = Path(report["run_dir"]), report["split"], report["genres"]
    name = run_dir.resolve().name  # the figures' titles say which run they show
    atomic_write_text(run_dir / f"eval_{split}.json", json.dumps(public(report), indent=2) + "\n")
    for level in ("segment", "track"):
        title = f"{name}\n{split} split, {level} level"
        atomic_write_bytes(run_dir / f"confusion_{split}_{level}.png",
                           png_bytes(confusion_figure(report[level]["confusion"], genres, title)))
    inspection = report.get("_inspection")
    if inspection:  # static copies of what TensorBoard's PR curves and projector show, for papers and READMEs
        atomic_write_bytes(run_dir / f"pr_{split}.png", png_bytes(pr_curves_figure(
            inspection["probabilities"].numpy(), inspection["labels"].numpy(), genres,
            f"{name}\n{split} split: per-genre precision-recall, one vs rest (segments)")))
        atomic_write_bytes(run_dir / f"embedding_{split}.png", png_bytes(embedding_figure(
            inspection["track_features"].numpy(), inspection["track_labels"].numpy(),
            inspection["track_predicted"].numpy(), genres,
            f"{name}\n{split} tracks' penultimate features (mean over segments), PCA")))
    saliency = report.get("_saliency")
    if saliency:
        atomic_write_bytes(run_dir / f"gradcam_{split}.png", png_bytes(gradcam_figure(
            saliency["images"], saliency["heatmaps"], saliency["captions"], saliency["view"])))


def _replace_tensorboard_run(report: dict) -> None:
    """The evaluation's own TensorBoard run, ``tb/eval_<split>`` (a projector config per run, so the training one
    is kept), written into a fresh folder that then replaces the previous evaluation's: TensorBoard never shows
    two evaluations' points, and nothing TensorBoard prints reaches stdout (``--json`` stays JSON)."""
    run_dir, split, genres, epoch = Path(report["run_dir"]), report["split"], report["genres"], report["epoch"]
    inspection, saliency = report.get("_inspection"), report.get("_saliency")
    final = run_dir / "tb" / f"eval_{split}"
    remove_dead_temporaries(final, extra_suffixes=(".old",))  # what a killed evaluation left
    fresh = run_dir / "tb" / f".eval_{split}.{pid_tag()}tb.tmp"
    shutil.rmtree(fresh, ignore_errors=True)
    with contextlib.redirect_stdout(sys.stderr):
        _log_evaluation(RunLogger(str(fresh), genres), report, split, epoch, inspection, saliency)
    previous = run_dir / "tb" / f".eval_{split}.{pid_tag()}tb.old"
    if final.exists():
        final.rename(previous)
    fresh.rename(final)
    shutil.rmtree(previous, ignore_errors=True)


def _log_evaluation(logger: RunLogger, report: dict, split: str, epoch: int, inspection, saliency) -> None:
    try:
        logger.scalars({f"{split}/accuracy": report["segment"]["accuracy"],
                        f"{split}/track_accuracy": report["track"]["accuracy"],
                        f"{split}/macro_f1": report["segment"]["macro_f1"]}, epoch)
        logger.confusion(f"{split}/confusion_segment", report["segment"]["confusion"], epoch, f"{split}: segment level")
        logger.confusion(f"{split}/confusion_track", report["track"]["confusion"], epoch, f"{split}: track level")
        if inspection:
            log_inspection(logger, split, inspection, epoch, report["sample_rate"])
        if saliency:
            logger.saliency(f"{split}/gradcam", saliency, epoch)
        logger.hparams(report["config"], {"hparam/val_accuracy": report["best_val_accuracy"],
                                          f"hparam/{split}_accuracy": report["segment"]["accuracy"],
                                          f"hparam/{split}_track_accuracy": report["track"]["accuracy"]})
    finally:
        logger.close()


def public(report: dict) -> dict:
    """The report without its in-memory parts (tensors for TensorBoard): what JSON holds."""
    return {key: value for key, value in report.items() if not key.startswith("_")}


def format_report(report: dict) -> str:
    lines = [f"{report['model']} {report['segment_seconds']:g}-s segments, {report['split']} split, "
             f"checkpoint epoch {report['epoch']} ({report['checkpoint']})"]
    for level in ("segment", "track"):
        m = report[level]
        lines.append(f"{level:>8}: accuracy {m['accuracy']:.4f}  macro P {m['macro_precision']:.4f}  "
                     f"R {m['macro_recall']:.4f}  F1 {m['macro_f1']:.4f}  (n = {m['count']})")
    return "\n".join(lines)
