"""The ``gtzan-gpu`` command line: one entry point, a subcommand per job, ``--help`` on each.

User errors (:class:`GtzanError`, bad options) print one line and exit with status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from gtzan_gpu import __version__
from gtzan_gpu.allocator import retain_freed_memory
from gtzan_gpu.commands import add_corpus_arguments
from gtzan_gpu.commands.encoders import add_embed_parser, add_tag_parser
from gtzan_gpu.errors import GtzanError
from gtzan_gpu.plugins import load_all as load_all_plugins

log = logging.getLogger("gtzan_gpu")

PATH_OPTIONS = ("data", "labels", "manifest", "weights")
WEIGHT_WORDS = ("none", "imagenet")


def _cmd_synth(args: argparse.Namespace) -> int:
    from gtzan_gpu.data.synth import write_synthetic_corpus

    if args.layout == "fma":
        return _synth_fma(args)
    root = write_synthetic_corpus(args.out, args.tracks_per_genre, args.seconds, args.seed,
                                  difficulty=args.difficulty)
    print(f"wrote {args.tracks_per_genre} x 10 {args.difficulty} synthetic tracks of {args.seconds:g} s "
          f"(+ corrupted jazz.00054.wav) "
          f"under {root}")
    return 0


def _corpus_spec(args: argparse.Namespace):
    """DATA and its label table, as the command line gave them (``--labels``, ``--fma-subset``)."""
    from gtzan_gpu.data.catalogue import CorpusSpec

    return CorpusSpec(args.data, args.labels, args.fma_subset)


def _synth_fma(args: argparse.Namespace) -> int:
    from gtzan_gpu.data.synth_fma import write_synthetic_fma

    if args.difficulty != "easy":
        raise GtzanError("--difficulty is for the GTZAN layout; the FMA layout draws each genre in its own style")
    done = write_synthetic_fma(args.out, args.tracks_per_genre, args.seconds, args.seed)
    print(f"wrote {done['small_tracks']} synthetic FMA-small tracks of {args.seconds:g} s (8 genres; "
          f"{done['empty_track']}.mp3 empty on purpose) under {done['audio']}, and {done['tracks_csv']} "
          f"({done['other_rows']} more rows of the medium and large subsets)")
    return 0


def _scan(args: argparse.Namespace, quiet: bool = False):
    from gtzan_gpu.data.corpus import scan_corpus

    corpus = scan_corpus(_corpus_spec(args))
    for entry in corpus.excluded:
        if not quiet:
            log.warning("excluded %s: %s", entry.path, entry.reason)
    return corpus


def _cmd_scan(args: argparse.Namespace) -> int:
    from gtzan_gpu.data.corpus import format_summary, summary_json

    corpus = _scan(args, quiet=args.json)
    summary = corpus.summary()
    print(summary_json(summary) if args.json else format_summary(summary))
    return 0


def _cmd_pack(args: argparse.Namespace) -> int:
    from gtzan_gpu.data.store_pack import check_pack_target, pack_corpus
    from gtzan_gpu.locking import exclusive_lock, remove_if_only_lock

    spec = _corpus_spec(args)
    walk = check_pack_target(spec, args.out, args.workers, args.shard_gb)  # before the lock: a refusal leaves nothing
    created = not Path(args.out).exists()
    try:
        with exclusive_lock(args.out, "store"):
            done = pack_corpus(spec, args.out, args.workers, args.shard_gb, walk=walk)
    except BaseException:
        if created:
            remove_if_only_lock(Path(args.out))
        raise
    verb = f"packed {done['packed']} shard(s)," if done["packed"] else "nothing to pack:"
    print(f"{verb} {done['reused']} unchanged; {done['tracks']} tracks, "
          f"{done['excluded']} excluded -> {done['store']}" + ("" if done["changed"] else " (index unchanged)"))
    return 0


def _cmd_split(args: argparse.Namespace) -> int:
    from gtzan_gpu.data.splits import make_split

    from gtzan_gpu.outputs import check_output

    out = Path(args.out)
    if out.is_dir():
        raise GtzanError(f"--out {out} is a directory; give the manifest's file name")
    check_output(out, "--out", tuple(p for p in (args.data, getattr(args, "labels", None)) if p))
    corpus = _scan(args)
    manifest = make_split(corpus, args.scheme, args.seed)
    manifest.check_usable(f"the {args.scheme} split of {corpus.root}")
    manifest.save(out)
    counts = ", ".join(f"{name} {len(ids)}" for name, ids in manifest.subsets.items())
    print(f"{manifest.scheme} split of {corpus.root}: {counts} tracks -> {out}")
    if manifest.not_used:
        print(f"{len(manifest.not_used)} listed track(s) not used (excluded by the scan or absent)")
    return 0


def _absolute_paths(values: dict) -> dict:
    """Paths given on the command line, made absolute (a run may be resumed or evaluated from elsewhere); a
    pretrained entry keeps its name (``musicnn:MSD_musicnn``), a ``musicnn:FOLDER`` its scheme."""
    from gtzan_gpu.models.pretrained.registry import absolute_weights

    def absolute(key, value):
        if key == "weights":
            return value if value in WEIGHT_WORDS else absolute_weights(value)
        return str(Path(value).resolve()) if key in PATH_OPTIONS else value
    return {key: absolute(key, value) for key, value in values.items()}


def _cmd_train(args: argparse.Namespace) -> int:
    from gtzan_gpu.options import given_options, nest
    from gtzan_gpu.training import fit
    from gtzan_gpu.training.checkpoint import load_checkpoint
    from gtzan_gpu.training.config import TrainConfig, resumed_config
    from gtzan_gpu.data.splits import SplitManifest
    from gtzan_gpu.training.run_dir import DEFAULT_RUNS, LAST, check_resumable

    given = _absolute_paths(given_options(args, TrainConfig))
    if args.resume:
        if args.overwrite:
            raise GtzanError("--resume continues a run and --overwrite replaces it: choose one")
        if "out" in given and Path(given["out"]).resolve() != Path(args.resume).resolve():
            raise GtzanError("--resume RUN_DIR names the run directory; leave out --out")
        given.pop("out", None)
        check_resumable(Path(args.resume))
        saved = load_checkpoint(Path(args.resume) / LAST)
        config = resumed_config(TrainConfig.from_dict(saved["config"], source=str(Path(args.resume) / LAST)),
                                given, args.resume)
        summary = fit(config, resume=True)
    else:
        if "data" not in given:
            raise GtzanError("train needs --data DATA (or --resume RUN_DIR)")
        config = TrainConfig(**nest(TrainConfig, given))
        if "out" in given:
            config.out = args.out  # as the user wrote it
        else:  # a folder named for what the run is, so 'tensorboard --logdir runs' compares runs by name
            scheme = SplitManifest.load(config.manifest).scheme if config.manifest else None
            config.out = str(Path(DEFAULT_RUNS) / config.run_name(scheme))
        summary = fit(config, overwrite=args.overwrite)
    if int(os.environ.get("RANK", "0")) > 0:  # under torchrun rank 0 reports
        return 0
    best = summary["best"]
    print(f"best validation accuracy {best['val_accuracy']:.4f} at epoch {best['epoch']} "
          f"({summary['epochs_run']} epoch(s) this run, {len(summary['history'])} in all) -> "
          f"{summary['run_dir']}/best.pt")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from gtzan_gpu.training.evaluate import format_report, public, score_run, write_evaluation

    report = score_run(args.run_dir, args.split, args.device, data=args.data, labels=args.labels,
                       fma_subset=args.fma_subset)
    if int(os.environ.get("RANK", "0")) > 0:  # under torchrun rank 0 reports and writes
        return 0
    print(json.dumps(public(report), indent=2) if args.json else format_report(report))
    sys.stdout.flush()
    write_evaluation(report)  # after printing: an unwritable RUN_DIR loses no figure
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from gtzan_gpu.training import predict_files
    from gtzan_gpu.training.predict import format_prediction

    if args.timeline:
        from gtzan_gpu.outputs import check_output

        check_output(args.timeline, "--timeline", (args.run_dir, *args.files))
    results = predict_files(args.run_dir, args.files, args.device, hop_seconds=args.hop_seconds,
                            timeline=args.timeline is not None or args.json)
    if args.timeline:
        from gtzan_gpu.atomic import atomic_write_bytes
        from gtzan_gpu.figures import png_bytes, timeline_figure

        target = Path(args.timeline)
        usable = [r for r in results if "error" not in r]
        for result in usable:
            path = target if len(usable) == 1 else target.with_name(f"{target.stem}_{Path(result['file']).stem}"
                                                                     f"{target.suffix or '.png'}")
            check_output(path, "--timeline", (args.run_dir, *args.files))
            line = result["timeline"]
            atomic_write_bytes(path, png_bytes(timeline_figure(line["start_seconds"], line["segment_seconds"],
                                                               line["probabilities"], line["genres"],
                                                               f"{Path(result['file']).name}: {result['genre']}")))
            print(f"timeline of {result['file']} -> {path}", file=sys.stderr)
    for result in results:
        if "error" in result:
            print(f"gtzan-gpu predict: {result['file']}: {result['error']}", file=sys.stderr)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print("\n".join(format_prediction(r) for r in results if "error" not in r))
    return 1 if any("error" in r for r in results) else 0


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


def _cmd_demo(args: argparse.Namespace) -> int:
    from gtzan_gpu.demo import DemoConfig, run_demo

    run_demo(DemoConfig(out=args.out, epochs=args.epochs, device=args.device))
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from gtzan_gpu.bench import BenchConfig, run_benchmarks
    from gtzan_gpu.bench.machine import device_slug
    from gtzan_gpu.bench.report import render_markdown, write_report
    from gtzan_gpu.training.device import resolve_device

    from gtzan_gpu.bench.run import STAGES

    if args.render:  # re-draw the table and plot of a measured report; measures nothing
        from gtzan_gpu.bench.report import load_report

        if args.quick or args.stages or args.out:
            raise GtzanError("--render re-draws an existing report and measures nothing: leave out --quick, "
                             "--stages and --out")

        report = load_report(args.render)
        written = write_report(report, Path(args.render), rewrite_json=False)
        print("wrote " + ", ".join(str(p) for p in written.values()))
        return 0
    stages = tuple(dict.fromkeys(part for item in (args.stages or []) for part in item.split(",") if part))
    unknown = [stage for stage in stages if stage not in STAGES]
    if unknown:
        raise GtzanError(f"unknown --stages {', '.join(unknown)} (choose from {', '.join(STAGES)})")
    device = resolve_device(args.device)
    if args.out:  # checked before minutes of measuring: the report's .json, .md and .png never overwrite an input
        from gtzan_gpu.outputs import check_output

        for path in (Path(args.out), *(Path(args.out).with_suffix(suffix) for suffix in (".md", ".png"))):
            check_output(path, "--out")  # the JSON is written where --out says, the table and plot beside it
    config = BenchConfig.preset(device, args.quick)
    if stages:
        config.stages = stages
    report = run_benchmarks(config, device)
    out = Path(args.out) if args.out else Path("benchmarks/results") / f"{device_slug(device)}.json"
    written = write_report(report, out)
    print(render_markdown(report))
    print("wrote " + ", ".join(str(p) for p in written.values()))
    return 0


def _cmd_doctor(args: argparse.Namespace) -> int:
    from gtzan_gpu.doctor import environment_facts, run_doctor
    from gtzan_gpu.doctor.checks import results_json
    from gtzan_gpu.training.device import resolve_device

    device = resolve_device(args.device)
    facts = environment_facts(device)
    if not args.json:
        print("environment")
        for key, value in facts.items():
            print(f"  {key:<16} {value}")
        print("checks")
    results = []
    for result in run_doctor(device, args.compile):
        results.append(result)
        if not args.json:
            print(f"  {'PASS' if result.passed else 'FAIL'}  {result.name} ({result.seconds:.1f} s): {result.detail}",
                  flush=True)
    failed = [r.name for r in results if not r.passed]
    if args.json:
        print(json.dumps({"environment": facts, "checks": results_json(results), "passed": not failed}, indent=2))
    else:
        print(f"{len(results) - len(failed)} passed, {len(failed)} failed" + (f": {', '.join(failed)}" if failed
                                                                             else ""))
    return 1 if failed else 0


def _cmd_experiment(args: argparse.Namespace) -> int:
    from gtzan_gpu.experiment import load_grid, run_experiment

    if args.data is None and not args.quick:
        raise GtzanError("experiment needs --data DATA (or --quick, which makes a synthetic corpus)")
    grid = load_grid(args.config, quick=args.quick, folds=args.folds, repeats=args.repeats,
                     segment_seconds=args.segment_seconds)
    suffix = (f"-{args.folds}fold" if args.folds else "") + (f"-x{args.repeats}" if args.repeats else "")
    out = args.out or f"experiments/results/{grid.name}{suffix}"
    only = [item for part in (args.only or []) for item in part.split(",") if item]
    spec = _corpus_spec(args) if args.data is not None else None
    if spec is None and (args.labels or args.fma_subset):
        raise GtzanError("--labels and --fma-subset describe --data DATA: give --data too")
    result = run_experiment(grid, out, spec, only, args.device)
    print(Path(out, "results.md").read_text())
    print(f"{len(result['cells'])} cell(s) in {out}; TensorBoard: tensorboard --logdir {Path(out) / 'runs'}")
    return 0


def _segment_seconds(text: str) -> float:
    """``experiment --segment-seconds`` value, checked against train's bounds."""
    from gtzan_gpu.training.config import MAX_SEGMENT_SECONDS, MIN_SEGMENT_SECONDS

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not MIN_SEGMENT_SECONDS <= value <= MAX_SEGMENT_SECONDS:
        raise argparse.ArgumentTypeError(f"must be in [{MIN_SEGMENT_SECONDS:g}, {MAX_SEGMENT_SECONDS:g}]")
    return value


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

