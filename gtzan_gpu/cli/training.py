"""Training commands: ``train`` (and ``--resume``), ``demo`` (the main job on the synthetic corpus) and ``launch``
(torchrun ranks; listed here, run by :func:`gtzan_gpu.cli.main` before any parsing)."""
from __future__ import annotations

import argparse
import os

from gtzan_gpu.cli.arguments import absolute_paths


def _cmd_train(args: argparse.Namespace) -> int:
    from gtzan_gpu.options import given_options
    from gtzan_gpu.training import fit
    from gtzan_gpu.training.config import TrainConfig
    from gtzan_gpu.training.run_config import new_run_config, resume_config

    given = absolute_paths(given_options(args, TrainConfig))
    if args.resume:
        summary = fit(resume_config(args.resume, given, args.overwrite), resume=True)
    else:
        config, manifest = new_run_config(given)
        summary = fit(config, overwrite=args.overwrite, manifest=manifest)
    if int(os.environ.get("RANK", "0")) > 0:  # under torchrun rank 0 reports
        return 0
    best = summary["best"]
    print(f"best validation accuracy {best['val_accuracy']:.4f} at epoch {best['epoch']} "
          f"({summary['epochs_run']} epoch(s) this run, {len(summary['history'])} in all) -> "
          f"{summary['run_dir']}/best.pt")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from gtzan_gpu.demo import DemoConfig, run_demo

    run_demo(DemoConfig(out=args.out, epochs=args.epochs, device=args.device))
    return 0


def _add_train_arguments(train: argparse.ArgumentParser) -> None:
    from gtzan_gpu.models.registry import MODELS
    from gtzan_gpu.options import add_option_arguments
    from gtzan_gpu.training.config import TrainConfig

    per_model = "; ".join(f"{name} {spec.lr:g}" for name, spec in MODELS.items())
    add_option_arguments(train, TrainConfig, defaults={
        "lr": f"per model, the seed's: {per_model}",
        "batch_size": "per model, the seed's: " + "; ".join(f"{n} {s.batch_size}" for n, s in MODELS.items()),
        "weights": "per model, the seed's: " + "; ".join(f"{n} {s.default_weights}" for n, s in MODELS.items()),
        "hop_seconds": "the segment length (no overlap)",
        "eval_hop_seconds": "the segment length (the seed's windows)"})
    train.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from RUN_DIR/last.pt; "
                       "options that may change then: " + ", ".join(_resumable_flags()))
    train.add_argument("--overwrite", action="store_true",
                       help="clear the run that --out holds and start again (never clears a folder that is not a run)")


def _resumable_flags() -> list[str]:
    from gtzan_gpu.options import flag_of, option_names
    from gtzan_gpu.training.config import TrainConfig

    return [flag_of(field) for _, field in option_names(TrainConfig).values() if field.metadata.get("resumable")]


def _add_train_parser(commands) -> None:
    from gtzan_gpu.models.registry import model_names

    train = commands.add_parser("train", help=f"train {', '.join(model_names())} from raw audio",
                                description="Train a GenreClassifier; model selection on the validation "
                                            "tracks only; last.pt and best.pt written atomically each epoch.")
    _add_train_arguments(train)
    train.set_defaults(run=_cmd_train)


def _add_demo_parser(commands) -> None:
    from gtzan_gpu.training.device import DEVICES

    demo = commands.add_parser("demo", help="synthesise a corpus, train the CNN, evaluate and predict",
                               description="The main job on the built-in synthetic corpus (a few minutes on CPU).")
    demo.add_argument("--out", default="runs/demo")
    demo.add_argument("--epochs", type=int, default=8)
    demo.add_argument("--device", choices=DEVICES, default="auto")
    demo.set_defaults(run=_cmd_demo)


def _add_launch_parser(commands) -> None:
    """Listed for ``gtzan-gpu --help`` only: ``main`` hands ``launch`` its words before any parsing."""
    commands.add_parser("launch", help="run train or evaluate as torchrun ranks, failing as one process does",
                        add_help=False)


PARSERS = (_add_train_parser, _add_demo_parser, _add_launch_parser)
