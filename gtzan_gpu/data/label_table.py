"""Catalogues given as a table: audio anywhere under DATA, labels (and artists, a split) in a CSV/TSV or FMA's
``tracks.csv``.

A plain table has a header row naming its columns (any order, any case)::

    path,label,split,artist,id         path: relative to DATA, or absolute; label: the class, used as given
    blues/a.wav,blues,train,Ann,       split (optional): train / val / test, or training / validation / test
                                       artist (optional): groups tracks for artist-aware splits
                                       id (optional): the track id (default: the path without its extension)

A ``.tsv`` file, or a header with tabs and no commas, is read tab-separated.

FMA's ``fma_metadata/tracks.csv`` is recognised by its three header rows (column group such as ``track``, ``set``,
``artist``; field such as ``genre_top``, ``split``, ``subset``, ``id``; then ``track_id``). ``--fma-subset``
chooses the rows (small is in medium is in large); label = ``track.genre_top``, split = ``set.split``, artist =
``artist.id``, path = ``DATA/NNN/NNNNNN.mp3``, track id = the six-digit file name. Rows of a bigger subset, and
rows without a top genre, are left out and counted.

Rows whose file is missing are excluded with the table line; empty and undecodable files are excluded by the scan
or the pack, as in a folder corpus.
"""
from __future__ import annotations

import csv
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from gtzan_gpu.data.layout import AudioFile, ExcludedFile, LayoutWalk
from gtzan_gpu.errors import GtzanError

FMA_SUBSETS = ("small", "medium", "large")  # nested: each holds the ones before it
SPLIT_NAMES = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
               "test": "test"}
PLAIN_COLUMNS = ("path", "label", "split", "artist", "id")
FMA_COLUMNS = {("track", "genre_top"): "label", ("set", "split"): "split", ("set", "subset"): "subset",
               ("artist", "id"): "artist"}
FMA_HEADER_ROWS = 3


@dataclass(frozen=True)
class TableRow:
    """One labelled row, before its file is looked at. ``line`` is the table's line number (1-based)."""

    line: int
    track_id: str
    label: str
    path: Path
    split: str | None
    artist: str | None


NumberedRows = Iterator[tuple[int, list[str]]]  # (line number, cells) of each row, read lazily


def _open_table(table: Path) -> tuple[str, NumberedRows]:
    """The delimiter of ``table`` (tab for a ``.tsv`` file or a first line with tabs and no commas) and its rows,
    streamed from the file (FMA-large's tracks.csv is 260 MB: never held as lists of cells); a one-line
    GtzanError naming the table when it cannot be read."""
    try:
        handle = open(table, newline="", encoding="utf-8-sig")
    except FileNotFoundError:
        raise GtzanError(f"--labels {table}: no such file") from None
    except OSError as error:
        raise GtzanError(f"--labels {table}: cannot read it ({error.strerror})") from None
    try:
        first = handle.readline()
        handle.seek(0)
    except (OSError, UnicodeDecodeError) as error:
        handle.close()
        raise GtzanError(f"--labels {table}: cannot read it as UTF-8 text ({error})") from None
    delimiter = "\t" if table.suffix.lower() == ".tsv" or ("\t" in first and "," not in first) else ","
    return delimiter, _numbered_rows(handle, table, delimiter)


def _numbered_rows(handle, table: Path, delimiter: str) -> NumberedRows:
    """Each row with the line it ends on (``csv.reader.line_num``: right even after a quoted field spanning
    lines, as FMA's free-text columns do); the file is closed when the rows run out.

    Read strictly: a quoted field that never closes is an error naming the line where the row opened (a lenient
    reader would swallow every later row into that field), and a byte that is not UTF-8 is named by its own line
    (the decoder reads ahead of the CSV reader, so its line count would be early)."""
    with handle:
        reader = csv.reader(handle, delimiter=delimiter, strict=True)
        start = 1
        try:
            for row in reader:
                yield reader.line_num, row
                start = reader.line_num + 1
        except UnicodeDecodeError:
            raise GtzanError(f"--labels {table} line {_first_undecodable_line(table)}: not UTF-8 text") from None
        except csv.Error as error:
            if "unexpected end of data" in str(error):
                raise GtzanError(f"--labels {table} line {start}: a quoted field opens in this row and never "
                                 f"closes") from None
            raise GtzanError(f"--labels {table} line {reader.line_num}: not readable as CSV ({error})") from None


