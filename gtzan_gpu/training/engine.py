"""Training: fit a GenreClassifier on the train subset, select on validation, checkpoint every epoch.

The test subset is never touched here (only ``evaluate`` reads it). On the CPU a run is deterministic
for a seed, and ``resume`` continues from ``last.pt`` to the same weights an uninterrupted run reaches:
the shuffle order is a function of (seed, epoch) and the RNG state travels in the checkpoint.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from gtzan_gpu.config import TrainConfig
from gtzan_gpu.data.corpus import Corpus, scan_corpus
from gtzan_gpu.data.segments import SegmentSpec, track_sources
from gtzan_gpu.data.splits import SplitManifest, make_split
from gtzan_gpu.errors import GtzanError
from gtzan_gpu.models import GenreClassifier, build_classifier
from gtzan_gpu.training.batches import SegmentBatches, epoch_generator
from gtzan_gpu.training.checkpoint import load_checkpoint, load_model_state, save_checkpoint
from gtzan_gpu.training.metrics import evaluate_predictions
from gtzan_gpu.training.tensorboard_log import RunLogger

log = logging.getLogger(__name__)

LAST, BEST = "last.pt", "best.pt"
TENSORBOARD_IMAGES = 8


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise GtzanError("--device cuda: no CUDA device is available (use --device cpu or auto)")
    return torch.device(name)


def prepare_run_dir(path: str | Path) -> Path:
    """Create RUN_DIR and prove it is writable before any work is done."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise GtzanError(f"run directory {path} is not writable ({error.strerror})") from None
    return path


def autocast(device: torch.device, enabled: bool):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled and device.type == "cuda")


@dataclass
class RunData:
    """The corpus, split and segment spec a run trains and evaluates on."""

    corpus: Corpus
    manifest: SplitManifest
    spec: SegmentSpec

    @property
    def genres(self) -> list[str]:
        return self.manifest.genres

    def batches(self, subset: str, config: TrainConfig, device: torch.device, training: bool = False) -> SegmentBatches:
        spec = self.spec if training else SegmentSpec(self.spec.seconds, self.spec.sample_rate)  # eval: seed windows
        tracks = track_sources(self.corpus, self.manifest.subsets[subset], spec.sample_rate, self.genres)
        return SegmentBatches(tracks, spec, device, config.loader, config.batch_size, config.workers)


def load_run_data(config: TrainConfig, manifest: SplitManifest | None = None, corpus: Corpus | None = None) -> RunData:
    """Corpus, split and segment spec of ``config``. Pass ``corpus`` when ``config.data`` is already scanned
    (a scan decodes every file), e.g. by a grid that trains and evaluates many runs on one corpus."""
    corpus = corpus if corpus is not None else scan_corpus(config.data)
    for entry in corpus.excluded:
        log.warning("excluded %s: %s", entry.path, entry.reason)
    if manifest is None:
        manifest = SplitManifest.load(config.manifest) if config.manifest else \
            make_split(corpus, config.split_scheme, config.split_seed)
    if len(manifest.genres) < 2:
        raise GtzanError(f"{config.data} has {len(manifest.genres)} genre(s); classification needs at least 2")
    return RunData(corpus, manifest, SegmentSpec(config.segment_seconds, config.sample_rate, config.hop_seconds))


def predict_logits(model: GenreClassifier, batches: SegmentBatches, amp: bool) -> tuple[torch.Tensor, ...]:
    """Logits ``(N, C)`` float32, labels ``(N,)`` and track positions ``(N,)`` of every segment, on the device."""
    model.eval()
    logits, labels, tracks = [], [], []
    with torch.no_grad(), autocast(batches.device, amp):
        for waveforms, batch_labels, batch_tracks in batches.epoch():
            logits.append(model(waveforms).float())
            labels.append(batch_labels)
            tracks.append(batch_tracks)
    return torch.cat(logits), torch.cat(labels), torch.cat(tracks)


def score(model: GenreClassifier, batches: SegmentBatches, num_classes: int, amp: bool) -> dict:
    """Loss plus segment- and track-level metrics of one subset."""
    logits, labels, tracks = predict_logits(model, batches, amp)
    metrics = evaluate_predictions(logits, labels, tracks, num_classes, len(batches.track_ids))
    metrics["loss"] = float(F.cross_entropy(logits, labels))
    return metrics