def _add_synth_parser(commands) -> None:
    synth = commands.add_parser("synth", help="write a synthetic corpus in the Kaggle GTZAN layout (or FMA's)",
                                description="Write OUT/genres_original/<genre>/<genre>.000NN.wav (22,050 Hz, "
                                            "16-bit mono) whose genres a spectrogram CNN can learn; with --layout "
                                            "fma: OUT/fma_small/NNN/NNNNNN.mp3 and OUT/fma_metadata/tracks.csv "
                                            "in FMA's form (8 genres, artists, the official split, rows of the "
                                            "bigger subsets, one empty mp3).")
    synth.add_argument("out", help="output folder")
    synth.add_argument("--layout", choices=("gtzan", "fma"), default="gtzan",
                       help="gtzan: the Kaggle GTZAN folders; fma: FMA-small's mp3 folders and tracks.csv "
                            "(default: gtzan)")
    synth.add_argument("--tracks-per-genre", type=int, default=10, help="tracks per genre (default: 10)")
    synth.add_argument("--seconds", type=float, default=30.0, help="track length (default: 30, as GTZAN and FMA)")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--difficulty", choices=("easy", "hard"), default="easy",
                       help="easy: each genre its own style (a CNN nears 1.0); hard: every track's style is blended "
                            "with another genre's, in its own key and mix, so recipes can be ranked (default: easy)")
    synth.set_defaults(run=_cmd_synth)


