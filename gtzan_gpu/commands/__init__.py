"""Command modules: each registers its subcommands' parsers and holds thin handlers around a library call (the
remaining commands still live in :mod:`gtzan_gpu.cli`), and the arguments several commands share."""
from __future__ import annotations

import argparse


def add_corpus_arguments(parser: argparse.ArgumentParser) -> None:
    """``--labels`` and ``--fma-subset``, with train's help and choices (declared once, on TrainConfig)."""
    from gtzan_gpu.options import choices_of, flag_of, option_names
    from gtzan_gpu.training.config import TrainConfig

    names = option_names(TrainConfig)
    for name in ("labels", "fma_subset"):
        field = names[name][1]
        parser.add_argument(flag_of(field), dest=name, choices=choices_of(field), help=field.metadata["help"],
                            metavar=None if choices_of(field) else "TABLE")
