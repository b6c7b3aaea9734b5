"""Training: fit a GenreClassifier on the train subset, select on validation, checkpoint every epoch.

The test subset is never touched here (only ``evaluate`` reads it). On the CPU a run is deterministic
for a seed, and ``resume`` continues from ``last.pt`` to the same weights an uninterrupted run reaches:
the shuffle order is a function of (seed, epoch) and the RNG state travels in the checkpoint.
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel

from gtzan_gpu.augment import augment_seed, reseed_augmentations
from gtzan_gpu.data.corpus import Corpus
from gtzan_gpu.data.splits import SplitManifest
from gtzan_gpu.errors import GtzanError
from gtzan_gpu.models import build_classifier
from gtzan_gpu.models.weights import weights_file
from gtzan_gpu.training.batches import SegmentBatches
from gtzan_gpu.training.checkpoint import load_checkpoint, load_model_state, save_checkpoint
from gtzan_gpu.training.config import TrainConfig
from gtzan_gpu.training.distributed import Distributed
from gtzan_gpu.training.run_data import RunData, load_run_data
from gtzan_gpu.training.run_dir import BEST, LAST, claim_run_dir
from gtzan_gpu.training.inspection import collect_inspection, log_inspection
from gtzan_gpu.training.optimization import build_optimizer
from gtzan_gpu.training.scoring import score
from gtzan_gpu.training.session import Session
from gtzan_gpu.training.epoch import chance_warning, train_one_epoch
from gtzan_gpu.training.state import TrainingState
from gtzan_gpu.training.tensorboard_log import NullRunLogger, RunLogger

log = logging.getLogger(__name__)

TENSORBOARD_IMAGES = 8

__all__ = ["fit", "LAST", "BEST", "TENSORBOARD_IMAGES"]


def checkpoint_payload(config: TrainConfig, data: RunData, model, optimizer, scaler, state: TrainingState,
                       distributed: Distributed) -> dict:
    """Everything a resume or an evaluation needs. ``model`` is the plain module (never the DDP wrapper), so
    a checkpoint loads in one process or under torchrun alike; every rank's RNG state travels with it."""
    payload = {"config": config.to_dict(), "genres": data.genres, "manifest": data.manifest.to_json(),
               "manifest_digest": data.manifest.digest, "labels_digest": data.labels_digest(),
               "val_audio_digest": data.validation_audio_digest,
               "model_name": config.model.name,
               "model": model.state_dict(), "optimizer": optimizer.state_dict(), "scaler": scaler.state_dict(),
               "world_size": distributed.world_size, **state.to_payload()}
    payload["rng"]["ranks"] = distributed.gather(payload["rng"]["torch"])
    return payload


def fit(config: TrainConfig, resume: bool = False, corpus: Corpus | None = None, overwrite: bool = False,
        manifest: SplitManifest | None = None) -> dict:
    """Train ``config`` into ``config.out``; with ``resume`` continue from its last.pt; with ``overwrite``
    clear the run it holds first. Returns a summary of the run.

    Under torchrun every rank calls this: rank 0 owns the RUN_DIR (lock, checkpoints, TensorBoard, console),
    each rank trains on its shard of the training tracks through DistributedDataParallel, and validation is
    gathered. Options are checked before any slow work (the device, the weights file); the RUN_DIR is locked
    for the whole run. ``corpus``: ``config.data`` already scanned, to skip scanning it again; ``manifest``:
    ``config.manifest`` already loaded (a resumed run uses its checkpoint's).
    """
    if not config.out:
        raise GtzanError("train needs --out RUN_DIR")
    distributed, device = Distributed.from_environment(config.device)
    if config.sync_bn and device.type != "cuda":
        raise GtzanError("--sync-bn needs CUDA devices (torch's SyncBatchNorm has no CPU implementation)")
    if not resume:
        weights_file(config.model.weights)
    mode = "resume" if resume else "overwrite" if overwrite else "new"
    if not distributed.active:
        with claim_run_dir(config.out, mode) as run_dir:
            return _fit(config, run_dir, device, resume, corpus, distributed, manifest)
    with contextlib.ExitStack() as stack:  # rank 0 claims the RUN_DIR; the others learn whether it could
        run_dir = distributed.on_main(lambda: stack.enter_context(claim_run_dir(config.out, mode)))
        summary = _fit(config, Path(run_dir), device, resume, corpus, distributed, manifest)
        distributed.finish()  # still holding the RUN_DIR until every rank is done
    return summary


