"""Hugging Face ``datasets`` as DATA: a folder written by ``save_to_disk`` (a Dataset, or a DatasetDict whose splits
become the tracks' given split) or a folder of its Parquet files (``train-00000-of-00001.parquet``, under
``data/`` as on the Hub), with an ``Audio`` column and a label column.

The audio column is read as ``Audio(decode=False)`` (``{bytes, path}`` structs) and decoded with soundfile as every
other file here (``datasets`` would need torchcodec to decode). Every row's audio is decoded once by the scan, as a
catalogue's files are; a row whose audio is missing or does not decode, or that has no label, is excluded with the
reason. Labels are a ``ClassLabel``'s names (in its order) or strings; ``--label-column`` / ``--audio-column``
name the columns when they are not found (the only ClassLabel / Audio column, else ``label`` / ``audio``). Track
ids come from a ``track_id`` or ``id`` column, else the audio's file name when those are unique, else the row.
Needs the ``formats`` extra (``datasets``); without it, a one-line error says so.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import torch

from gtzan_gpu.data.audio import AudioDecodeError, decode_bytes_validated, resampled_length, to_int16
from gtzan_gpu.data.catalogue import CorpusSpec
from gtzan_gpu.data.corpus import Corpus, CorpusSource, Track
from gtzan_gpu.data.layout import ExcludedFile
from gtzan_gpu.data.segments import TrackSource
from gtzan_gpu.errors import GtzanError, optional_module
from gtzan_gpu.progress import progress

SPLIT_NAMES = {"train": "train", "validation": "val", "valid": "val", "val": "val", "dev": "val", "test": "test"}
ID_COLUMNS = ("track_id", "id")


def _datasets():
    return optional_module("datasets", "reading a Hugging Face dataset needs the datasets package", "formats")


def _parquet_files(path: Path) -> list[Path]:
    return sorted(list(path.glob("*.parquet")) + list(path.glob("data/*.parquet")))


def is_hf_dataset(path: Path) -> bool:
    """A folder ``save_to_disk`` wrote (``state.json`` / ``dataset_dict.json``) or one of Parquet files."""
    path = Path(path)
    return path.is_dir() and ((path / "state.json").is_file() or (path / "dataset_dict.json").is_file()
                              or bool(_parquet_files(path)))


@dataclass
class HFPart:
    """One table of the dataset (a saved split, or a Parquet file), opened on first use in each process (a
    DataLoader worker reopens it: the memory map is not pickled)."""

    location: Path
    kind: str  # "disk" (save_to_disk) or "parquet"
    split: str | None = None
    _table: object = field(default=None, repr=False, compare=False)

    def __getstate__(self):
        return {**self.__dict__, "_table": None}

    def table_and_features(self):
        datasets = _datasets()
        if self.kind == "disk":
            dataset = datasets.load_from_disk(str(self.location))
            return dataset.data.table, dataset.features
        import pyarrow.parquet as pq

        table = pq.read_table(self.location, memory_map=True)
        return table, datasets.Features.from_arrow_schema(table.schema)

    def audio_of(self, row: int, column: str) -> dict | None:
        if self._table is None:
            self._table = self.table_and_features()[0]
        return self._table.slice(row, 1).column(column)[0].as_py()


def _audio_bytes(value: dict | None, root: Path) -> bytes:
    """The encoded audio of one ``{bytes, path}`` cell (a path is read when the bytes are not embedded)."""
    if not value or (value.get("bytes") is None and not value.get("path")):
        raise AudioDecodeError("no audio in this row")
    if value.get("bytes") is not None:
        return value["bytes"]
    path = Path(value["path"]) if Path(value["path"]).is_absolute() else root / value["path"]
    try:
        return path.read_bytes()
    except OSError as error:
        raise AudioDecodeError(f"its audio file {value['path']} cannot be read ({error.strerror})") from None


@dataclass(frozen=True)
class HFTrack(TrackSource):
    """A row of a Hugging Face dataset: its audio cell decoded on read."""

    kind: ClassVar[str] = "hf"
    part: HFPart | None = None
    row: int = 0
    column: str = "audio"

    def read_int16(self, sample_rate: int) -> torch.Tensor:
        try:
            data = _audio_bytes(self.part.audio_of(self.row, self.column), self.path)
            return to_int16(decode_bytes_validated(data, sample_rate)[1])
        except AudioDecodeError as error:
            raise GtzanError(f"{self.path}: track {self.track_id!r} does not decode ({error})") from None

    def read_float(self, start: int, length: int, sample_rate: int, cache: dict | None = None) -> torch.Tensor:
        return self.segment_of_whole(start, length, sample_rate, cache, ("hf", str(self.part.location), self.row))


class HFReader:
    """The sample reader of a dataset's corpus (``Corpus.store``): each track's part and row."""

    def __init__(self, root: Path, rows: dict[str, tuple[HFPart, int]], tracks: dict[str, Track], column: str):
        self.root, self.rows, self.tracks, self.column = root, rows, tracks, column

    def track_source(self, track_id: str, label: int, sample_rate: int) -> HFTrack:
        (part, row), track = self.rows[track_id], self.tracks[track_id]
        return HFTrack(track_id, label, self.root, track.sample_rate,
                       resampled_length(track.frames, track.sample_rate, sample_rate), part, row, self.column)


def _parts(root: Path) -> list[HFPart]:
    if (root / "dataset_dict.json").is_file():
        splits = json.loads((root / "dataset_dict.json").read_text()).get("splits", [])
        return [HFPart(root / name, "disk", SPLIT_NAMES.get(name)) for name in splits]
    if (root / "state.json").is_file():
        return [HFPart(root, "disk")]
    return [HFPart(path, "parquet", SPLIT_NAMES.get(path.name.split("-")[0].split(".")[0]))
            for path in _parquet_files(root)]


def _column(features, given: str | None, kind: str, default: str, option: str, root: Path) -> str:
    datasets = _datasets()
    wanted = datasets.Audio if kind == "audio" else datasets.ClassLabel
    if given is not None:
        if given not in features:
            raise GtzanError(f"{option} {given!r} is not a column of {root} (columns: {', '.join(features)})")
        return given
    typed = [name for name, feature in features.items() if isinstance(feature, wanted)]
    if len(typed) == 1:
        return typed[0]
    for name in (default, "genre") if kind == "label" else (default,):
        if name in features:
            return name
    raise GtzanError(f"{root} has no {kind} column {default!r} (columns: {', '.join(features)}); name it with "
                     f"{option}")


def open_hf_corpus(spec: CorpusSpec) -> Corpus | None:
    """The corpus source's opener: the Corpus of a Hugging Face dataset folder, or None when DATA is not one."""
    root = Path(spec.data)
    if not is_hf_dataset(root):
        return None
    if spec.labels is not None:
        raise GtzanError(f"{root} is a Hugging Face dataset, whose label column labels it; leave out --labels "
                         f"(--label-column names the column)")
    return HFScan(root, spec.label_column, spec.audio_column).corpus()


