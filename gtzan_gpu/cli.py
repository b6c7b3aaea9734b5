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