def _add_scan_parser(commands) -> None:
    scan = commands.add_parser("scan", help="decode every file of a corpus and report what is usable",
                               description="Validate a corpus by decoding every file; list exclusions.")
    scan.add_argument("data", help="corpus folder (Kaggle, tarball or folder-per-genre layout; with --labels: "
                                   "the audio root)")
    add_corpus_arguments(scan)
    scan.add_argument("--json", action="store_true", help="machine-readable output")
    scan.set_defaults(run=_cmd_scan)


def _add_pack_parser(commands) -> None:
    pack = commands.add_parser("pack", help="decode a corpus once into int16 shards (a STORE)",
                               description="Decode every track once (downmix, resample) into memory-mappable "
                                           "int16 .npy shards plus an index; every command that takes DATA takes "
                                           "the STORE too. Resumes where it stopped; an unchanged corpus is not "
                                           "packed again; a changed file re-packs its shard.")
    pack.add_argument("data", help="corpus folder")
    add_corpus_arguments(pack)
    pack.add_argument("--out", required=True, help="store folder")
    pack.add_argument("--workers", type=int, default=max(1, min(8, os.cpu_count() or 1)),
                      help="decoding processes (default: the CPU count, at most 8)")
    pack.add_argument("--shard-gb", type=float, default=2.0, help="shard size in GB (default: 2)")
    pack.set_defaults(run=_cmd_pack)


