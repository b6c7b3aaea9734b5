"""Tool commands: ``bench`` (throughput and the roofline), ``doctor`` (does this machine run our paths) and
``experiment`` (a grid of recipes on a corpus)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from gtzan_gpu.cli.arguments import add_corpus_arguments, corpus_spec, segment_seconds
from gtzan_gpu.errors import GtzanError


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
    spec = corpus_spec(args) if args.data is not None else None
    if spec is None and (args.labels or args.fma_subset or args.label_column or args.audio_column or args.shard_url):
        raise GtzanError("--labels, --fma-subset, --label-column, --audio-column and --shard-url describe --data "
                         "DATA: give --data too")
    result = run_experiment(grid, out, spec, only, args.device)
    print(Path(out, "results.md").read_text())
    print(f"{len(result['cells'])} cell(s) in {out}; TensorBoard: tensorboard --logdir {Path(out) / 'runs'}")
    return 0


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
    experiment.add_argument("--segment-seconds", type=segment_seconds, action="append", metavar="S",
                            help="segment length(s) to run instead of the grid's (repeatable), e.g. 2 for clips "
                                 "of 2-3 s")
    experiment.add_argument("--out", help="output folder (default experiments/results/<grid name>[-Kfold][-xR])")
    experiment.add_argument("--config", default=DEFAULT_GRID,
                            help=f"a grid TOML file or a built-in grid ({', '.join(builtin_grids())}; "
                                 f"default {DEFAULT_GRID})")
    experiment.add_argument("--device", choices=DEVICES, default="auto")
    experiment.set_defaults(run=_cmd_experiment)


PARSERS = (_add_bench_parser, _add_doctor_parser, _add_experiment_parser)
