"""Track-level train / val / test splits, written to a manifest that reproduces byte for byte.

``random``: per genre, sort the track ids, shuffle them with a generator seeded by (seed, genre), and
cut test first (``test_fraction`` of the genre), then val (``val_fraction`` of what is left). Counts
come from the exact fractions by largest remainder, so each subset is within one track of its share.
``fault-filtered``: torchaudio's 443/197/290 lists of Sturm's fault-filtered GTZAN split, minus the
tracks the scan excluded or that the corpus lacks.
``given``: the split a label table gives (FMA's official ``set.split``); tracks without one are not used.
``artist``: a seeded split grouped by artist (no artist on two sides), each subset's per-label counts as close to
its share as the groups allow (:func:`grouped_parts`); a track without an artist is a group of its own.
No track is in two subsets; segments are cut from tracks afterwards, so no segment leaks either.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from gtzan_gpu.atomic import atomic_write_text
from gtzan_gpu.data.corpus import Corpus, Track
from gtzan_gpu.errors import GtzanError

MANIFEST_FORMAT = "gtzan-gpu/split-manifest"
MANIFEST_VERSION = 1
SUBSETS = ("train", "val", "test")


@dataclass
class SplitManifest:
    """Which track ids are in which subset, and how that was decided."""

    scheme: str
    seed: int | None  # None for a fixed-list scheme
    test_fraction: float | None
    val_fraction: float | None
    genres: list[str]
    subsets: dict[str, list[str]]
    not_used: list[str] = field(default_factory=list)  # listed by the scheme but excluded or missing
    fold: tuple[int, int] | None = None  # (fold, folds) of a k-fold split: test is fold `fold` of `folds`
    grouped_by: str | None = None  # "artist": a k-fold split whose parts keep every artist on one side

    def __post_init__(self):
        # canonical in memory as on disk: a manifest made now and one read back index tracks identically
        self.subsets = {name: sorted(self.subsets[name]) for name in SUBSETS}
        self.not_used = sorted(self.not_used)

    def to_json(self) -> str:
        """Canonical JSON text: sorted keys, sorted ids, no paths or clocks -> identical on every machine."""
        document = {
            "format": MANIFEST_FORMAT,
            "version": MANIFEST_VERSION,
            "scheme": self.scheme,
            "seed": self.seed,
            "fractions": {"test": self.test_fraction, "val_of_train": self.val_fraction},
            "genres": list(self.genres),
            "subsets": self.subsets,
            "not_used": self.not_used,
        }
        if self.fold is not None:  # only k-fold manifests carry it: the others stay byte-identical
            document["fold"] = {"fold": self.fold[0], "folds": self.fold[1]}
        if self.grouped_by is not None:
            document["grouped_by"] = self.grouped_by
        return json.dumps(document, indent=2, sort_keys=True) + "\n"

    @property
    def digest(self) -> str:
        """sha256 of the canonical JSON: recorded in checkpoints to tie a run to its split."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()

    def save(self, path: str | Path) -> None:
        """Write the canonical JSON atomically; an unwritable path is a GtzanError naming it."""
        atomic_write_text(Path(path), self.to_json())

    @classmethod
    def from_json(cls, text: str, source: str = "manifest") -> "SplitManifest":
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise GtzanError(f"{source}: not valid JSON ({error.msg} at line {error.lineno})") from None
        if document.get("format") != MANIFEST_FORMAT:
            raise GtzanError(f"{source}: not a gtzan-gpu split manifest")
        if document.get("version") != MANIFEST_VERSION:
            raise GtzanError(f"{source}: manifest version {document.get('version')} is not {MANIFEST_VERSION}")
        manifest = cls(
            scheme=document["scheme"],
            seed=document["seed"],
            test_fraction=document["fractions"]["test"],
            val_fraction=document["fractions"]["val_of_train"],
            genres=document["genres"],
            subsets={name: list(document["subsets"][name]) for name in SUBSETS},
            not_used=list(document.get("not_used", [])),
            fold=(document["fold"]["fold"], document["fold"]["folds"]) if "fold" in document else None,
            grouped_by=document.get("grouped_by"),
        )
        manifest.check_disjoint(source)
        return manifest

    def check_disjoint(self, source: str = "the split") -> None:
        """No track in two subsets, none twice in one: a leaking manifest would score a model on tracks it trained
        on. One line naming the first such id."""
        seen: dict[str, str] = {}
        for name in SUBSETS:
            for track_id in self.subsets[name]:
                if track_id in seen:
                    where = f"twice in {name}" if seen[track_id] == name else f"in both {seen[track_id]} and {name}"
                    raise GtzanError(f"{source} lists track {track_id!r} {where}; subsets must not overlap or "
                                     f"repeat a track (it would be scored on what it trained on)")
                seen[track_id] = name

    @classmethod
    def load(cls, path: str | Path) -> "SplitManifest":
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as error:
            raise GtzanError(f"cannot read manifest {path}: {error.strerror}") from None
        return cls.from_json(text, source=str(path))

    def check_usable(self, source: str = "the split") -> None:
        """A manifest a classifier can be trained and scored on: two genres or more, no empty subset, no track in
        two subsets."""
        self.check_disjoint(source)
        if len(self.genres) < 2:
            raise GtzanError(f"{source} has {len(self.genres)} genre(s); classification needs at least 2")
        empty = [name for name in SUBSETS if not self.subsets[name]]
        if empty:
            raise GtzanError(f"{source} leaves the {' and '.join(empty)} subset(s) empty "
                             f"({sum(map(len, self.subsets.values()))} tracks in all; too few tracks per genre)")

    def subset_of(self) -> dict[str, str]:
        """track id -> subset name."""
        return {track_id: name for name in SUBSETS for track_id in self.subsets[name]}


