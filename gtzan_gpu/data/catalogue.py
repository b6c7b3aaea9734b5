"""Where a corpus is and how it is labelled: DATA alone (folder per genre, a packed store, shards, a Hugging Face
dataset with ``--label-column`` / ``--audio-column`` when its columns have other names), or DATA with a label
table (``--labels``, and ``--fma-subset`` for FMA's tracks.csv). Every command that takes DATA takes these."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gtzan_gpu.data.label_table import FMA_SUBSETS, read_label_table
from gtzan_gpu.data.layout import LayoutWalk, walk_layout
from gtzan_gpu.errors import GtzanError


def check_label_options(labels: "str | Path | None", fma_subset: str | None) -> None:
    """``--fma-subset`` is one of FMA's subsets and comes with ``--labels``; a one-line GtzanError otherwise."""
    if fma_subset is None:
        return
    if fma_subset not in FMA_SUBSETS:
        raise GtzanError(f"unknown --fma-subset {fma_subset!r} (choose from {', '.join(FMA_SUBSETS)})")
    if labels is None:
        raise GtzanError("--fma-subset chooses rows of FMA's tracks.csv: give it with --labels TABLE")


@dataclass(frozen=True)
class CorpusSpec:
    """DATA and its optional label table; checked on construction (one line naming the option)."""

    data: Path
    labels: Path | None = None
    fma_subset: str | None = None
    label_column: str | None = None  # a Hugging Face dataset's columns (:mod:`gtzan_gpu.data.hf_dataset`)
    audio_column: str | None = None
    shard_url: str | None = None  # where shards' tars are when not beside their shards.json (:mod:`.shards`)

    def __post_init__(self):
        object.__setattr__(self, "data", Path(self.data))
        if self.labels is not None:
            object.__setattr__(self, "labels", Path(self.labels))
        check_label_options(self.labels, self.fma_subset)

    @classmethod
    def of(cls, data: "str | Path | CorpusSpec", labels: str | Path | None = None,
           fma_subset: str | None = None) -> "CorpusSpec":
        """``data`` as a spec (a spec passes through unchanged when no table is given)."""
        if isinstance(data, CorpusSpec):
            return data if labels is None and fma_subset is None else cls(data.data, labels, fma_subset,
                                                                          data.label_column, data.audio_column,
                                                                          data.shard_url)
        return cls(Path(data), labels, fma_subset)

    def resolved(self) -> "CorpusSpec":
        """The same spec with absolute paths (a run records where its corpus is)."""
        return CorpusSpec(self.data.resolve(), self.labels.resolve() if self.labels else None, self.fma_subset,
                          self.label_column, self.audio_column, self.shard_url)

    def describe(self) -> str:
        """How the corpus is named in messages: 'DATA' or 'DATA labelled by TABLE (FMA small)'."""
        if self.labels is None:
            return str(self.data)
        subset = f" (FMA {self.fma_subset})" if self.fma_subset else ""
        return f"{self.data} labelled by {self.labels}{subset}"


def catalogue_walk(spec: CorpusSpec) -> LayoutWalk:
    """The files of the catalogue ``spec`` names, before decoding: a label table's rows, or the genre folders."""
    if spec.labels is not None:
        return read_label_table(spec.data, spec.labels, spec.fma_subset)
    return walk_layout(spec.data)
