"""The ``gtzan-gpu`` command line: one entry point, a subcommand per job, ``--help`` on each.

User errors (:class:`GtzanError`, bad options) print one line and exit with status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from gtzan_gpu import __version__
from gtzan_gpu.errors import GtzanError

log = logging.getLogger("gtzan_gpu")


def _cmd_synth(args: argparse.Namespace) -> int:
    from gtzan_gpu.data.synth import write_synthetic_corpus

    if args.tracks_per_genre < 1 or args.seconds <= 0:
        raise GtzanError("--tracks-per-genre must be >= 1 and --seconds > 0")
    root = write_synthetic_corpus(args.out, args.tracks_per_genre, args.seconds, args.seed)
    print(f"wrote {args.tracks_per_genre} x 10 synthetic tracks of {args.seconds:g} s (+ corrupted jazz.00054.wav) "
          f"under {root}")
    return 0


def _scan(data: str, quiet: bool = False):
    from gtzan_gpu.data.corpus import scan_corpus

    def progress(relative: str) -> None:
        log.debug("decoding %s", relative)

    corpus = scan_corpus(data, on_file=progress)
    for entry in corpus.excluded:
        if not quiet:
            log.warning("excluded %s: %s", entry.path, entry.reason)
    return corpus


def _cmd_scan(args: argparse.Namespace) -> int:
    from gtzan_gpu.data.corpus import format_summary, summary_json

    corpus = _scan(args.data, quiet=args.json)
    summary = corpus.summary()
    print(summary_json(summary) if args.json else format_summary(summary))
    return 0


def _cmd_split(args: argparse.Namespace) -> int:
    from gtzan_gpu.data.splits import make_split

    corpus = _scan(args.data)
    manifest = make_split(corpus, args.scheme, args.seed)
    manifest.save(args.out)
    counts = ", ".join(f"{name} {len(ids)}" for name, ids in manifest.subsets.items())
    print(f"{manifest.scheme} split of {corpus.root}: {counts} tracks -> {args.out}")
    if manifest.not_used:
        print(f"{len(manifest.not_used)} listed track(s) not used (excluded by the scan or absent)")
    return 0


def _train_config(args: argparse.Namespace):
    from gtzan_gpu.config import SEED_HYPERPARAMETERS, FeatureConfig, ModelConfig, TrainConfig

    if not args.data or not args.out:
        raise GtzanError("train needs --data DATA and --out RUN_DIR (or --resume RUN_DIR)")
    defaults = SEED_HYPERPARAMETERS.get(args.model, SEED_HYPERPARAMETERS["cnn"])
    features = FeatureConfig(image_size=args.image_size, frequency_scale=args.frequency_scale,
                             colormap=args.colormap, normalize=not args.no_normalize, stft_backend=args.stft_backend,
                             trainable_stft=args.trainable_stft, waveform_envelope=args.waveform_envelope)
    pretrained = args.pretrained or ("imagenet" if args.weights else defaults["pretrained"])
    model = ModelConfig(args.model, pretrained, str(Path(args.weights).resolve()) if args.weights else None)
    return TrainConfig(
        data=str(Path(args.data).resolve()), out=args.out, model=model, features=features,
        segment_seconds=args.segment_seconds, hop_seconds=args.hop_seconds,
        manifest=str(Path(args.manifest).resolve()) if args.manifest else None, split_scheme=args.scheme,
        split_seed=args.split_seed, epochs=args.epochs, lr=args.lr or defaults["lr"],
        batch_size=args.batch_size or defaults["batch_size"], seed=args.seed, device=args.device,
        loader=args.loader, workers=args.workers, amp=args.amp, channels_last=args.channels_last,
        compile=args.compile, max_steps=args.max_steps, patience=args.patience, log_every=args.log_every)


def _cmd_train(args: argparse.Namespace) -> int:
    from gtzan_gpu.config import TrainConfig
    from gtzan_gpu.training import fit
    from gtzan_gpu.training.checkpoint import load_checkpoint
    from gtzan_gpu.training.engine import LAST

    if args.resume:
        config = TrainConfig.from_dict(load_checkpoint(Path(args.resume) / LAST)["config"])
        config.out = args.resume
        summary = fit(config, resume=True)
    else:
        summary = fit(_train_config(args))
    best = summary["best"]
    print(f"best validation accuracy {best['val_accuracy']:.4f} at epoch {best['epoch']} "
          f"({summary['epochs_run']} epochs this run) -> {summary['run_dir']}/best.pt")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from gtzan_gpu.training import evaluate_run
    from gtzan_gpu.training.evaluate import format_report

    report = evaluate_run(args.run_dir, args.split, args.device)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from gtzan_gpu.training import predict_files
    from gtzan_gpu.training.predict import format_prediction

    results = predict_files(args.run_dir, args.files, args.device)
    for result in results:
        if "error" in result:
            print(f"gtzan-gpu predict: {result['file']}: {result['error']}", file=sys.stderr)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print("\n".join(format_prediction(r) for r in results if "error" not in r))
    return 1 if any("error" in r for r in results) else 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from gtzan_gpu.demo import DemoConfig, run_demo

    run_demo(DemoConfig(out=args.out, epochs=args.epochs, device=args.device))
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from gtzan_gpu.bench import BenchConfig, run_benchmarks
    from gtzan_gpu.bench.machine import device_slug
    from gtzan_gpu.bench.report import render_markdown, write_report
    from gtzan_gpu.training.engine import resolve_device

    device = resolve_device(args.device)
    report = run_benchmarks(BenchConfig.preset(device, args.quick), device)
    out = Path(args.out) if args.out else Path("benchmarks/results") / f"{device_slug(device)}.json"
    written = write_report(report, out)
    print(render_markdown(report))
    print("wrote " + ", ".join(str(p) for p in written.values()))
    return 0


def _cmd_experiment(args: argparse.Namespace) -> int:
    from gtzan_gpu.experiment import load_grid, run_experiment

    grid = load_grid(args.config, quick=args.quick)
    if args.data is None and not args.quick:
        raise GtzanError("experiment needs --data DATA (or --quick, which makes a synthetic corpus)")
    out = args.out or f"experiments/results/{grid.name}"
    only = [item for part in (args.only or []) for item in part.split(",") if item]
    result = run_experiment(grid, out, args.data, only, args.device)
    print(Path(out, "results.md").read_text())
    print(f"{len(result['cells'])} cell(s) in {out}; TensorBoard: tensorboard --logdir {Path(out) / 'runs'}")
    return 0


def _add_train_arguments(train: argparse.ArgumentParser) -> None:
    from gtzan_gpu.config import MODEL_NAMES

    train.add_argument("--data", help="corpus folder")
    train.add_argument("--out", help="run directory (checkpoints, TensorBoard logs, reports)")
    train.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from RUN_DIR/last.pt")
    train.add_argument("--model", choices=MODEL_NAMES, default="cnn")
    train.add_argument("--segment-seconds", type=float, default=5.0)
    train.add_argument("--hop-seconds", type=float, help="training hop (overlap); default: no overlap")
    train.add_argument("--manifest", help="split manifest JSON (default: made on the fly, saved in RUN_DIR)")
    train.add_argument("--scheme", choices=("random", "fault-filtered"), default="random")
    train.add_argument("--split-seed", type=int, default=42)
    train.add_argument("--epochs", type=int, default=20)
    train.add_argument("--lr", type=float, help="Adam learning rate (seed: 1e-3; fusion 5e-4)")
    train.add_argument("--batch-size", type=int, help="seed: 60; fusion 32")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    train.add_argument("--loader", choices=("device", "stream"), default="device",
                       help="device: DeviceCorpus (whole split on the device); stream: SegmentDataset + workers")
    train.add_argument("--workers", type=int, default=2, help="DataLoader workers for --loader stream")
    train.add_argument("--amp", action="store_true", help="bf16 autocast on CUDA (the STFT stays fp32)")
    train.add_argument("--channels-last", action="store_true")
    train.add_argument("--compile", action="store_true", help="torch.compile the model")
    train.add_argument("--max-steps", type=int, help="stop after this many optimiser steps (smoke runs)")
    train.add_argument("--patience", type=int, default=5, help="early stop after this many epochs without a "
                                                               "validation improvement")
    train.add_argument("--log-every", type=int, default=20, help="progress line every N steps")
    train.add_argument("--pretrained", choices=("none", "imagenet"),
                       help="ResNet trunk weights (seed: imagenet for resnet18 and fusion)")
    train.add_argument("--weights", help="a resnet18 ImageNet state_dict file instead of the torch hub cache")
    train.add_argument("--image-size", type=int, default=128)
    train.add_argument("--frequency-scale", choices=("log", "linear", "mel"), default="log")
    train.add_argument("--colormap", choices=("magma", "gray"), default="magma")
    train.add_argument("--no-normalize", action="store_true", help="skip ImageNet mean/std normalisation")
    train.add_argument("--stft-backend", choices=("nnaudio", "torch"), default="nnaudio")
    train.add_argument("--trainable-stft", action="store_true", help="learn the STFT kernels (nnAudio)")
    train.add_argument("--waveform-envelope", choices=("symmetric", "minmax"), default="symmetric")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gtzan-gpu",
        description="Music-genre classification on GTZAN-style corpora, features computed on the GPU.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    synth = commands.add_parser("synth", help="write a synthetic corpus in the Kaggle GTZAN layout",
                                description="Write OUT/genres_original/<genre>/<genre>.000NN.wav (22,050 Hz, "
                                            "16-bit mono) whose genres a spectrogram CNN can learn.")
    synth.add_argument("out", help="output folder")
    synth.add_argument("--tracks-per-genre", type=int, default=10)
    synth.add_argument("--seconds", type=float, default=30.0)
    synth.add_argument("--seed", type=int, default=0)
    synth.set_defaults(run=_cmd_synth)

    scan = commands.add_parser("scan", help="decode every file of a corpus and report what is usable",
                               description="Validate a corpus by decoding every file; list exclusions.")
    scan.add_argument("data", help="corpus folder (Kaggle, tarball or folder-per-genre layout)")
    scan.add_argument("--json", action="store_true", help="machine-readable output")
    scan.set_defaults(run=_cmd_scan)

    split = commands.add_parser("split", help="write a track-level train/val/test manifest",
                                description="Split the validated tracks at track level into a JSON manifest.")
    split.add_argument("data", help="corpus folder")
    split.add_argument("--out", required=True, help="manifest JSON to write")
    split.add_argument("--scheme", choices=("random", "fault-filtered"), default="random")
    split.add_argument("--seed", type=int, default=42)
    split.set_defaults(run=_cmd_split)

    train = commands.add_parser("train", help="train cnn, resnet18 or fusion from raw audio",
                                description="Train a GenreClassifier; model selection on the validation "
                                            "tracks only; last.pt and best.pt written atomically each epoch.")
    _add_train_arguments(train)
    train.set_defaults(run=_cmd_train)

    evaluate = commands.add_parser("evaluate", help="segment- and track-level figures of a run",
                                   description="Score RUN_DIR's best checkpoint; writes eval_<split>.json and "
                                               "confusion-matrix PNGs into RUN_DIR.")
    evaluate.add_argument("run_dir")
    evaluate.add_argument("--split", choices=("test", "val"), default="test")
    evaluate.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    evaluate.add_argument("--json", action="store_true")
    evaluate.set_defaults(run=_cmd_evaluate)

    predict = commands.add_parser("predict", help="genre of audio files with a trained run",
                                  description="Any file soundfile reads (any rate, stereo, any length): "
                                              "segments' logits are averaged; prints the top genre and all "
                                              "probabilities.")
    predict.add_argument("run_dir")
    predict.add_argument("files", nargs="+", metavar="FILE")
    predict.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    predict.add_argument("--json", action="store_true")
    predict.set_defaults(run=_cmd_predict)

    demo = commands.add_parser("demo", help="synthesise a corpus, train the CNN, evaluate and predict",
                               description="The main job on the built-in synthetic corpus (a few minutes on CPU).")
    demo.add_argument("--out", default="runs/demo")
    demo.add_argument("--epochs", type=int, default=8)
    demo.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    demo.set_defaults(run=_cmd_demo)

    bench = commands.add_parser("bench", help="feature-extraction, loading and training throughput",
                                description="Run the standard benchmark set; write raw JSON, a markdown table "
                                            "and a PNG plot (default benchmarks/results/<device>.json).")
    bench.add_argument("--quick", action="store_true", help="a small set (under 2 minutes on a 2-core CPU)")
    bench.add_argument("--out", help="JSON file to write (the .md and .png go beside it)")
    bench.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    bench.set_defaults(run=_cmd_bench)

    experiment = commands.add_parser("experiment", help="run the seed study's grid (models x segment lengths)",
                                     description="Run every cell of a grid config (skipping finished ones), then "
                                                 "write results.json, results.md, bar charts and the confusion "
                                                 "matrix of the best cell on validation.")
    experiment.add_argument("--data", help="corpus folder (not needed with --quick)")
    experiment.add_argument("--quick", action="store_true",
                            help="the whole grid on a small synthetic corpus, on CPU in a few minutes")
    experiment.add_argument("--only", action="append", metavar="MODEL:SECONDS",
                            help="run only these cells, e.g. resnet18:5 (repeatable or comma-separated)")
    experiment.add_argument("--out", help="output folder (default experiments/results/<grid name>)")
    experiment.add_argument("--config", default="experiments/configs/seed-grid.toml", help="grid config (TOML)")
    experiment.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    experiment.set_defaults(run=_cmd_experiment)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s: %(message)s", stream=sys.stderr)
    try:
        return args.run(args)
    except GtzanError as error:
        print(f"gtzan-gpu {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"gtzan-gpu {args.command}: interrupted", file=sys.stderr)
        return 130
