"""The main job on the built-in default: synthesise a corpus, train the CNN, evaluate, predict."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from gtzan_gpu.data.sources import scan_corpus
from gtzan_gpu.data.splits import SplitManifest
from gtzan_gpu.data.synth import ensure_synthetic_corpus
from gtzan_gpu.locking import exclusive_lock
from gtzan_gpu.models.registry import ModelConfig
from gtzan_gpu.training import evaluate_run, fit, predict_files
from gtzan_gpu.training.config import TrainConfig
from gtzan_gpu.training.evaluate import format_report
from gtzan_gpu.training.predict import format_prediction

log = logging.getLogger(__name__)


@dataclass
class DemoConfig:
    out: str = "runs/demo"
    tracks_per_genre: int = 10
    track_seconds: float = 15.0
    segment_seconds: float = 3.0
    epochs: int = 8
    batch_size: int = 32
    seed: int = 0
    device: str = "auto"


def run_demo(demo: DemoConfig) -> dict:
    """Run the demo under ``demo.out`` (locked meanwhile); a second demo there replaces the first's run."""
    with exclusive_lock(demo.out, "demo folder"):
        return _run_demo(demo)


def _run_demo(demo: DemoConfig) -> dict:
    out = Path(demo.out)
    corpus = ensure_synthetic_corpus(out / "corpus", demo.tracks_per_genre, demo.track_seconds, demo.seed)
    config = TrainConfig(data=str(corpus.resolve()), out=str(out / "run"), model=ModelConfig("cnn"),
                         segment_seconds=demo.segment_seconds, epochs=demo.epochs, lr=1e-3,
                         batch_size=demo.batch_size, seed=demo.seed, device=demo.device, loader="device",
                         patience=demo.epochs, log_every=10)
    scanned = scan_corpus(config.data)  # once for training and evaluation
    summary = fit(config, corpus=scanned, overwrite=True)  # the demo owns runs/demo/run
    report = evaluate_run(config.out, "test", demo.device, scanned)
    print(format_report(report))
    test_tracks = SplitManifest.load(Path(config.out) / "manifest.json").subsets["test"]
    examples = [str(corpus / "genres_original" / g / f"{next(t for t in test_tracks if t.startswith(g + '.'))}.wav")
                for g in ("classical", "metal", "reggae")]  # one held-out track per genre
    examples.append(str(corpus / "genres_original" / "jazz" / "jazz.00054.wav"))  # corrupted on purpose
    for result in predict_files(config.out, examples, demo.device):
        print(format_prediction(result))
    print(f"\nTensorBoard: tensorboard --logdir {Path(config.out) / 'tb'}")
    return {"train": summary, "test": report}
