"""Encoder commands: ``gtzan-gpu tag`` (a pretrained tagger's tags of files) and ``gtzan-gpu embed`` (a pretrained
encoder's embeddings of a corpus)."""
from __future__ import annotations

import argparse

from gtzan_gpu.cli.arguments import report_per_file


def _cmd_tag(args: argparse.Namespace) -> int:
    from gtzan_gpu.training.tagging import format_tags, tag_files

    result = tag_files(args.files, args.weights, args.top, args.device, args.patch_seconds, args.stft_backend)
    return report_per_file("tag", result["files"], "path", args.json, result, format_tags)


def _add_tag_parser(commands) -> None:
    from gtzan_gpu.features.stft import STFT_BACKENDS
    from gtzan_gpu.models.pretrained.registry import weights_names
    from gtzan_gpu.training.device import DEVICES
    from gtzan_gpu.training.tagging import REFERENCE_PATCH_SECONDS

    tag = commands.add_parser("tag", help="a pretrained tagger's top tags of audio files (musicnn, no TensorFlow)",
                              description="Tags as the musicnn reference computes them: the file's log-mel at 16 "
                                          "kHz cut into 3-s patches without overlap, the tagger's sigmoid, the mean "
                                          "over patches. Any file soundfile reads; a file that cannot be read is "
                                          "one line and the others are still tagged (exit 1 if any failed).")
    tag.add_argument("files", nargs="+", metavar="FILE")
    tag.add_argument("--weights", required=True, help=f"a pretrained tagger: {', '.join(weights_names())}, or "
                                                      f"musicnn:FOLDER")
    tag.add_argument("--top", type=int, default=3, help="tags per file (default 3, as musicnn's top_tags)")
    tag.add_argument("--patch-seconds", type=float, default=REFERENCE_PATCH_SECONDS,
                     help="patch length (default 3 s, what the models were trained on)")
    tag.add_argument("--stft-backend", choices=STFT_BACKENDS, default="torch")
    tag.add_argument("--device", choices=DEVICES, default="auto")
    tag.add_argument("--json", action="store_true", help='{"weights": ..., "files": [{"path": ..., "top": '
                                                         '[{"tag": ..., "probability": ...}]}]}')
    tag.set_defaults(run=_cmd_tag)


def _cmd_embed(args: argparse.Namespace) -> int:
    from gtzan_gpu.cli.arguments import corpus_spec
    from gtzan_gpu.training.embeddings import embed_corpus

    summary = embed_corpus(corpus_spec(args), args.weights, args.out,
                           args.embedding, args.segment_seconds, args.hop_seconds, args.manifest, args.device,
                           stft_backend=args.stft_backend)
    print(f"{summary['tracks']} tracks, {summary['segments']} segments of {args.segment_seconds:g} s: "
          f"{summary['layer']} embeddings ({summary['width']} wide) of {summary['weights']} -> {summary['out']}")
    return 0


def _add_embed_parser(commands) -> None:
    from gtzan_gpu.cli.arguments import add_corpus_arguments
    from gtzan_gpu.features.stft import STFT_BACKENDS
    from gtzan_gpu.models.pretrained.registry import weights_names
    from gtzan_gpu.training.device import DEVICES

    embed = commands.add_parser("embed", help="a pretrained encoder's embeddings of a corpus, to an .npz",
                                description="One embedding per track (the mean of its segments') and per segment "
                                            "(with its start time), with track ids, labels and the split, in one "
                                            ".npz for scikit-learn or any other tool. The scan's exclusions apply.")
    embed.add_argument("data", metavar="DATA")
    add_corpus_arguments(embed)
    embed.add_argument("--weights", required=True, help=f"{', '.join(weights_names())}, or musicnn:FOLDER")
    embed.add_argument("--out", required=True, metavar="FILE.npz", help="never overwritten")
    embed.add_argument("--embedding", help="the encoder's layer (musicnn: penultimate, the default, or pooled)")
    embed.add_argument("--segment-seconds", type=float, default=3.0, help="segment length (default 3 s)")
    embed.add_argument("--hop-seconds", type=float, help="segment hop (default: the segment length)")
    embed.add_argument("--manifest", help="split manifest: each track's subset goes into the file")
    embed.add_argument("--stft-backend", choices=STFT_BACKENDS, default="torch")
    embed.add_argument("--device", choices=DEVICES, default="auto")
    embed.set_defaults(run=_cmd_embed)
PARSERS = (_add_tag_parser, _add_embed_parser)