def _fit(config: TrainConfig, run_dir: Path, device: torch.device, resume: bool, corpus: Corpus | None,
         distributed: Distributed, manifest: SplitManifest | None) -> dict:
    session = _start_session(config, run_dir, device, resume, corpus, distributed, manifest)
    epochs_before = len(session.state.history)
    try:
        stop = _run_epochs(session)
    finally:
        session.logger.close()
    state = session.state
    return {"run_dir": str(run_dir), "best": state.best, "history": state.history,
            "epochs_run": len(state.history) - epochs_before, "global_step": state.global_step, "stopped": stop,
            "world_size": distributed.world_size}


def _start_session(config: TrainConfig, run_dir: Path, device: torch.device, resume: bool, corpus: Corpus | None,
                   distributed: Distributed, manifest: SplitManifest | None = None) -> Session:
    """Data, model, optimiser and state (from last.pt when resuming), then the TensorBoard logger."""
    checkpoint = load_checkpoint(run_dir / LAST) if resume else None
    if checkpoint and checkpoint.get("world_size", 1) != distributed.world_size:
        raise GtzanError(f"{run_dir / LAST} was written by {checkpoint.get('world_size', 1)} rank(s); resume it "
                         f"with the same world size, not {distributed.world_size}")
    data, train, val, steps_per_epoch = _load_data(config, run_dir, device, checkpoint, corpus, distributed, manifest)
    model, step_model, optimizer, scaler, state = _build_model(config, run_dir, device, checkpoint,
                                                               len(data.genres), distributed)
    session = Session(config, run_dir, device, distributed, data, train, val, steps_per_epoch, model, step_model,
                      optimizer, scaler, state)
    log.info("%s on %s: %d train / %d val segments of %g s%s, %s, %s loader, weights: %s", config.model.name,
             device, len(train), len(val), config.segment_seconds,
             f" on rank 0 of {distributed.world_size} ({steps_per_epoch} steps per epoch on every rank)"
             if distributed.active else "", data.manifest.scheme, train.loader_name, config.model.describe_weights())
    _open_logger(session, first_run=checkpoint is None)
    return session


def _load_data(config: TrainConfig, run_dir: Path, device: torch.device, checkpoint: dict | None,
               corpus: Corpus | None, distributed: Distributed, manifest: SplitManifest | None = None
               ) -> tuple[RunData, SegmentBatches, SegmentBatches, int]:
    """The run's corpus and split (the checkpoint's manifest when resuming), its training and validation batches
    on this rank, and the steps per epoch every rank takes."""
    rank, world_size = distributed.rank, distributed.world_size
    manifest = SplitManifest.from_json(checkpoint["manifest"]) if checkpoint else manifest
    if distributed.active and corpus is None:  # decode-validate once, on rank 0, for every rank
        corpus = distributed.on_main(lambda: load_run_data(config, manifest).corpus)
    data = load_run_data(config, manifest, corpus)
    recorded = (checkpoint or {}).get("labels_digest")
    if recorded and recorded != data.labels_digest():
        raise GtzanError(f"the labels of {run_dir}'s tracks differ from those it was trained on (an edited label "
                         f"table, or another corpus under the same track ids); start a new run (--out)")
    recorded = (checkpoint or {}).get("val_audio_digest")
    if recorded and recorded != data.validation_audio_digest:
        raise GtzanError(f"the audio of {run_dir}'s validation tracks differs from what it was trained on (another "
                         f"corpus under the same track ids, or changed files); start a new run (--out)")
    if distributed.is_main:
        data.manifest.save(run_dir / "manifest.json")
    torch.manual_seed(config.seed)
    train = data.batches("train", config, device, training=True, rank=rank, world_size=world_size)
    val = data.batches("val", config, device, rank=rank, world_size=world_size)
    if distributed.minimum(len(train)) == 0:
        raise GtzanError(f"no training track is at least {config.segment_seconds:g} s long "
                         f"(--segment-seconds is longer than every track, or too few tracks for {world_size} ranks)")
    if distributed.minimum(len(val)) == 0:
        raise GtzanError("the validation subset has no segments (too few tracks per genre, or all too short)")
    # the same on every rank, so no rank waits at an epoch's end; a last batch of one segment is left out
    # (BatchNorm cannot normalise a single example where the feature map is 1 x 1)
    full, left = divmod(len(train), config.batch_size)
    steps_per_epoch = distributed.minimum(full + (left > 1))
    if steps_per_epoch == 0:
        raise GtzanError("only one training segment: nothing to train on (more tracks, or shorter segments)")
    return data, train, val, steps_per_epoch


