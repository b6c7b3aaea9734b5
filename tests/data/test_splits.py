import json
from pathlib import Path

import pytest

from gtzan_gpu.data.corpus import Corpus, Track
from gtzan_gpu.data.sources import scan_corpus
from gtzan_gpu.data.splits import SUBSETS, SplitManifest, largest_remainder_counts, make_split
from gtzan_gpu.errors import GtzanError


def fake_corpus(counts: dict[str, int]) -> Corpus:
    tracks = [Track(f"{g}.{i:05d}", g, f"{g}/{g}.{i:05d}.wav", 22050, 1, 22050 * 30)
              for g, n in counts.items() for i in range(n)]
    return Corpus(Path("/nowhere"), sorted(counts), tracks)


def test_no_track_is_in_two_subsets_and_every_track_is_in_one(tiny_corpus):
    corpus = scan_corpus(tiny_corpus)
    manifest = make_split(corpus, "random", 42)
    ids = [i for name in SUBSETS for i in manifest.subsets[name]]
    assert len(ids) == len(set(ids)) == len(corpus.tracks)


@pytest.mark.parametrize("n", list(range(1, 41)) + [99, 100, 101, 443])
def test_each_subset_is_within_one_track_of_its_fraction_per_genre(n):
    manifest = make_split(fake_corpus({"a": n, "b": n + 3}), "random", 7)
    for genre, size in (("a", n), ("b", n + 3)):
        counts = {name: sum(1 for i in manifest.subsets[name] if i.startswith(genre + ".")) for name in SUBSETS}
        exact = {"test": 0.2 * size, "val": 0.16 * size, "train": 0.64 * size}
        for name in SUBSETS:
            assert abs(counts[name] - exact[name]) < 1, (genre, size, name, counts)


def test_largest_remainder_counts_sum_to_total():
    assert largest_remainder_counts(99, [0.2, 0.16, 0.64]) == [20, 16, 63]
    assert sum(largest_remainder_counts(7, [0.3, 0.3, 0.4])) == 7


def test_the_same_inputs_give_a_byte_identical_manifest_whatever_the_file_order(tmp_path):
    corpus = fake_corpus({"blues": 30, "rock": 31})
    reversed_corpus = Corpus(corpus.root, corpus.genres, list(reversed(corpus.tracks)))
    make_split(corpus, "random", 42).save(tmp_path / "a.json")
    make_split(reversed_corpus, "random", 42).save(tmp_path / "b.json")
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    make_split(corpus, "random", 43).save(tmp_path / "c.json")
    assert (tmp_path / "a.json").read_bytes() != (tmp_path / "c.json").read_bytes()


def test_a_genre_split_does_not_depend_on_the_other_genres():
    alone = make_split(fake_corpus({"rock": 20}), "random", 1)
    together = make_split(fake_corpus({"rock": 20, "pop": 11}), "random", 1)
    for name in SUBSETS:
        assert alone.subsets[name] == [i for i in together.subsets[name] if i.startswith("rock")]


def test_the_manifest_records_scheme_seed_fractions_and_round_trips(tmp_path):
    manifest = make_split(fake_corpus({"a": 10}), "random", 5)
    path = tmp_path / "m.json"
    manifest.save(path)
    document = json.loads(path.read_text())
    assert document["scheme"] == "random" and document["seed"] == 5
    assert document["fractions"] == {"test": 0.2, "val_of_train": 0.2}
    loaded = SplitManifest.load(path)
    assert loaded.to_json() == manifest.to_json() and loaded.digest == manifest.digest


def test_the_corrupted_file_is_in_no_subset_of_either_scheme(tiny_corpus):
    corpus = scan_corpus(tiny_corpus)
    for scheme in ("random", "fault-filtered"):
        manifest = make_split(corpus, scheme, 42)
        assert "jazz.00054" not in manifest.subset_of()
    filtered = make_split(corpus, "fault-filtered")
    assert "jazz.00054" in filtered.not_used  # torchaudio lists it for training; the scan excluded it


def test_fault_filtered_uses_torchaudio_lists_restricted_to_the_corpus(tiny_corpus):
    from torchaudio.datasets import gtzan

    manifest = make_split(scan_corpus(tiny_corpus), "fault-filtered")
    assert manifest.seed is None
    for name, listed in (("train", gtzan.filtered_train), ("val", gtzan.filtered_valid), ("test", gtzan.filtered_test)):
        assert set(manifest.subsets[name]) <= set(listed)
    total = sum(len(v) for v in manifest.subsets.values())
    assert total + len(manifest.not_used) == 443 + 197 + 290


