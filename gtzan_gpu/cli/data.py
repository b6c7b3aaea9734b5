"""Data commands: ``synth`` (a synthetic corpus), ``scan`` (what of a corpus is usable), ``pack`` (the
decode-once store) and ``split`` (a track-level manifest)."""
from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path

from gtzan_gpu.cli.arguments import add_corpus_arguments, corpus_spec
from gtzan_gpu.errors import GtzanError

log = logging.getLogger("gtzan_gpu")


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
    from gtzan_gpu.data.corpus import report_exclusions
    from gtzan_gpu.data.sources import scan_corpus

    corpus = scan_corpus(corpus_spec(args))
    if not quiet:
        report_exclusions(corpus, log)
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

    spec = corpus_spec(args)
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


def _cmd_shards(args: argparse.Namespace) -> int:
    from gtzan_gpu.data.shards_write import ShardOptions, check_shards_target, write_shards
    from gtzan_gpu.locking import exclusive_lock, remove_if_only_lock

    options = ShardOptions(args.shard_mb, args.audio)
    out = Path(args.out)
    check_shards_target(out, tuple(p for p in (args.data, args.labels, args.manifest) if p))  # before the lock
    created = not out.exists()
    try:
        with exclusive_lock(out, "shards folder"):
            done = write_shards(corpus_spec(args), out, options, args.manifest)
    except BaseException:
        if created:
            remove_if_only_lock(out)
        raise
    print(f"{done['tracks']} tracks in {done['shards']} shard(s) ({done['written']} written, {done['kept']} kept from "
          f"an earlier run); {done['excluded']} excluded -> {done['out']}")
    return 0


def _add_shards_parser(commands) -> None:
    from gtzan_gpu.data.shards_write import AUDIO_FORMATS, ShardOptions

    defaults = ShardOptions()  # the options' one source of defaults and checks

    shards = commands.add_parser("shards", help="write a corpus as WebDataset tar shards (one sample per track)",
                                 description="One sample per track: <key>.flac (the decoded samples at the corpus "
                                             "rate, 16-bit, lossless) and <key>.json (track id, label, split, "
                                             "artist, samples, crc32), plus OUT/shards.json (shards with sha256, "
                                             "labels, tracks). Atomic and resumable; DATA may be any corpus "
                                             "(folder, label table, store, shards, Hugging Face dataset).")
    shards.add_argument("data", help="corpus (folder, label table's audio root, store, shards, HF dataset)")
    add_corpus_arguments(shards)
    shards.add_argument("--manifest", help="split manifest: each track's subset goes into its .json")
    shards.add_argument("--out", required=True, help="folder of shards to write (empty, or shards being written)")
    shards.add_argument("--shard-mb", type=float, default=defaults.shard_mb,
                        help=f"shard size in MB (default: {defaults.shard_mb:g})")
    shards.add_argument("--audio", choices=tuple(AUDIO_FORMATS), default=defaults.audio,
                        help=f"audio member format, 16-bit PCM either way (default: {defaults.audio})")
    shards.set_defaults(run=_cmd_shards)


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


PARSERS = (_add_synth_parser, _add_scan_parser, _add_pack_parser, _add_shards_parser, _add_split_parser)