def _build_model(config: TrainConfig, run_dir: Path, device: torch.device, checkpoint: dict | None,
                 num_classes: int, distributed: Distributed):
    """(model, the model as stepped (DDP / compiled), optimiser, scaler, state), restored from ``checkpoint``."""
    initial = dataclasses.replace(config.model, weights="none") if checkpoint else config.model
    model = build_classifier(initial, config.features, num_classes, config.sample_rate, config.channels_last,
                             config.augment_settings()).to(device)
    if config.sync_bn and distributed.active:
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    if distributed.rank > 0:
        torch.manual_seed(config.seed + distributed.rank)  # other dropout masks per rank; rank 0 as one process
    optimizer = build_optimizer(model, config.optimizer, config.lr, config.weight_decay, config.backbone_lr_scale)
    scaler = torch.amp.GradScaler(device.type, enabled=False)  # bf16 autocast needs no loss scaling
    state = TrainingState()
    if checkpoint:
        load_model_state(model, checkpoint["model"], run_dir / LAST, config.model.name)
        optimizer.load_state_dict(checkpoint["optimizer"])
        scaler.load_state_dict(checkpoint["scaler"])
        state = TrainingState.from_checkpoint(checkpoint, distributed.rank)
        log.info("resuming %s after epoch %d (step %d)", run_dir, state.epoch, state.global_step)
    step_model = model
    if distributed.active:
        step_model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    step_model = torch.compile(step_model) if config.compile else step_model
    return model, step_model, optimizer, scaler, state


def _open_logger(session: Session, first_run: bool) -> None:
    """Rank 0's TensorBoard logger and the fixed validation batch it shows; a new run's text and first images."""
    config, data, val, model = session.config, session.data, session.val, session.model
    session.logger = RunLogger(str(session.run_dir / "tb"), data.genres) if session.distributed.is_main \
        else NullRunLogger()
    shown = val.showcase(TENSORBOARD_IMAGES)  # a fixed validation batch, one segment per genre where it can
    session.fixed_batch, session.fixed_labels = val.segments(shown), val.labels_of(shown)
    if not first_run:
        return
    logger, manifest = session.logger, data.manifest
    logger.text("run/name", config.run_name(manifest.scheme))
    logger.text("run/manifest", f"scheme {manifest.scheme}, seed {manifest.seed}, sha256 {manifest.digest[:16]}: "
                + ", ".join(f"{k} {len(v)} tracks" for k, v in manifest.subsets.items()))
    logger.text("run/weights", config.model.describe_weights())
    logger.feature_images(model, session.fixed_batch, 0, labels=session.fixed_labels)
    logger.feature_grid(model, session.fixed_batch, val.captions(shown, data.genres), 0)
    if config.augmentations:
        reseed_augmentations(model, augment_seed(config.seed, 0))
        logger.feature_images(model, session.fixed_batch, 0, augmented=True, labels=session.fixed_labels)


