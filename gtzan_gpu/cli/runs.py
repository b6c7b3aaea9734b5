"""Commands on trained runs: ``evaluate``, ``predict``, ``compare`` and ``export``."""
from __future__ import annotations

import argparse
import json
import os
import sys

from gtzan_gpu.cli.arguments import add_corpus_arguments, report_per_file


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from gtzan_gpu.training.evaluate import format_report, public, score_run, write_evaluation

    report = score_run(args.run_dir, args.split, args.device, data=args.data, labels=args.labels,
                       fma_subset=args.fma_subset, label_column=args.label_column, audio_column=args.audio_column,
                       shard_url=args.shard_url)
    if int(os.environ.get("RANK", "0")) > 0:  # under torchrun rank 0 reports and writes
        return 0
    print(json.dumps(public(report), indent=2) if args.json else format_report(report))
    sys.stdout.flush()
    write_evaluation(report)  # after printing: an unwritable RUN_DIR loses no figure
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from gtzan_gpu.training import predict_files
    from gtzan_gpu.training.predict import format_prediction, write_timelines

    if args.timeline:
        from gtzan_gpu.outputs import check_output

        check_output(args.timeline, "--timeline", (args.run_dir, *args.files))
    results = predict_files(args.run_dir, args.files, args.device, hop_seconds=args.hop_seconds,
                            timeline=args.timeline is not None or args.json)
    if args.timeline:
        for file, path in write_timelines(args.timeline, results, (args.run_dir, *args.files)):
            print(f"timeline of {file} -> {path}", file=sys.stderr)
    return report_per_file("predict", results, "file", args.json, results, format_prediction)


def _cmd_compare(args: argparse.Namespace) -> int:
    from gtzan_gpu.training.compare import compare_runs, format_comparison

    result = compare_runs(args.run_a, args.run_b, args.split)
    print(json.dumps(result, indent=2) if args.json else format_comparison(result))
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from gtzan_gpu.training.export import PARITY_ATOL, export_run

    from gtzan_gpu.outputs import check_output

    check_output(args.out, "--out", (args.run_dir,))
    done = export_run(args.run_dir, args.format, args.out)
    print(json.dumps(done, indent=2) if args.json else
          f"exported {done['model']} ({done['frontend']} front end, {done['stft_backend']} STFT) as {args.format}"
          f" -> {done['out']} ({done['bytes'] / 2 ** 20:.1f} MiB); parity with PyTorch on a batch of 3: max logit "
          f"difference {done['max_logit_difference']:.1e} (limit {PARITY_ATOL:g}), same argmax")
    return 0


def _add_evaluate_parser(commands) -> None:
    from gtzan_gpu.training.device import DEVICES
    from gtzan_gpu.training.evaluate import EVAL_SPLITS

    evaluate = commands.add_parser("evaluate", help="segment- and track-level figures of a run",
                                   description="Score RUN_DIR's best checkpoint; writes eval_<split>.json and "
                                               "the confusion-matrix, PR-curve, embedding and Grad-CAM PNGs into "
                                               "RUN_DIR, and the same to TensorBoard (RUN_DIR/tb/eval_<split>).")
    evaluate.add_argument("run_dir")
    evaluate.add_argument("--split", choices=EVAL_SPLITS, default="test")
    evaluate.add_argument("--data", help="where the run's corpus is now, if it moved since training")
    add_corpus_arguments(evaluate)
    evaluate.add_argument("--device", choices=DEVICES, default="auto")
    evaluate.add_argument("--json", action="store_true")
    evaluate.set_defaults(run=_cmd_evaluate)


def _add_predict_parser(commands) -> None:
    from gtzan_gpu.training.device import DEVICES

    predict = commands.add_parser("predict", help="genre of audio files with a trained run",
                                  description="Any file soundfile reads (any rate, stereo, any length): "
                                              "segments' logits are averaged; prints the top genre and all "
                                              "probabilities.")
    predict.add_argument("run_dir", metavar="RUN_DIR|MODEL.onnx")
    predict.add_argument("files", nargs="+", metavar="FILE")
    predict.add_argument("--device", choices=DEVICES, default="auto")
    predict.add_argument("--json", action="store_true", help="machine-readable, with each file's timeline")
    predict.add_argument("--hop-seconds", type=float, help="cut a segment every this many seconds (default: the "
                                                           "segment length)")
    predict.add_argument("--timeline", metavar="OUT.png", help="draw genre probabilities over time as a stacked "
                                                               "area plot (several files: OUT_<file>.png)")
    predict.set_defaults(run=_cmd_predict)


def _add_compare_parser(commands) -> None:
    from gtzan_gpu.training.evaluate import EVAL_SPLITS

    compare = commands.add_parser("compare", help="paired test of two evaluated runs on the same tracks",
                                  description="Accuracies side by side and an exact McNemar test at track level "
                                              "(and segment level when both runs use the same segments), from "
                                              "each RUN_DIR's eval_<split>.json; refuses runs on different tracks.")
    compare.add_argument("run_a")
    compare.add_argument("run_b")
    compare.add_argument("--split", choices=EVAL_SPLITS, default="test")
    compare.add_argument("--json", action="store_true")
    compare.set_defaults(run=_cmd_compare)


def _add_export_parser(commands) -> None:
    export = commands.add_parser("export", help="export a run as one raw-audio model (ONNX or TorchScript)",
                                 description="The whole model from waveform (B, T) at the corpus rate to logits, "
                                             "front end included, batch dimension dynamic; checked against PyTorch "
                                             "before it is written. Run an .onnx file with `gtzan-gpu predict "
                                             "MODEL.onnx AUDIO...`.")
    export.add_argument("run_dir")
    export.add_argument("--format", choices=("onnx", "torchscript"), default="onnx")
    export.add_argument("--out", required=True, help="file to write (.onnx or .pt)")
    export.add_argument("--json", action="store_true")
    export.set_defaults(run=_cmd_export)


PARSERS = (_add_evaluate_parser, _add_predict_parser, _add_compare_parser, _add_export_parser)