def largest_remainder_counts(total: int, fractions: list[float]) -> list[int]:
    """Split ``total`` into integer counts, each within one of ``fraction * total``; ties go to the earlier entry."""
    exact = [total * f for f in fractions]
    counts = [int(np.floor(x)) for x in exact]
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


def _genre_seed(seed: int, genre: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{genre}".encode()).digest()[:8], "little")


def random_split(corpus: Corpus, seed: int = 42, test_fraction: float = 0.2, val_fraction: float = 0.2) -> SplitManifest:
    """Per-genre seeded shuffle of the sorted track ids, then test / val / train by largest remainder."""
    if not 0 < test_fraction < 1 or not 0 <= val_fraction < 1:
        raise GtzanError(f"fractions must be in (0, 1): test={test_fraction}, val={val_fraction}")
    subsets: dict[str, list[str]] = {name: [] for name in SUBSETS}
    share = {"test": test_fraction, "val": (1 - test_fraction) * val_fraction}
    share["train"] = 1 - share["test"] - share["val"]
    for genre in corpus.genres:
        ids = sorted(t.track_id for t in corpus.tracks if t.genre == genre)
        order = np.random.default_rng(_genre_seed(seed, genre)).permutation(len(ids))
        shuffled = [ids[i] for i in order]
        n_test, n_val, _ = largest_remainder_counts(len(ids), [share["test"], share["val"], share["train"]])
        subsets["test"] += shuffled[:n_test]
        subsets["val"] += shuffled[n_test:n_test + n_val]
        subsets["train"] += shuffled[n_test + n_val:]
    return SplitManifest("random", seed, test_fraction, val_fraction, list(corpus.genres), subsets)


def fault_filtered_split(corpus: Corpus) -> SplitManifest:
    """torchaudio's fault-filtered GTZAN lists, restricted to the tracks this corpus validated."""
    from torchaudio.datasets import gtzan

    available = set(corpus.tracks_by_id())
    lists = {"train": gtzan.filtered_train, "val": gtzan.filtered_valid, "test": gtzan.filtered_test}
    subsets = {name: [i for i in ids if i in available] for name, ids in lists.items()}
    not_used = sorted(i for ids in lists.values() for i in ids if i not in available)
    if not any(subsets.values()):
        raise GtzanError(f"no track of the fault-filtered lists is in {corpus.root} (it needs GTZAN's file names)")
    return SplitManifest("fault-filtered", None, None, None, list(corpus.genres), subsets, not_used)


def artist_groups(tracks: list[Track]) -> list[list[Track]]:
    """Tracks grouped by artist (sorted by artist, each group by id); a track without an artist is its own group."""
    groups: dict[str, list[Track]] = {}
    for track in sorted(tracks, key=lambda t: t.track_id):
        key = f"artist:{track.artist}" if track.artist is not None else f"track:{track.track_id}"
        groups.setdefault(key, []).append(track)
    return [groups[key] for key in sorted(groups)]


def grouped_parts(groups: list[list[Track]], shares: list[float], genres: list[str],
                  rng: np.random.Generator) -> list[list[str]]:
    """Track ids of each part, every group whole in one part, each part's per-label counts as close to its share
    of that label's tracks as the groups allow.

    Greedy, largest group first (ties in a seeded order): each group goes to the part where it most reduces the
    squared distance between the part's label counts and its targets (ties: the part furthest below its total).
    The greedy fills the big parts first, so a small part (validation, few groups) can end empty: it then takes a
    group from the part furthest above its target, the smallest whose labels that part keeps, so a corpus is
    refused only when no assignment exists and no part loses a label it had.
    """
    counts = np.zeros((len(groups), len(genres)))
    column = {genre: i for i, genre in enumerate(genres)}
    for g, group in enumerate(groups):
        for track in group:
            counts[g, column[track.genre]] += 1
    targets = np.outer(shares, counts.sum(axis=0))
    current = np.zeros_like(targets)
    order = sorted(rng.permutation(len(groups)), key=lambda g: -counts[g].sum())  # stable: seeded among equals
    members: list[list[int]] = [[] for _ in shares]
    for g in order:
        change = (counts[g] * (counts[g] + 2 * (current - targets))).sum(axis=1)
        room = targets.sum(axis=1) - current.sum(axis=1)
        part = min(range(len(shares)), key=lambda p: (change[p], -room[p], p))
        current[part] += counts[g]
        members[part].append(g)
    for empty in [p for p in range(len(shares)) if not members[p]]:
        _fill_empty_part(empty, members, counts, current, targets)
    return [[track.track_id for g in part for track in groups[g]] for part in members]


def _fill_empty_part(empty: int, members: list[list[int]], counts: np.ndarray, current: np.ndarray,
                     targets: np.ndarray) -> None:
    """Move into part ``empty`` one group from the part furthest above its target total, the smallest group whose
    labels that part still holds afterwards (nothing is moved when no part can give one)."""
    surplus = current.sum(axis=1) - targets.sum(axis=1)
    for source in sorted(range(len(members)), key=lambda p: -surplus[p]):
        if source == empty or len(members[source]) < 2:
            continue
        keeps = [g for g in members[source] if np.all((counts[g] == 0) | (current[source] - counts[g] > 0))]
        if not keeps:
            continue
        moved = min(keeps, key=lambda g: (counts[g].sum(), members[source].index(g)))
        members[source].remove(moved)
        members[empty].append(moved)
        current[source] -= counts[moved]
        current[empty] += counts[moved]
        return


def artist_split(corpus: Corpus, seed: int = 42, test_fraction: float = 0.2,
                 val_fraction: float = 0.2) -> SplitManifest:
    """Test, val and train with no artist on two sides (:func:`grouped_parts`, seeded by ``seed``)."""
    if not any(track.artist is not None for track in corpus.tracks):
        raise GtzanError(f"--scheme artist needs artists: {corpus.root} gives none (a label table with an artist "
                         f"column, or FMA's tracks.csv)")
    shares = [test_fraction, (1 - test_fraction) * val_fraction, (1 - test_fraction) * (1 - val_fraction)]
    rng = np.random.default_rng(_genre_seed(seed, "artist"))
    test, val, train = grouped_parts(artist_groups(corpus.tracks), shares, corpus.genres, rng)
    return SplitManifest("artist", seed, test_fraction, val_fraction, list(corpus.genres),
                         {"train": train, "val": val, "test": test})


def given_split(corpus: Corpus, seed: int = 42) -> SplitManifest:
    """The corpus's own split (a label table's split column, FMA's ``set.split``); tracks without one: not used."""
    subsets: dict[str, list[str]] = {name: [] for name in SUBSETS}
    not_used = []
    for track in corpus.tracks:
        (subsets[track.split] if track.split in subsets else not_used).append(track.track_id)
    if not_used and len(not_used) == len(corpus.tracks):
        raise GtzanError(f"--scheme given needs a split column: {corpus.root} gives no split (a label table with "
                         f"a split column, or FMA's tracks.csv)")
    return SplitManifest("given", None, None, None, list(corpus.genres), subsets, not_used)


def kfold_split(corpus: Corpus, folds: int, fold: int, seed: int = 42, val_fraction: float = 0.2) -> SplitManifest:
    """Stratified track-level K-fold: per genre, the sorted ids shuffled by (seed, genre) are cut into ``folds``
    parts (sizes within one, by largest remainder); part ``fold`` is the test subset, and ``val_fraction`` of the
    rest (largest remainder, per genre) is carved out as validation. Over the K folds every track is in test
    exactly once. When the corpus knows its artists the folds (and the validation carved from them) are grouped
    by artist instead (:func:`grouped_parts`): no artist on two sides."""
    if not 2 <= folds <= 100:
        raise GtzanError(f"--folds must be in [2, 100], got {folds}")
    if not 0 <= fold < folds:
        raise ValueError(f"fold {fold} is not in [0, {folds})")
    if any(track.artist is not None for track in corpus.tracks):
        return _artist_kfold_split(corpus, folds, fold, seed, val_fraction)
    subsets: dict[str, list[str]] = {name: [] for name in SUBSETS}
    for genre in corpus.genres:
        ids = sorted(t.track_id for t in corpus.tracks if t.genre == genre)
        order = np.random.default_rng(_genre_seed(seed, genre)).permutation(len(ids))
        shuffled = [ids[i] for i in order]
        sizes = largest_remainder_counts(len(ids), [1 / folds] * folds)
        start = sum(sizes[:fold])
        test = shuffled[start:start + sizes[fold]]
        rest = shuffled[:start] + shuffled[start + sizes[fold]:]
        n_val, _ = largest_remainder_counts(len(rest), [val_fraction, 1 - val_fraction])
        subsets["test"] += test
        subsets["val"] += rest[:n_val]
        subsets["train"] += rest[n_val:]
    return SplitManifest("kfold", seed, 1 / folds, val_fraction, list(corpus.genres), subsets, fold=(fold, folds))


def _artist_kfold_split(corpus: Corpus, folds: int, fold: int, seed: int, val_fraction: float) -> SplitManifest:
    groups = artist_groups(corpus.tracks)
    parts = grouped_parts(groups, [1 / folds] * folds, corpus.genres, np.random.default_rng(_genre_seed(seed, "folds")))
    test = set(parts[fold])
    rest = [group for group in groups if group[0].track_id not in test]
    rng = np.random.default_rng(_genre_seed(seed, f"val:{fold}"))
    val, train = grouped_parts(rest, [val_fraction, 1 - val_fraction], corpus.genres, rng)
    return SplitManifest("kfold", seed, 1 / folds, val_fraction, list(corpus.genres),
                         {"train": train, "val": val, "test": sorted(test)}, fold=(fold, folds), grouped_by="artist")


SplitScheme = Callable[[Corpus, int], SplitManifest]  # (corpus, seed) -> manifest
SPLIT_SCHEMES: dict[str, SplitScheme] = {
    "random": random_split,
    "fault-filtered": lambda corpus, seed: fault_filtered_split(corpus),
    "given": given_split,
    "artist": artist_split,
}
SCHEMES = tuple(SPLIT_SCHEMES)


def make_split(corpus: Corpus, scheme: str = "random", seed: int = 42) -> SplitManifest:
    """The ``scheme`` split of ``corpus`` (:data:`SPLIT_SCHEMES`)."""
    if scheme not in SPLIT_SCHEMES:
        raise GtzanError(f"unknown --scheme {scheme!r} (choose from {', '.join(SCHEMES)})")
    return SPLIT_SCHEMES[scheme](corpus, seed)