def _run_epochs(session: Session) -> str:
    """Train and validate epoch after epoch until the state says stop; report each epoch. Returns why it stopped."""
    config, state = session.config, session.state
    stop = state.stop_reason(config)
    while stop is None:
        try:
            stop = _one_epoch(session)
        except GtzanError as error:
            error.rank_specific = True  # this rank's data or numbers: under torchrun every rank reports its own
            raise
    log.info("%s", stop)
    session.logger.hparams(config.to_dict(), {"hparam/val_accuracy": state.best["val_accuracy"],
                                              "hparam/val_track_accuracy": state.best.get("val_track_accuracy", 0.0)})
    return stop


def _one_epoch(session: Session) -> str | None:
    """Train one epoch, validate, report it; returns why training stops now, or None to go on."""
    config, state, distributed = session.config, session.state, session.distributed
    train_loss, train_accuracy, seen, elapsed = train_one_epoch(session)
    val_metrics = score(session.model, session.val, session.num_classes, config.amp, f"validation {state.epoch + 1}",
                        distributed, session.data.manifest.subsets["val"], inspect=distributed.is_main)
    record = {"epoch": state.epoch + 1, "train_loss": train_loss, "train_accuracy": train_accuracy,
              "val_loss": val_metrics["loss"], "val_accuracy": val_metrics["segment"]["accuracy"],
              "val_track_accuracy": val_metrics["track"]["accuracy"], "seconds": elapsed,
              "segments_per_second": seen * distributed.world_size / elapsed}
    improved = state.end_epoch(record)
    stop = state.stop_reason(config)
    _report_epoch(session, record, val_metrics, improved, stop)
    return stop


def _report_epoch(session: Session, record: dict, val_metrics: dict, improved: bool, stop: str | None) -> None:
    """One finished epoch: the chance-level warning, TensorBoard (flushed first), the checkpoints, the console."""
    config, state, logger, model = session.config, session.state, session.logger, session.model
    warning = chance_warning(state.history, session.num_classes, config)
    if warning and session.distributed.is_main:
        log.warning("%s", warning)
    scalars = {"train/loss": record["train_loss"], "train/accuracy": record["train_accuracy"],
               "val/loss": record["val_loss"], "val/accuracy": record["val_accuracy"],
               "val/track_accuracy": record["val_track_accuracy"],
               "train/learning_rate": session.optimizer.param_groups[0]["lr"],
               "throughput/segments_per_second": record["segments_per_second"]}
    if session.device.type == "cuda":
        scalars["gpu/max_memory_allocated_mib"] = torch.cuda.max_memory_allocated(session.device) / 2 ** 20
    logger.scalars(scalars, state.epoch)
    logger.confusion("val/confusion", val_metrics["segment"]["confusion"], state.epoch,
                     f"validation, epoch {state.epoch}: segment level")
    if config.features.trainable_stft:
        logger.feature_images(model, session.fixed_batch, state.epoch, labels=session.fixed_labels)
    if session.distributed.is_main:
        log_inspection(logger, "val", collect_inspection(model, session.val, val_metrics["inspection"]), state.epoch,
                       config.sample_rate)
    if config.saliency_every and (state.epoch % config.saliency_every == 0 or stop is not None):
        logger.saliency_of(model, session.fixed_batch, session.fixed_labels, state.epoch)
    logger.flush()  # TensorBoard first: a kill after the checkpoint below loses no epoch's entries
    payload = checkpoint_payload(config, session.data, model, session.optimizer, session.scaler, state,
                                 session.distributed)
    if session.distributed.is_main:
        if improved:
            save_checkpoint(session.run_dir / BEST, payload)
        save_checkpoint(session.run_dir / LAST, payload)
    log.info("epoch %d: train loss %.4f acc %.3f | val loss %.4f acc %.3f track acc %.3f | %.1f s%s", state.epoch,
             record["train_loss"], record["train_accuracy"], record["val_loss"], record["val_accuracy"],
             record["val_track_accuracy"], record["seconds"], " | best" if improved else "")