def _add_split_parser(commands) -> None:
    from gtzan_gpu.data.splits import SCHEMES

    split = commands.add_parser("split", help="write a track-level train/val/test manifest",
                                description="Split the validated tracks at track level into a JSON manifest.")
    split.add_argument("data", help="corpus folder")
    add_corpus_arguments(split)
    split.add_argument("--out", required=True, help="manifest JSON to write")
    split.add_argument("--scheme", choices=SCHEMES, default="random",
                       help="random: per genre, seeded; fault-filtered: Sturm's GTZAN lists; given: the label "
                            "table's split column (FMA's official split); artist: seeded, no artist on two sides "
                            "(default: random)")
    split.add_argument("--seed", type=int, default=42)
    split.set_defaults(run=_cmd_split)


def _add_train_parser(commands) -> None:
    from gtzan_gpu.models.registry import model_names

    train = commands.add_parser("train", help=f"train {', '.join(model_names())} from raw audio",
                                description="Train a GenreClassifier; model selection on the validation "
                                            "tracks only; last.pt and best.pt written atomically each epoch.")
    _add_train_arguments(train)
    train.set_defaults(run=_cmd_train)


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


def _add_demo_parser(commands) -> None:
    from gtzan_gpu.training.device import DEVICES

    demo = commands.add_parser("demo", help="synthesise a corpus, train the CNN, evaluate and predict",
                               description="The main job on the built-in synthetic corpus (a few minutes on CPU).")
    demo.add_argument("--out", default="runs/demo")
    demo.add_argument("--epochs", type=int, default=8)
    demo.add_argument("--device", choices=DEVICES, default="auto")
    demo.set_defaults(run=_cmd_demo)


