"""Re-make the README's figures in docs/figures/ with the project's own code, on the synthetic corpus.

    python docs/make_figures.py [--work DIR] [--device auto|cpu|cuda]

Trains the seed's CNN (128-px spectrogram images, 3-s segments) on the *hard* synthetic corpus, evaluates it
on its test tracks, and copies what the code drew: the test confusion matrix, the per-genre PR curves and the
embedding (the files ``evaluate`` writes), the Grad-CAM figure and the captioned feature grid exactly as
TensorBoard stores them (read back from the event files), and a prediction timeline of three test tracks
joined end to end. Every figure is from synthetic audio; the run is named so that its titles say so.
About 2 minutes on a 2-core CPU.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from gtzan_gpu.atomic import atomic_write_bytes
from gtzan_gpu.data.splits import SplitManifest
from gtzan_gpu.data.synth import ensure_synthetic_corpus
from gtzan_gpu.features.config import FeatureConfig
from gtzan_gpu.figures import png_bytes, timeline_figure
from gtzan_gpu.models.registry import ModelConfig
from gtzan_gpu.training import evaluate_run, fit, predict_files
from gtzan_gpu.training.config import TrainConfig

FIGURES = Path(__file__).resolve().parent / "figures"
RUN_NAME = "cnn-3s-random-seed0-synthetic-hard"


def last_image(log_dir: Path, tag: str) -> bytes:
    """The PNG TensorBoard holds for ``tag`` at its last step."""
    accumulator = EventAccumulator(str(log_dir), size_guidance={"images": 0})
    accumulator.Reload()
    return accumulator.Images(tag)[-1].encoded_image_string


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="runs/docs-figures", help="where the corpus and the run go")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    work = Path(args.work)
    corpus = ensure_synthetic_corpus(work / "corpus", tracks_per_genre=10, seconds=15.0, difficulty="hard")
    run = work / RUN_NAME
    config = TrainConfig(data=str(corpus.resolve()), out=str(run), model=ModelConfig("cnn"),
                         features=FeatureConfig(image_size=128), segment_seconds=3.0, epochs=12, lr=1e-3,
                         batch_size=32, seed=0, device=args.device, loader="device", patience=12, log_every=50,
                         saliency_every=4)
    fit(config, overwrite=run.exists())
    evaluate_run(run, "test", args.device)
    FIGURES.mkdir(parents=True, exist_ok=True)
    for source, target in (("confusion_test_segment.png", "confusion.png"), ("pr_test.png", "pr_curves.png"),
                           ("embedding_test.png", "embedding.png")):
        shutil.copyfile(run / source, FIGURES / target)
    atomic_write_bytes(FIGURES / "gradcam.png", last_image(run / "tb", "saliency/gradcam"))
    atomic_write_bytes(FIGURES / "feature_grid.png", last_image(run / "tb", "features/grid"))

    test_tracks = SplitManifest.load(run / "manifest.json").subsets["test"]
    parts = []
    for genre in ("classical", "reggae", "metal"):
        track = next(t for t in test_tracks if t.startswith(genre + "."))
        audio, rate = sf.read(corpus / "genres_original" / genre / f"{track}.wav", dtype="float32")
        parts.append(audio)
    medley = work / "medley.wav"
    sf.write(medley, np.concatenate(parts), rate)
    result = predict_files(run, [str(medley)], args.device, hop_seconds=0.5, timeline=True)[0]
    line = result["timeline"]
    atomic_write_bytes(FIGURES / "timeline.png", png_bytes(timeline_figure(
        line["start_seconds"], line["segment_seconds"], line["probabilities"], line["genres"],
        "synthetic medley (classical, reggae, metal test tracks, 15 s each): hop 0.5 s")))
    print(f"wrote {', '.join(sorted(p.name for p in FIGURES.glob('*.png')))} in {FIGURES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