def test_fault_filtered_on_a_corpus_without_gtzan_names_is_an_error():
    with pytest.raises(GtzanError, match="fault-filtered"):
        make_split(Corpus(Path("/x"), ["a"], [Track("song", "a", "a/song.wav", 22050, 1, 100)]), "fault-filtered")


@pytest.mark.parametrize("text, message", [("{", "not valid JSON"), ('{"format": "other"}', "not a gtzan-gpu")])
def test_a_bad_manifest_file_is_a_clear_error(tmp_path, text, message):
    path = tmp_path / "m.json"
    path.write_text(text)
    with pytest.raises(GtzanError, match=message):
        SplitManifest.load(path)


def test_kfold_puts_every_track_in_test_exactly_once_stratified(tiny_corpus):
    from collections import Counter

    from gtzan_gpu.data.sources import scan_corpus
    from gtzan_gpu.data.splits import SplitManifest, kfold_split

    corpus = scan_corpus(tiny_corpus)
    genre_of = {t.track_id: t.genre for t in corpus.tracks}
    manifests = [kfold_split(corpus, 5, fold, seed=3) for fold in range(5)]
    tests = [track for m in manifests for track in m.subsets["test"]]
    assert sorted(tests) == sorted(genre_of)  # each track in test exactly once
    for manifest in manifests:
        subsets = [set(manifest.subsets[name]) for name in ("train", "val", "test")]
        assert not (subsets[0] & subsets[1] or subsets[0] & subsets[2] or subsets[1] & subsets[2])
        assert set.union(*subsets) == set(genre_of)
        assert set(Counter(genre_of[t] for t in manifest.subsets["test"]).values()) == {1}  # 5 per genre / 5
        assert SplitManifest.from_json(manifest.to_json()).to_json() == manifest.to_json()
        assert manifest.fold == (manifests.index(manifest), 5)
    assert kfold_split(corpus, 5, 0, seed=3).to_json() == manifests[0].to_json()
    assert kfold_split(corpus, 5, 0, seed=4).to_json() != manifests[0].to_json()


@pytest.mark.parametrize("where, message", [("test", "in both train and test"), ("train", "twice in train")])
def test_a_leaking_manifest_is_refused_naming_the_track(tiny_corpus, tmp_path, capsys, where, message):
    """Issue 31, defect 6: a track in train and test (or twice in train) used to train and evaluate."""
    import json

    from gtzan_gpu.cli import main

    manifest = tmp_path / "m.json"
    assert main(["split", str(tiny_corpus), "--out", str(manifest), "-q"]) == 0
    document = json.loads(manifest.read_text())
    leaked = document["subsets"]["train"][0]
    document["subsets"][where].append(leaked)
    manifest.write_text(json.dumps(document))
    capsys.readouterr()
    run = tmp_path / "run"
    assert main(["train", "--data", str(tiny_corpus), "--manifest", str(manifest), "--out", str(run),
                 "--segment-seconds", "2", "--epochs", "1", "--stft-backend", "torch", "--image-size", "32"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and leaked in err and message in err
    assert not run.exists()


def test_an_artist_split_that_exists_is_found_when_the_greedy_would_leave_val_empty():
    """Issue 31, defect 20: 30 artists, 50 tracks were refused ('val subset empty'): the greedy filled train first."""
    from gtzan_gpu.data.splits import artist_split

    tracks, number = [], 0
    for artist in range(30):
        genre = ("blues", "rock")[artist % 2]
        for _ in range(2 if artist < 20 else 1):
            tracks.append(Track(f"t{number:03d}", genre, f"{genre}/t{number:03d}.wav", 22050, 1, 22050 * 30,
                                artist=f"a{artist:02d}"))
            number += 1
    corpus = Corpus(root=Path("/virtual"), genres=["blues", "rock"], tracks=tracks)
    manifest = artist_split(corpus, seed=42)
    manifest.check_usable("the artist split")
    artist_of = {t.track_id: t.artist for t in tracks}
    sides = [{artist_of[i] for i in manifest.subsets[name]} for name in SUBSETS]
    assert all(sides) and not (sides[0] & sides[1]) and not (sides[0] & sides[2]) and not (sides[1] & sides[2])
    assert sum(len(ids) for ids in manifest.subsets.values()) == 50
