"""What several commands share, declared once: the corpus's label options, a segment length, paths made absolute
before a run records them, and the report of a command that answers file by file."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable

PATH_OPTIONS = ("data", "labels", "manifest", "weights")
WEIGHT_WORDS = ("none", "imagenet")


def add_corpus_arguments(parser: argparse.ArgumentParser) -> None:
    """``--labels``, ``--fma-subset``, ``--label-column``, ``--audio-column`` and ``--shard-url``, with train's help
    and choices (declared once, on TrainConfig)."""
    from gtzan_gpu.options import choices_of, flag_of, option_names
    from gtzan_gpu.training.config import TrainConfig

    names = option_names(TrainConfig)
    for name, metavar in (("labels", "TABLE"), ("fma_subset", None), ("label_column", "NAME"),
                          ("audio_column", "NAME"), ("shard_url", "PREFIX")):
        field = names[name][1]
        parser.add_argument(flag_of(field), dest=name, choices=choices_of(field), help=field.metadata["help"],
                            metavar=metavar)


def corpus_spec(args: argparse.Namespace):
    """DATA and how it is labelled, as the command line gave them (:func:`add_corpus_arguments`)."""
    from gtzan_gpu.data.catalogue import CorpusSpec

    return CorpusSpec(args.data, args.labels, args.fma_subset, args.label_column, args.audio_column, args.shard_url)


def segment_seconds(text: str) -> float:
    """A ``--segment-seconds`` value, checked against train's bounds (an argparse ``type``)."""
    from gtzan_gpu.training.config import MAX_SEGMENT_SECONDS, MIN_SEGMENT_SECONDS

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not MIN_SEGMENT_SECONDS <= value <= MAX_SEGMENT_SECONDS:
        raise argparse.ArgumentTypeError(f"must be in [{MIN_SEGMENT_SECONDS:g}, {MAX_SEGMENT_SECONDS:g}]")
    return value


def absolute_paths(values: dict) -> dict:
    """Paths given on the command line, made absolute (a run may be resumed or evaluated from elsewhere); a
    pretrained entry keeps its name (``musicnn:MSD_musicnn``), a ``musicnn:FOLDER`` its scheme."""
    from gtzan_gpu.models.pretrained.registry import absolute_weights

    def absolute(key, value):
        if key == "weights":
            return value if value in WEIGHT_WORDS else absolute_weights(value)
        return str(Path(value).resolve()) if key in PATH_OPTIONS else value
    return {key: absolute(key, value) for key, value in values.items()}


def report_per_file(command: str, entries: list[dict], name_key: str, as_json: bool, payload,
                    describe: Callable[[dict], str]) -> int:
    """A file-by-file command's report: each failed entry one line on stderr (``gtzan-gpu COMMAND: FILE: why``),
    then ``payload`` as JSON or the others described; exit status 1 if any failed (the others still answered)."""
    failed = [entry for entry in entries if "error" in entry]
    for entry in failed:
        print(f"gtzan-gpu {command}: {entry[name_key]}: {entry['error']}", file=sys.stderr)
    if as_json:
        print(json.dumps(payload, indent=2))
    else:
        print("\n".join(describe(entry) for entry in entries if "error" not in entry))
    return 1 if failed else 0
