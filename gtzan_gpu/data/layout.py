"""The folder-per-genre layout: where the genre folders are, which files are audio, what is excluded before decoding.

Accepted layouts (DATA is what the user passes):
    DATA/genres_original/<genre>/<genre>.000NN.wav     the Kaggle copy
    DATA/Data/genres_original/<genre>/...              the Kaggle zip, unpacked as is
    DATA/genres/<genre>/<genre>.000NN.au               the original tarball
    DATA/<genre>/<file>.{wav,au,flac,ogg,mp3,...}      any folder-per-label corpus

One walk serves both ``scan`` (which decodes every file) and ``pack`` (which probes headers, then decodes in
workers): the genre folders, the audio files in scan order, symbolic links that lead nowhere, and the
duplicate-id rule (a second file with an id already kept is excluded, naming the first).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from gtzan_gpu.data.audio import AUDIO_EXTENSIONS
from gtzan_gpu.errors import GtzanError

LAYOUT_CANDIDATES = ("genres_original", "Data/genres_original", "genres", ".")
DANGLING_LINK = "symbolic link that leads nowhere (broken, or a loop)"
STORE_SHARD_PATTERN = "shard-*.npy"


@dataclass(frozen=True)
class ExcludedFile:
    path: str
    reason: str


@dataclass(frozen=True)
class AudioFile:
    """One audio file of a catalogue: its track id (here the file name without extension), genre (the label) and
    paths; a label table (:mod:`gtzan_gpu.data.label_table`) may also give the artist and a split."""

    track_id: str
    genre: str
    path: Path
    relative: str  # to the catalogue root, with '/' separators (absolute when the file is outside it)
    artist: str | None = None
    split: str | None = None  # train, val or test, when the catalogue gives one


def audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)


def dangling_links(folder: Path) -> list[Path]:
    """Symbolic links in ``folder`` that lead nowhere (broken, or a loop): neither a file nor a folder."""
    return sorted(p for p in folder.iterdir() if p.is_symlink() and not p.exists())


def genre_folders(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith(".") and audio_files(d))


def find_genre_root(data: str | Path) -> Path:
    """The folder whose sub-folders are the genres, for any accepted layout.

    Raises:
        GtzanError: DATA is missing or holds no genre folder with audio files.
    """
    data = Path(data)
    if not data.exists():
        raise GtzanError(f"corpus folder not found: {data}")
    if not data.is_dir():
        raise GtzanError(f"corpus path is not a folder: {data}")
    for candidate in LAYOUT_CANDIDATES:
        root = (data / candidate) if candidate != "." else data
        if genre_folders(root):
            return root
    if any(data.glob(STORE_SHARD_PATTERN)):
        raise GtzanError(f"{data} holds store shards but no store.json index (deleted, or a pack that never "
                         f"finished); run `gtzan-gpu pack SOURCE --out {data}` again to rebuild it")
    raise GtzanError(
        f"no genre folders with audio files in {data} (expected genres_original/<genre>/*.wav, "
        f"genres/<genre>/*.au or <genre>/<audio files>)"
    )


@dataclass
class LayoutWalk:
    """The files of a catalogue (a genre root's folders, or a label table's rows) in scan order, what was excluded
    before any decoding, and how many rows were left out by rule (``left_out``: reason -> count, e.g. rows of
    another FMA subset: not files of this corpus, so not listed one by one)."""

    root: Path
    genres: list[str]
    files: list[AudioFile]
    excluded: list[ExcludedFile] = field(default_factory=list)
    left_out: dict[str, int] = field(default_factory=dict)
    label_table: dict = field(default_factory=dict)  # the label table read (path, format, FMA subset), if any
    _kept: dict[str, str] = field(default_factory=dict)

    def duplicate_of(self, file: AudioFile) -> ExcludedFile | None:
        """Why ``file`` is excluded when another kept file already has its track id; None otherwise."""
        if file.track_id in self._kept:
            return ExcludedFile(file.relative, f"duplicate track id {file.track_id!r} (also "
                                               f"{self._kept[file.track_id]})")
        return None

    def keep(self, file: AudioFile) -> None:
        """Record ``file``'s track id as taken (call it once the file has been read successfully)."""
        self._kept[file.track_id] = file.relative


def walk_layout(data: str | Path) -> LayoutWalk:
    """The genre root of ``data``, its genre folders, audio files (scan order: genres sorted, files sorted) and
    the dangling links of the root and every genre folder."""
    root = find_genre_root(data)
    folders = genre_folders(root)
    excluded = [ExcludedFile(link.relative_to(root).as_posix(), DANGLING_LINK)
                for folder in [root, *folders] for link in dangling_links(folder)]
    files = [AudioFile(file.stem, folder.name, file, file.relative_to(root).as_posix())
             for folder in folders for file in audio_files(folder)]
    return LayoutWalk(root, [folder.name for folder in folders], files, excluded)