def _first_undecodable_line(table: Path) -> int:
    """The number of the first line of ``table`` that is not UTF-8."""
    with open(table, "rb") as raw:
        for number, line in enumerate(raw, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return 0


def is_fma_table(head: list[list[str]]) -> bool:
    """FMA's three header rows: groups, fields, then a row that starts with ``track_id`` (a tracks.csv that lacks a
    column is still FMA's, so that :func:`fma_rows` names the missing column)."""
    return len(head) >= FMA_HEADER_ROWS and head[2][:1] == ["track_id"] and head[0][:1] == [""] and \
        head[1][:1] == [""]


def _split_name(value: str, table: Path, line: int) -> str | None:
    value = value.strip().lower()
    if not value:
        return None
    if value not in SPLIT_NAMES:
        raise GtzanError(f"--labels {table} line {line}: split {value!r} is not one of "
                         f"{', '.join(sorted(set(SPLIT_NAMES)))}")
    return SPLIT_NAMES[value]


def _label(value: str, table: Path, line: int) -> str:
    label = value.strip()
    if any(ord(character) < 32 for character in label):
        raise GtzanError(f"--labels {table} line {line}: label {label!r} holds a control character")
    return label


def _fma_audio_path(data: Path, track_id: int) -> Path:
    name = f"{track_id:06d}"
    return data / name[:3] / f"{name}.mp3"


def fma_rows(head: list[list[str]], body: NumberedRows, table: Path, data: Path, subset: str,
             left_out: dict[str, int]) -> Iterator[TableRow]:
    """The rows of FMA's tracks.csv (``head``: its three header rows) in ``subset`` (and the smaller subsets it
    holds) that have a top genre."""
    columns = {}
    for index, key in enumerate(zip(head[0], head[1])):
        if key in FMA_COLUMNS:
            columns[FMA_COLUMNS[key]] = index
    missing = [f"{group}.{field}" for (group, field), name in FMA_COLUMNS.items() if name not in columns]
    if missing:
        raise GtzanError(f"--labels {table}: FMA's tracks.csv without column(s) {', '.join(missing)}")
    allowed = set(FMA_SUBSETS[:FMA_SUBSETS.index(subset) + 1])
    for line, row in body:
        if not row or not row[0].strip():
            continue
        try:
            track_id = int(row[0])
            cells = {name: row[index] for name, index in columns.items()}
        except (ValueError, IndexError):
            raise GtzanError(f"--labels {table} line {line}: not a tracks.csv row (track id {row[0]!r}, "
                             f"{len(row)} cells)") from None
        if cells["subset"].strip() not in allowed:
            left_out["rows of a bigger FMA subset"] = left_out.get("rows of a bigger FMA subset", 0) + 1
            continue
        label = _label(cells["label"], table, line)
        if not label:
            left_out["rows without a top genre"] = left_out.get("rows without a top genre", 0) + 1
            continue
        yield TableRow(line, f"{track_id:06d}", label, _fma_audio_path(data, track_id),
                       _split_name(cells["split"], table, line), cells["artist"].strip() or None)


def plain_rows(header_row: list[str], body: NumberedRows, table: Path, data: Path,
               left_out: dict[str, int]) -> Iterator[TableRow]:
    """The rows of a table with a ``path,label[,split,artist,id]`` header."""
    header = [cell.strip().lower() for cell in header_row]
    missing = [name for name in ("path", "label") if name not in header]
    if missing:
        raise GtzanError(f"--labels {table}: the header row has no {' or '.join(missing)} column (found: "
                         f"{', '.join(header) or 'nothing'}; expected path,label[,split,artist,id])")
    where = {name: header.index(name) for name in PLAIN_COLUMNS if name in header}
    for line, row in body:
        if not any(cell.strip() for cell in row):
            continue
        cells = {name: row[index].strip() if index < len(row) else "" for name, index in where.items()}
        if not cells["path"]:
            raise GtzanError(f"--labels {table} line {line}: no path")
        label = _label(cells["label"], table, line)
        if not label:
            left_out["rows without a label"] = left_out.get("rows without a label", 0) + 1
            continue
        path = Path(cells["path"])
        path = path if path.is_absolute() else data / path
        track_id = cells.get("id") or _default_id(path, data)
        yield TableRow(line, track_id, label, path, _split_name(cells.get("split", ""), table, line),
                       cells.get("artist") or None)


def _default_id(path: Path, data: Path) -> str:
    """The path without its extension, relative to DATA when inside it: unique for distinct files."""
    try:
        return path.relative_to(data).with_suffix("").as_posix()
    except ValueError:
        return path.with_suffix("").as_posix()


def _relative(path: Path, data: Path) -> str:
    try:
        return path.relative_to(data).as_posix()
    except ValueError:
        return path.as_posix()


def read_label_table(data: str | Path, table: str | Path, fma_subset: str | None = None) -> LayoutWalk:
    """The catalogue a label table describes, as a walk over its files (table order), ready to scan or pack.

    Raises:
        GtzanError: DATA is not a folder, the table is unreadable or lacks a column, a split value is unknown, an
            FMA table without ``fma_subset`` or ``fma_subset`` with a plain table.
    """
    data, table = Path(data), Path(table)
    if not data.is_dir():
        raise GtzanError(f"corpus folder not found: {data}" if not data.exists() else
                         f"corpus path is not a folder: {data}")
    delimiter, rows = _open_table(table)
    numbered_head = list(itertools.islice(rows, FMA_HEADER_ROWS))
    head = [row for _, row in numbered_head]
    left_out: dict[str, int] = {}
    if is_fma_table(head):
        if fma_subset is None:
            raise GtzanError(f"--labels {table} is FMA's tracks.csv: choose its rows with --fma-subset "
                             f"{'|'.join(FMA_SUBSETS)}")
        labelled = list(fma_rows(head, rows, table, data, fma_subset, left_out))
        described = {"labels": str(table), "format": "fma", "fma_subset": fma_subset}
    else:
        if fma_subset is not None:
            raise GtzanError(f"--fma-subset is for FMA's tracks.csv; {table} is a plain table")
        labelled = list(plain_rows(head[0] if head else [], itertools.chain(numbered_head[1:], rows), table, data,
                                   left_out))
        described = {"labels": str(table), "format": "tsv" if delimiter == "\t" else "csv"}
    if not labelled and not left_out:
        raise GtzanError(f"--labels {table} lists no tracks (a header and no rows)")
    return _walk_of(data, labelled, left_out, described)


def _walk_of(data: Path, labelled: list[TableRow], left_out: dict[str, int], described: dict) -> LayoutWalk:
    """The table's files in table order; a file listed on several rows (under any spelling: paths are resolved
    first) is excluded with all its rows, since its rows may disagree on id and label and could put it on both
    sides of a split."""
    files, excluded = [], []
    resolved = [row.path.resolve() for row in labelled]  # one file under two spellings is one file
    lines_of: dict[Path, list[int]] = {}
    for row, path in zip(labelled, resolved):
        lines_of.setdefault(path, []).append(row.line)
    for row, path in zip(labelled, resolved):
        relative = _relative(row.path, data)
        lines = lines_of[path]
        if len(lines) > 1:
            if row.line == lines[0]:  # reported once, under its first spelling
                excluded.append(ExcludedFile(relative, f"listed {len(lines)} times (lines "
                                                       f"{', '.join(map(str, lines))} of the label table)"))
            continue
        if row.path.is_file():
            files.append(AudioFile(row.track_id, row.label, row.path, relative, row.artist, row.split))
        else:
            reason = "not a file" if row.path.exists() else "file not found"
            excluded.append(ExcludedFile(relative, f"{reason} (listed on line {row.line} of the label table)"))
    genres = sorted({file.genre for file in files})
    return LayoutWalk(data, genres, files, excluded, left_out, described)