def _add_bench_parser(commands) -> None:
    from gtzan_gpu.bench.run import STAGES
    from gtzan_gpu.training.device import DEVICES

    bench = commands.add_parser("bench", help="feature-extraction, loading and training throughput",
                                description="Run the standard benchmark set; write raw JSON, a markdown table "
                                            "and a PNG plot (default benchmarks/results/<device>.json).")
    bench.add_argument("--quick", action="store_true", help="a small set (about 2 minutes on a 2-core CPU)")
    bench.add_argument("--out", help="JSON file to write (the .md and .png go beside it)")
    bench.add_argument("--render", metavar="JSON", help="measure nothing: re-draw the .md table and .png plot "
                                                        "beside a report JSON a bench run wrote")
    bench.add_argument("--stages", action="append", metavar="STAGE[,STAGE]",
                       help=f"run only these stages: {', '.join(STAGES)}")
    bench.add_argument("--device", choices=DEVICES, default="auto")
    bench.set_defaults(run=_cmd_bench)


def _add_doctor_parser(commands) -> None:
    from gtzan_gpu.training.device import DEVICES

    doctor = commands.add_parser("doctor", help="check that this machine runs the project's own paths",
                                 description="Print the environment, then run each check on the device with a tiny "
                                             "synthetic batch (feature layers vs CPU, no host sync, fp32 conv STFT "
                                             "and CQT, training steps of every model, checkpoint round trip, a 2-rank "
                                             "DDP step, throughput). Exit 1 when a check fails.")
    doctor.add_argument("--device", choices=DEVICES, default="auto")
    doctor.add_argument("--compile", action="store_true", help="also torch.compile the models in the training check")
    doctor.add_argument("--json", action="store_true")
    doctor.set_defaults(run=_cmd_doctor)


def _add_experiment_parser(commands) -> None:
    from gtzan_gpu.experiment.grid import DEFAULT_GRID, builtin_grids
    from gtzan_gpu.training.device import DEVICES

    experiment = commands.add_parser("experiment", help="run the seed study's grid (models x segment lengths)",
                                     description="Run every cell of a grid config (skipping finished ones), then "
                                                 "write results.json, results.md, bar charts and the confusion "
                                                 "matrix of the best cell on validation.")
    experiment.add_argument("--data", help="corpus folder (not needed with --quick)")
    add_corpus_arguments(experiment)
    experiment.add_argument("--quick", action="store_true",
                            help="the whole grid on a small synthetic corpus, on CPU in a few minutes")
    experiment.add_argument("--only", action="append", metavar="MODEL:SECONDS",
                            help="run only these cells, e.g. resnet18:5 (repeatable or comma-separated)")
    experiment.add_argument("--folds", type=int, metavar="K",
                            help="stratified track-level K-fold instead of the grid's schemes (each track in test "
                                 "once; validation carved from the training folds; not with fault-filtered)")
    experiment.add_argument("--repeats", type=int, metavar="R", help="repeat every split with R seeds "
                                                                    "(split_seed, split_seed + 1, ...)")
    experiment.add_argument("--segment-seconds", type=_segment_seconds, action="append", metavar="S",
                            help="segment length(s) to run instead of the grid's (repeatable), e.g. 2 for clips "
                                 "of 2-3 s")
    experiment.add_argument("--out", help="output folder (default experiments/results/<grid name>[-Kfold][-xR])")
    experiment.add_argument("--config", default=DEFAULT_GRID,
                            help=f"a grid TOML file or a built-in grid ({', '.join(builtin_grids())}; "
                                 f"default {DEFAULT_GRID})")
    experiment.add_argument("--device", choices=DEVICES, default="auto")
    experiment.set_defaults(run=_cmd_experiment)


