"""WebDataset shards out (``gtzan-gpu shards``) and in (a corpus source): read by the real ``webdataset`` library,
bit-exact against the store, resumable, and DATA for every command (issue 33)."""
from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from gtzan_gpu.cli import main
from gtzan_gpu.data.catalogue import CorpusSpec
from gtzan_gpu.data.shards_write import ShardOptions, ShardWriter, file_sha256, write_shards
from gtzan_gpu.data.sources import scan_corpus
from tests.conftest import write_tone

REAL_CLIPS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "gtzan-excerpts-dev"
webdataset = pytest.importorskip("webdataset")


@pytest.fixture(scope="module")
def tiny_shards(tiny_corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("shards") / "tiny"
    write_shards(CorpusSpec.of(tiny_corpus), out, ShardOptions(shard_mb=0.6))
    return out


def webdataset_samples(folder: Path) -> list[dict]:
    dataset = webdataset.WebDataset([str(p) for p in sorted(folder.glob("*.tar"))], shardshuffle=False)
    return [{"key": s["__key__"], "meta": json.loads(s["json"]), "audio": s["flac"]} for s in dataset]


def test_webdataset_reads_every_sample_and_the_samples_are_the_stores_bit_for_bit(tiny_corpus, tiny_shards,
                                                                                   tmp_path):
    from gtzan_gpu.data.store import Store
    from gtzan_gpu.data.store_pack import pack_corpus

    corpus = scan_corpus(tiny_corpus)
    samples = webdataset_samples(tiny_shards)
    assert [s["meta"]["track_id"] for s in samples] == [t.track_id for t in corpus.tracks]
    assert [s["meta"]["label"] for s in samples] == [t.genre for t in corpus.tracks]
    assert all(s["meta"]["label_index"] == corpus.genres.index(s["meta"]["label"]) for s in samples)
    assert len({s["key"] for s in samples}) == len(samples) and not any("." in s["key"] for s in samples)
    pack_corpus(tiny_corpus, tmp_path / "store", workers=1)
    store = Store.open(tmp_path / "store")
    for sample in samples:
        decoded, rate = sf.read(io.BytesIO(sample["audio"]), dtype="int16")
        located = store.location(sample["meta"]["track_id"])
        stored = np.asarray(store.shard(located.shard)[located.offset:located.offset + located.length])
        assert rate == 22050 and np.array_equal(decoded, stored)
        assert sample["meta"]["samples"] == len(decoded) and sample["meta"]["crc32"] == located.crc32


def test_the_index_lists_every_shard_with_its_sha256_and_the_labels(tiny_corpus, tiny_shards):
    index = json.loads((tiny_shards / "shards.json").read_text())
    assert index["format"] == "gtzan-gpu-webdataset" and index["complete"] and index["audio"] == "flac"
    assert len(index["shards"]) > 1  # --shard-mb 0.6 cuts the 50 tracks into several shards
    for shard in index["shards"]:
        assert file_sha256(tiny_shards / shard["name"]) == shard["sha256"]
    assert sum(s["samples"] for s in index["shards"]) == len(index["tracks"]) == 50
    assert index["labels"] == scan_corpus(tiny_corpus).genres
    assert [e["path"] for e in index["excluded"]] == ["jazz/jazz.00054.wav"]


def test_a_killed_run_resumed_gives_the_same_shards_as_one_uninterrupted_run(tiny_corpus, tiny_shards, tmp_path,
                                                                              monkeypatch):
    finish = ShardWriter._finish_shard
    calls = []

    def killed_after_two(self, index, pending):
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(1)
        finish(self, index, pending)
    monkeypatch.setattr(ShardWriter, "_finish_shard", killed_after_two)
    with pytest.raises(KeyboardInterrupt):
        write_shards(CorpusSpec.of(tiny_corpus), tmp_path / "out", ShardOptions(shard_mb=0.6))
    assert not json.loads((tmp_path / "out" / "shards.json").read_text())["complete"]
    monkeypatch.setattr(ShardWriter, "_finish_shard", finish)
    done = write_shards(CorpusSpec.of(tiny_corpus), tmp_path / "out", ShardOptions(shard_mb=0.6))
    assert done["kept"] == 2 and done["written"] == done["shards"] - 2
    resumed = json.loads((tmp_path / "out" / "shards.json").read_text())
    whole = json.loads((tiny_shards / "shards.json").read_text())
    assert resumed["shards"] == whole["shards"] and resumed["tracks"] == whole["tracks"]
    again = write_shards(CorpusSpec.of(tiny_corpus), tmp_path / "out", ShardOptions(shard_mb=0.6))
    assert again["written"] == 0  # finished: nothing to do


def test_shards_are_data_for_scan_split_and_train_with_the_folders_tracks_and_weights(tiny_corpus, tiny_shards,
                                                                                      tmp_path, capsys):
    from gtzan_gpu.training import fit
    from tests.conftest import small_train_config

    folder, shards = scan_corpus(tiny_corpus), scan_corpus(tiny_shards)
    assert shards.genres == folder.genres
    assert [(t.track_id, t.genre, t.frames) for t in shards.tracks] == [(t.track_id, t.genre, t.frames)
                                                                         for t in folder.tracks]
    for data, name in ((tiny_corpus, "folder.json"), (tiny_shards, "shards.json.manifest")):
        assert main(["split", str(data), "--out", str(tmp_path / name), "-q"]) == 0
    subsets = [json.loads((tmp_path / n).read_text())["subsets"] for n in ("folder.json", "shards.json.manifest")]
    assert subsets[0] == subsets[1]
    weights = []
    for data, out in ((tiny_corpus, "run-folder"), (tiny_shards, "run-shards")):
        fit(small_train_config(data, tmp_path / out, manifest=str(tmp_path / "folder.json"), epochs=1))
        weights.append(torch.load(tmp_path / out / "best.pt", weights_only=False)["model"])
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def foreign_shard(path: Path, tmp_path: Path) -> None:
    """A WebDataset tar another tool wrote: wav members, labels in the json, one undecodable, one unlabelled."""
    with webdataset.TarWriter(str(path)) as sink:
        for i, genre in enumerate(["rock", "jazz", "rock", "jazz", "rock", "jazz"] * 2):
            write_tone(tmp_path / "tone.wav", 3.0, 16000, frequency=200 + 40 * i)
            sink.write({"__key__": f"clip{i:03d}", "wav": (tmp_path / "tone.wav").read_bytes(),
                        "json": {"label": genre, "artist": f"a{i % 3}"}})
        sink.write({"__key__": "broken", "wav": b"RIFF not audio", "json": {"label": "rock"}})
        sink.write({"__key__": "nolabel", "wav": (tmp_path / "tone.wav").read_bytes(), "json": {"title": "x"}})


def test_a_folder_of_foreign_webdataset_tars_is_scanned_with_the_scans_exclusions(tmp_path, capsys):
    data = tmp_path / "foreign"
    data.mkdir()
    foreign_shard(data / "part-0.tar", tmp_path)
    corpus = scan_corpus(data)
    assert corpus.genres == ["jazz", "rock"] and len(corpus.tracks) == 12
    assert corpus.tracks[0].sample_rate == 16000 and corpus.tracks[0].artist == "a0"
    reasons = {e.path: e.reason for e in corpus.excluded}
    assert "not a readable audio file" in reasons["part-0.tar#broken.wav"]
    assert "no label or genre" in reasons["part-0.tar#nolabel"]
    from gtzan_gpu.data.segments import track_sources

    source = track_sources(corpus, [corpus.tracks[1].track_id], 22050)[0]
    expected, _ = sf.read(str(tmp_path / "tone.wav"))  # the last tone written is clip011's; compare lengths only
    assert source.read_int16(22050).numel() == source.samples == 3 * 22050 and len(expected) == 3 * 16000
    assert main(["scan", str(data), "--json", "-q"]) == 0
    assert json.loads(capsys.readouterr().out)["tracks"] == 12


@pytest.mark.parametrize("argv_tail, message", [
    (["--shard-mb", "0"], "--shard-mb must be in"),
    (["--manifest", "MISSING"], "manifest"),
])
def test_bad_shards_options_are_one_line(argv_tail, message, tiny_corpus, tmp_path, capsys):
    argv_tail = [str(tmp_path / "nothing.json") if a == "MISSING" else a for a in argv_tail]
    assert main(["shards", str(tiny_corpus), "--out", str(tmp_path / "out"), *argv_tail]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # a refusal leaves nothing behind


def test_shards_never_write_into_an_input_or_a_foreign_folder(tiny_corpus, tiny_shards, tmp_path, capsys):
    def refused(*argv) -> str:
        assert main(["shards", *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err
        return err
    assert "inside the input" in refused(str(tiny_corpus), "--out", str(tiny_corpus / "shards"))
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    assert "holds no shards of this tool" in refused(str(tiny_corpus), "--out", str(tmp_path / "busy"))
    other = tmp_path / "other"
    shutil.copytree(tiny_shards, other)
    assert "another corpus, split or options" in refused(str(tiny_corpus), "--out", str(other), "--shard-mb", "5")
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine"


def test_shards_as_data_refuse_a_label_table_and_unfinished_shards(tiny_shards, tmp_path, capsys):
    assert main(["scan", str(tiny_shards), "--labels", str(tmp_path / "t.csv")]) == 2
    assert "carry their labels" in capsys.readouterr().err
    unfinished = tmp_path / "unfinished"
    shutil.copytree(tiny_shards, unfinished)
    index = json.loads((unfinished / "shards.json").read_text())
    (unfinished / "shards.json").write_text(json.dumps({**index, "complete": False}))
    assert main(["scan", str(unfinished)]) == 2
    assert "run it again to finish them" in capsys.readouterr().err
    damaged = tmp_path / "damaged"
    shutil.copytree(tiny_shards, damaged)
    (damaged / "shard-000000.tar").write_bytes(b"")
    assert main(["scan", str(damaged)]) == 2
    assert "shard-000000.tar is missing or not the size" in capsys.readouterr().err


def test_a_damaged_sample_is_never_served(tiny_shards, tmp_path):
    from gtzan_gpu.data.segments import track_sources
    from gtzan_gpu.errors import GtzanError

    damaged = tmp_path / "damaged"
    shutil.copytree(tiny_shards, damaged)
    track = json.loads((damaged / "shards.json").read_text())["tracks"][0]
    with open(damaged / track["shard"], "r+b") as handle:  # flip bytes inside the first FLAC frame's audio
        handle.seek(track["offset"] + track["bytes"] // 2)
        handle.write(b"\x00" * 64)
    corpus = scan_corpus(damaged)
    with pytest.raises(GtzanError, match="damaged|does not decode"):
        track_sources(corpus, [track["track_id"]], 22050)[0].read_int16(22050)


@pytest.mark.skipif(not REAL_CLIPS.is_dir(), reason=f"real clips not present ({REAL_CLIPS})")
def test_shards_of_the_real_clips_hold_every_clip_bit_exact(tmp_path):
    from gtzan_gpu.data.audio import read_track, to_int16

    write_shards(CorpusSpec.of(REAL_CLIPS), tmp_path / "real", ShardOptions(shard_mb=8))
    corpus = scan_corpus(REAL_CLIPS)
    samples = webdataset_samples(tmp_path / "real")
    assert [s["meta"]["track_id"] for s in samples] == [t.track_id for t in corpus.tracks]
    assert len(samples) == 250
    for sample, track in zip(samples, corpus.tracks):
        decoded, _ = sf.read(io.BytesIO(sample["audio"]), dtype="int16")
        assert sample["meta"]["label"] == track.genre
        assert np.array_equal(decoded, to_int16(read_track(corpus.absolute_path(track), 22050)).numpy())


def test_pack_reads_shards_into_the_same_store_as_the_folders_and_reuses_it(tiny_corpus, tiny_shards, tmp_path):
    from gtzan_gpu.data.store import Store
    from gtzan_gpu.data.store_pack import pack_corpus

    pack_corpus(tiny_corpus, tmp_path / "from-folder", workers=1)
    done = pack_corpus(tiny_shards, tmp_path / "from-shards", workers=1)
    folder, shards = Store.open(tmp_path / "from-folder"), Store.open(tmp_path / "from-shards")
    assert shards.genres == folder.genres and [t.track_id for t in shards.tracks] == \
        [t.track_id for t in folder.tracks]
    for track in folder.tracks:
        mine = shards.location(track.track_id)
        assert (mine.crc32, mine.length, mine.genre) == (track.crc32, track.length, track.genre)
    again = pack_corpus(tiny_shards, tmp_path / "from-shards", workers=1)
    assert done["packed"] >= 1 and again["packed"] == 0 and not again["changed"]


def test_an_experiment_runs_on_shards(tiny_shards, tmp_path):
    """``experiment --data SHARDS``: the grid's early corpus check asks the corpus sources, not only the store."""
    from gtzan_gpu.experiment import Grid, run_experiment

    grid = Grid(name="tiny", models=["cnn"], segment_seconds=[2.0], schemes=["random"],
                train={"epochs": 1, "image_size": 32, "batch_size": 16, "stft_backend": "torch", "device": "cpu",
                       "loader": "device", "weights": "none"})
    result = run_experiment(grid, tmp_path / "exp", str(tiny_shards), only=["cnn:2"])
    assert [c["cell"] for c in result["cells"]] == ["random/cnn-2s"]


def test_a_folder_holding_a_gtzan_tarball_is_one_line_not_an_empty_corpus(tmp_path, capsys):
    import tarfile

    from tests.conftest import write_tone

    write_tone(tmp_path / "genres" / "blues" / "blues.00000.wav", 1.0, 22050)
    (tmp_path / "data").mkdir()
    with tarfile.open(tmp_path / "data" / "genres.tar", "w") as tar:
        tar.add(tmp_path / "genres", arcname="genres")
    assert main(["scan", str(tmp_path / "data")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "must be extracted first" in err


def test_shards_of_a_store_or_of_shards_keep_its_rate(tiny_corpus, tmp_path):
    """A corpus's rate carries through: a store packed at 16 kHz gives 16-kHz shards, and shards written from those
    shards stay at 16 kHz (the shards' reader says its rate as the store's does), samples unchanged."""
    from gtzan_gpu.data.store_pack import pack_corpus

    pack_corpus(tiny_corpus, tmp_path / "store", workers=1, sample_rate=16000)
    write_shards(CorpusSpec.of(tmp_path / "store"), tmp_path / "a", ShardOptions(shard_mb=2))
    write_shards(CorpusSpec.of(tmp_path / "a"), tmp_path / "b", ShardOptions(shard_mb=2))
    first, second = (json.loads((tmp_path / name / "shards.json").read_text()) for name in ("a", "b"))
    assert first["sample_rate"] == second["sample_rate"] == 16000
    assert [t["crc32"] for t in first["tracks"]] == [t["crc32"] for t in second["tracks"]]


def test_shard_url_on_other_data_is_one_line(tiny_corpus, tmp_path, capsys):
    data = tmp_path / "foreign"
    data.mkdir()
    foreign_shard(data / "part-0.tar", tmp_path)
    for folder, message in ((tiny_corpus, "holds none"), (data, "needs the shards.json")):
        assert main(["scan", str(folder), "--shard-url", "https://example.invalid/x/"]) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and "--shard-url" in err and message in err
