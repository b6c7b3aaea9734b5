"""Corpus sources: the kinds of DATA other than a catalogue to decode, and :func:`scan_corpus`, which asks each.

A source is a :class:`CorpusSource`: a name, a line for ``--help`` and the docs, and an ``opener(spec)`` that
returns the :class:`~gtzan_gpu.data.corpus.Corpus` when ``spec.data`` is of its kind, else None. The built-in
sources are registered here, explicitly and in the order they are tried; a plugin adds one through the
``gtzan_gpu.corpus_sources`` entry-point group (:mod:`gtzan_gpu.plugins`). A catalogue (genre folders, or DATA
with a label table) is the fallback, every file decoded (:func:`~gtzan_gpu.data.corpus.scan_folder`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from gtzan_gpu.data.catalogue import CorpusSpec
from gtzan_gpu.data.corpus import Corpus, CorpusSource, scan_folder
from gtzan_gpu.data.hf_dataset import HF_SOURCE
from gtzan_gpu.data.shards import SHARDS_SOURCE
from gtzan_gpu.data.store import STORE_SOURCE
from gtzan_gpu.errors import GtzanError

CORPUS_SOURCES: dict[str, CorpusSource] = {}


def register_corpus_source(source: CorpusSource) -> None:
    """Teach :func:`scan_corpus` another kind of DATA; sources are tried in registration order."""
    if not isinstance(source, CorpusSource):
        raise GtzanError(f"a corpus source must be a CorpusSource, not a {type(source).__name__}")
    if source.name in CORPUS_SOURCES:
        raise GtzanError(f"corpus source {source.name!r} is already registered")
    CORPUS_SOURCES[source.name] = source


for _built_in in (STORE_SOURCE, SHARDS_SOURCE, HF_SOURCE):
    register_corpus_source(_built_in)


def recognised_source(spec: CorpusSpec) -> CorpusSource | None:
    """The source whose ``recognises`` claims ``spec.data`` from its path alone, if any (nothing is opened)."""
    return next((s for s in CORPUS_SOURCES.values() if s.recognises is not None and s.recognises(spec.data)), None)


def scan_corpus(data: "str | Path | CorpusSpec", on_file: Callable[[str], None] | None = None, *,
                labels: str | Path | None = None, fma_subset: str | None = None) -> Corpus:
    """The Corpus at ``data`` (labelled by the table ``labels`` when given): the first source's that knows it (a
    STORE made by ``gtzan-gpu pack``: its index is read, nothing decoded), else the catalogue with every audio
    file decoded."""
    spec = CorpusSpec.of(data, labels, fma_subset)
    for source in CORPUS_SOURCES.values():
        corpus = source.opener(spec)
        if corpus is not None:
            return corpus
    if spec.shard_url:
        raise GtzanError(f"--shard-url says where the shards of a shards.json are; {spec.data} holds none")
    if spec.label_column or spec.audio_column:
        raise GtzanError(f"--label-column and --audio-column name columns of a Hugging Face dataset; {spec.data} "
                         f"is not one")
    return scan_folder(spec, on_file)