class HFScan:
    """One pass over every part of the dataset at ``root``: labels, ids and each row's audio decoded once."""

    def __init__(self, root: Path, label_column: str | None, audio_column: str | None):
        self.root, self.label_column, self.audio_column = root, label_column, audio_column
        self.tracks: dict[str, Track] = {}
        self.rows: dict[str, tuple[HFPart, int]] = {}
        self.excluded: list[ExcludedFile] = []
        self.names: list[str] = []

    def corpus(self) -> Corpus:
        parts = _parts(self.root)
        if not parts:
            raise GtzanError(f"{self.root} holds no dataset split or Parquet file")
        audio = None
        for part in parts:
            table, features = part.table_and_features()
            audio = _column(features, self.audio_column, "audio", "audio", "--audio-column", self.root)
            label = _column(features, self.label_column, "label", "label", "--label-column", self.root)
            self._scan_part(part, table, features, audio, label)
        genres = [name for name in self.names if any(t.genre == name for t in self.tracks.values())]
        return Corpus(root=self.root, genres=genres, tracks=list(self.tracks.values()), excluded=self.excluded,
                      store=HFReader(self.root, self.rows, self.tracks, audio))

    def _labels(self, table, features, label: str) -> list[str | None]:
        values = table.column(label).to_pylist()
        names = getattr(features[label], "names", None)
        if names:
            self.names += [n for n in names if n not in self.names]
            return [names[v] if isinstance(v, int) and 0 <= v < len(names) else None for v in values]
        found = [None if v is None or str(v).strip() == "" else str(v) for v in values]
        self.names = sorted(set(self.names) | {v for v in found if v is not None})
        return found

    def _ids(self, table, audio: str, part: HFPart) -> list[str]:
        import pyarrow.compute as pc

        column = next((c for c in ID_COLUMNS if c in table.column_names), None)
        if column is not None:
            return [str(v) for v in table.column(column).to_pylist()]
        stems = [Path(p).stem if p else "" for p in pc.struct_field(table.column(audio), "path").to_pylist()]
        if all(stems) and len(set(stems)) == len(stems):
            return stems
        prefix = f"{part.split}-" if part.split else ""
        return [f"{prefix}{row:06d}" for row in range(table.num_rows)]

    def _scan_part(self, part: HFPart, table, features, audio: str, label: str) -> None:
        labels, ids = self._labels(table, features, label), self._ids(table, audio, part)
        artists = table.column("artist").to_pylist() if "artist" in table.column_names else [None] * table.num_rows
        where = part.location.name if part.location != self.root else self.root.name
        for row in progress(range(table.num_rows), table.num_rows, f"scanning {part.location}", "row"):
            name = f"{where}#row{row}"
            if labels[row] is None:
                self.excluded.append(ExcludedFile(name, f"no label in column {label!r}"))
                continue
            if ids[row] in self.tracks:
                self.excluded.append(ExcludedFile(name, f"a second row of track id {ids[row]!r}"))
                continue
            try:
                info, _ = decode_bytes_validated(_audio_bytes(part.audio_of(row, audio), self.root), None)
            except AudioDecodeError as error:
                self.excluded.append(ExcludedFile(name, str(error)))
                continue
            artist = str(artists[row]) if artists[row] not in (None, "") else None
            self.tracks[ids[row]] = Track(ids[row], labels[row], name, info.sample_rate, info.channels, info.frames,
                                          artist, part.split)
            self.rows[ids[row]] = (part, row)


HF_SOURCE = CorpusSource("hf", "a Hugging Face dataset (save_to_disk folder or Parquet files) with an Audio "
                               "column and a label column", open_hf_corpus, is_hf_dataset)