def _add_launch_parser(commands) -> None:
    """Listed for ``gtzan-gpu --help`` only: ``main`` hands ``launch`` its words before any parsing."""
    commands.add_parser("launch", help="run train or evaluate as torchrun ranks, failing as one process does",
                        add_help=False)


COMMAND_PARSERS = (_add_synth_parser, _add_scan_parser, _add_pack_parser, _add_split_parser, _add_train_parser,
                   _add_evaluate_parser, _add_predict_parser, _add_compare_parser, _add_export_parser,
                   _add_demo_parser, _add_bench_parser, _add_doctor_parser, _add_experiment_parser,
                   _add_launch_parser, add_tag_parser, add_embed_parser)


def build_parser() -> argparse.ArgumentParser:
    """The ``gtzan-gpu`` command line: one ``_add_<command>_parser`` per subcommand (``COMMAND_PARSERS``), each
    beside nothing but its own arguments; ``-q`` / ``-v`` work before or after the command."""
    parser = OneLineErrorParser(
        prog="gtzan-gpu",
        description="Music-genre classification on GTZAN-style corpora, features computed on the GPU.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only; no progress bars")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add_command_parser in COMMAND_PARSERS:
        add_command_parser(commands)
    parser.command_parsers = commands.choices
    for command in commands.choices.values():  # -q / -v after the command too (`evaluate RUN -q`)
        command.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="debug logging")
        command.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                             help="warnings and errors only; no progress bars")
    return parser


class OneLineErrorParser(argparse.ArgumentParser):
    """argparse with its errors on one line (``gtzan-gpu train: error: ... (see --help)``), exit status 2, as every
    other bad input; subcommand parsers inherit it."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


GLOBAL_FLAGS = ("-q", "--quiet", "-v", "--verbose")


def _launch_argv(argv: list[str]) -> tuple[list[str], bool] | None:
    """``launch``'s own words and whether -v was given, when the command is ``launch`` (its words are torchrun's
    options and another command's, which no parser here knows), else None."""
    flags = 0
    while flags < len(argv) and argv[flags] in GLOBAL_FLAGS:
        flags += 1
    if argv[flags:flags + 1] != ["launch"]:
        return None
    return argv[flags + 1:], any(flag in ("-v", "--verbose") for flag in argv[:flags])


def _run_launch(argv: list[str], verbose: bool) -> int:
    from gtzan_gpu.launch import launch

    try:
        return launch(argv, verbose)
    except GtzanError as error:
        print(f"gtzan-gpu launch: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("gtzan-gpu launch: interrupted", file=sys.stderr)
        return 130


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    launched = _launch_argv(argv)
    if launched is not None:
        return _run_launch(*launched)
    retain_freed_memory()  # CPU batches reuse freed host memory instead of faulting fresh pages (allocator.py)
    load_all_plugins()  # the user's own models and front ends (entry points), before the choices are read
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # named by the command that was given: `gtzan-gpu train: error: unrecognized arguments: ...`
        parser.command_parsers[args.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    # our own loggers at the chosen level; libraries (onnxscript, torch.onnx, ...) say only warnings and errors
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s: %(message)s", stream=sys.stderr)
    logging.getLogger("gtzan_gpu").setLevel(level)
    log.setLevel(level)  # also when logging was configured before (an embedding program, pytest)
    rank, world_size = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    try:
        return args.run(args)
    except GtzanError as error:
        # under torchrun an error every rank meets (bad input, a refused resume) is said once, by rank 0; an
        # error of one rank's own data or numbers is said by that rank
        if rank == 0 or getattr(error, "rank_specific", False):
            prefix = f"rank {rank}: " if world_size > 1 and rank > 0 else ""
            print(f"gtzan-gpu {args.command}: error: {prefix}{error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"gtzan-gpu {args.command}: interrupted", file=sys.stderr)
        return 130
    except RuntimeError as error:
        if world_size == 1 or not lost_peer(error):
            raise
        print(f"gtzan-gpu {args.command}: error: rank {rank} stopped: another rank failed first (its error is "
              f"above)", file=sys.stderr)
        return 1


def lost_peer(error: RuntimeError) -> bool:
    """Whether ``error`` is a collective that failed because a peer process went away (gloo, nccl, the store)."""
    text = str(error)
    return type(error).__name__ in ("DistBackendError", "DistNetworkError", "DistStoreError") or any(
        sign in text for sign in ("Connection reset by peer", "Connection closed by peer", "Broken pipe",
                                  "NCCL communicator was aborted", "Socket Timeout"))