def checkpoint_payload(config, data, model, optimizer, scaler, epoch, global_step, best, stale, history) -> dict:
    rng = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    return {"config": config.to_dict(), "genres": data.genres, "manifest": data.manifest.to_json(),
            "manifest_digest": data.manifest.digest, "model_name": config.model.name,
            "model": model.state_dict(), "optimizer": optimizer.state_dict(), "scaler": scaler.state_dict(),
            "epoch": epoch, "global_step": global_step, "best": best, "epochs_without_improvement": stale,
            "history": history, "rng": rng}


def non_finite_loss(epoch: int, step: int, run_dir: Path) -> GtzanError:
    kept = f"{run_dir / LAST} (epoch {epoch}) is kept" if epoch else "no checkpoint was written"
    return GtzanError(f"non-finite loss at epoch {epoch + 1} step {step} (NaN in a batch, or training diverged; "
                      f"try a lower --lr); {kept}")


def train_one_epoch(model: GenreClassifier, step_model, train: SegmentBatches, optimizer, config: TrainConfig,
                    epoch: int, global_step: int, device: torch.device, run_dir: Path) -> tuple:
    """One pass over the shuffled training segments (stopping early at --max-steps).

    Loss and accuracy accumulate on the device and are read back only every ``log_every`` steps.
    Returns (mean loss, accuracy, segments seen, seconds, global step).
    """
    model.train()
    steps_per_epoch = math.ceil(len(train) / config.batch_size)
    started = time.perf_counter()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    seen = 0
    for step, (waveforms, labels, _) in enumerate(train.epoch(True, epoch_generator(config.seed, epoch)), 1):
        with autocast(device, config.amp):
            logits = step_model(waveforms)
            loss = F.cross_entropy(logits.float(), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        global_step += 1
        loss_sum += loss.detach() * labels.numel()
        correct += (logits.argmax(dim=1) == labels).sum()
        seen += labels.numel()
        if step % config.log_every == 0 or step == steps_per_epoch:
            mean_loss = float(loss_sum) / seen
            if not math.isfinite(mean_loss):
                raise non_finite_loss(epoch, step, run_dir)
            log.info("epoch %d/%d step %d/%d loss %.4f acc %.3f %.0f seg/s", epoch + 1, config.epochs, step,
                     steps_per_epoch, mean_loss, float(correct) / seen, seen / (time.perf_counter() - started))
        if config.max_steps and global_step >= config.max_steps:
            break
    train_loss = float(loss_sum) / seen
    if not math.isfinite(train_loss):
        raise non_finite_loss(epoch, step, run_dir)
    return train_loss, float(correct) / seen, seen, time.perf_counter() - started, global_step


def fit(config: TrainConfig, resume: bool = False, corpus: Corpus | None = None) -> dict:
    """Train ``config``; with ``resume`` continue from RUN_DIR/last.pt. Returns a summary of the run.
    ``corpus``: ``config.data`` already scanned, to skip scanning it again."""
    run_dir = prepare_run_dir(config.out)
    checkpoint = load_checkpoint(run_dir / LAST) if resume else None
    manifest = SplitManifest.from_json(checkpoint["manifest"]) if checkpoint else None
    data = load_run_data(config, manifest, corpus)
    data.manifest.save(run_dir / "manifest.json")
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    train = data.batches("train", config, device, training=True)
    val = data.batches("val", config, device)
    if len(train) == 0:
        raise GtzanError(f"no training track is at least {config.segment_seconds:g} s long "
                         f"(--segment-seconds is longer than every track)")
    if len(val) == 0:
        raise GtzanError("the validation subset has no segments (too few tracks per genre, or all too short)")
    num_classes = len(data.genres)
    model = build_classifier(config.model, config.features, num_classes, config.sample_rate,
                             config.channels_last).to(device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    scaler = torch.amp.GradScaler(device.type, enabled=False)  # bf16 autocast needs no loss scaling
    start_epoch, global_step, stale, history = 0, 0, 0, []
    best = {"epoch": None, "val_accuracy": -1.0, "val_loss": math.inf}
    if checkpoint:
        load_model_state(model, checkpoint["model"], run_dir / LAST, config.model.name)
        optimizer.load_state_dict(checkpoint["optimizer"])
        scaler.load_state_dict(checkpoint["scaler"])
        start_epoch, global_step = checkpoint["epoch"], checkpoint["global_step"]
        best, stale, history = checkpoint["best"], checkpoint["epochs_without_improvement"], checkpoint["history"]
        torch.set_rng_state(checkpoint["rng"]["torch"])
        if "cuda" in checkpoint["rng"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(checkpoint["rng"]["cuda"])
        log.info("resuming %s after epoch %d (step %d)", run_dir, start_epoch, global_step)
        if stale >= config.patience or (config.max_steps and global_step >= config.max_steps):
            start_epoch = config.epochs  # it had already stopped (early stop or --max-steps): nothing left to do
    step_model = torch.compile(model) if config.compile else model
    weights_note = (f"ImageNet ({config.model.weights or 'torch hub cache'})"
                    if config.model.pretrained == "imagenet" or config.model.weights else "random init")
    log.info("%s on %s: %d train / %d val segments of %g s, %s, %s loader, weights: %s", config.model.name,
             device, len(train), len(val), config.segment_seconds, data.manifest.scheme, config.loader, weights_note)
    logger = RunLogger(str(run_dir / "tb"), data.genres)
    fixed_batch = val.first(TENSORBOARD_IMAGES)
    if not checkpoint:
        logger.text("run/manifest", f"scheme {data.manifest.scheme}, seed {data.manifest.seed}, sha256 "
                    f"{data.manifest.digest[:16]}: " + ", ".join(f"{k} {len(v)} tracks"
                                                               for k, v in data.manifest.subsets.items()))
        logger.text("run/weights", weights_note)
        logger.feature_images(model, fixed_batch, 0)
    try:
        for epoch in range(start_epoch, config.epochs):
            train_loss, train_accuracy, seen, elapsed, global_step = train_one_epoch(
                model, step_model, train, optimizer, config, epoch, global_step, device, run_dir)
            val_metrics = score(model, val, num_classes, config.amp)
            record = {"epoch": epoch + 1, "train_loss": train_loss, "train_accuracy": train_accuracy,
                      "val_loss": val_metrics["loss"], "val_accuracy": val_metrics["segment"]["accuracy"],
                      "val_track_accuracy": val_metrics["track"]["accuracy"], "seconds": elapsed,
                      "segments_per_second": seen / elapsed}
            history.append(record)
            improved = (record["val_accuracy"] > best["val_accuracy"] or
                        (record["val_accuracy"] == best["val_accuracy"] and record["val_loss"] < best["val_loss"]))
            if improved:
                best = {"epoch": epoch + 1, "val_accuracy": record["val_accuracy"], "val_loss": record["val_loss"],
                        "val_track_accuracy": record["val_track_accuracy"]}
                stale = 0
            else:
                stale += 1
            payload = checkpoint_payload(config, data, model, optimizer, scaler, epoch + 1, global_step, best, stale,
                                         history)
            if improved:
                save_checkpoint(run_dir / BEST, payload)
            save_checkpoint(run_dir / LAST, payload)
            scalars = {"train/loss": train_loss, "train/accuracy": train_accuracy, "val/loss": record["val_loss"],
                       "val/accuracy": record["val_accuracy"], "val/track_accuracy": record["val_track_accuracy"],
                       "train/learning_rate": optimizer.param_groups[0]["lr"],
                       "throughput/segments_per_second": record["segments_per_second"]}
            if device.type == "cuda":
                scalars["gpu/max_memory_allocated_mib"] = torch.cuda.max_memory_allocated(device) / 2 ** 20
            logger.scalars(scalars, epoch + 1)
            logger.confusion("val/confusion", val_metrics["segment"]["confusion"], epoch + 1,
                             f"validation, epoch {epoch + 1}: segment level")
            if config.features.trainable_stft:
                logger.feature_images(model, fixed_batch, epoch + 1)
            log.info("epoch %d: train loss %.4f acc %.3f | val loss %.4f acc %.3f track acc %.3f | %.1f s%s",
                     epoch + 1, train_loss, train_accuracy, record["val_loss"], record["val_accuracy"],
                     record["val_track_accuracy"], elapsed, " | best" if improved else "")
            if stale >= config.patience:
                log.info("early stop: no validation improvement for %d epochs", stale)
                break
            if config.max_steps and global_step >= config.max_steps:
                log.info("stopping at --max-steps %d", config.max_steps)
                break
        logger.hparams(config.to_dict(), {"hparam/val_accuracy": best["val_accuracy"],
                                          "hparam/val_track_accuracy": best.get("val_track_accuracy", 0.0)})
    finally:
        logger.close()
    return {"run_dir": str(run_dir), "best": best, "history": history, "epochs_run": len(history),
            "global_step": global_step}
