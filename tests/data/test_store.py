"""The decode-once store: bit-exact samples, same ids and manifests, resumable, and loud when damaged."""
import json
import os

import numpy as np
import pytest
import torch

from gtzan_gpu.data.sources import scan_corpus
from gtzan_gpu.data.loaders.device import DeviceLoader
from gtzan_gpu.data.segments import SegmentSpec, track_sources
from gtzan_gpu.data.splits import make_split
from gtzan_gpu.data.store import Store
from gtzan_gpu.data.store_pack import pack_corpus
from gtzan_gpu.data.loaders.store import StoreLoader
from gtzan_gpu.errors import GtzanError
from tests.conftest import write_tone


@pytest.fixture(scope="module")
def packed(tiny_corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("store") / "s"
    pack_corpus(tiny_corpus, out, workers=2, shard_gb=0.001)  # ~4 tracks a shard: several shards
    return out


def test_a_store_is_the_same_corpus_and_the_same_samples(tiny_corpus, packed):
    folder, store = scan_corpus(tiny_corpus), scan_corpus(packed)
    assert len(Store.open(packed).shard_samples) > 5
    assert [t.track_id for t in store.tracks] == [t.track_id for t in folder.tracks]
    assert store.genres == folder.genres
    assert store.summary()["excluded"] == folder.summary()["excluded"]
    for scheme_seed in (1, 42):
        assert make_split(store, "random", scheme_seed).to_json() == make_split(folder, "random", scheme_seed).to_json()
    ids = [t.track_id for t in folder.tracks]
    for a, b in zip(track_sources(folder, ids, 22050), track_sources(store, ids, 22050)):
        assert b.stored and not a.stored
        assert torch.equal(a.read_int16(22050), b.read_int16(22050))
        assert a.samples_crc32(22050) == b.samples_crc32(22050) == b.crc32  # the store's: from its index


def test_a_resampled_stereo_file_round_trips_as_decoding_gives_it(tmp_path):
    for genre in ("rock", "pop"):
        write_tone(tmp_path / "c" / genre / f"{genre}.a.wav", 1.3, 44100, channels=2, subtype="PCM_24")
        write_tone(tmp_path / "c" / genre / f"{genre}.b.flac", 0.7, 16000, fmt="FLAC")
    pack_corpus(tmp_path / "c", tmp_path / "s")
    folder, store = scan_corpus(tmp_path / "c"), scan_corpus(tmp_path / "s")
    ids = [t.track_id for t in folder.tracks]
    for a, b in zip(track_sources(folder, ids, 22050), track_sources(store, ids, 22050)):
        assert torch.equal(a.read_int16(22050), b.read_int16(22050))
    assert store.summary()["sample_rates"] == {"16000": 2, "44100": 2}


def test_store_and_device_loaders_give_identical_batches(packed):
    corpus = scan_corpus(packed)
    tracks = track_sources(corpus, [t.track_id for t in corpus.tracks][:12], 22050)
    spec = SegmentSpec(1.5, hop_seconds=0.7)
    device_corpus, store_loader = DeviceLoader(tracks, spec), StoreLoader(tracks, spec)
    assert len(device_corpus) == len(store_loader) > 0
    for a, b in zip(device_corpus.batches(7, True, torch.Generator().manual_seed(3)),
                    store_loader.batches(7, True, torch.Generator().manual_seed(3)), strict=True):
        for x, y in zip(a, b):
            assert torch.equal(x, y)


def test_an_unchanged_corpus_is_not_packed_again_and_a_changed_file_is(tiny_corpus, tmp_path):
    import shutil

    source = tmp_path / "c"
    shutil.copytree(tiny_corpus, source)
    first = pack_corpus(source, tmp_path / "s", shard_gb=0.001)
    assert first["packed"] == first["shards"] and first["changed"]
    index_mtime = (tmp_path / "s" / "store.json").stat().st_mtime_ns
    again = pack_corpus(source, tmp_path / "s", shard_gb=0.001)
    assert (again["packed"], again["changed"]) == (0, False)
    assert (tmp_path / "s" / "store.json").stat().st_mtime_ns == index_mtime
    write_tone(source / "genres_original" / "rock" / "rock.00002.wav", 6.0, 22050, frequency=1000.0,
               subtype="PCM_16")
    changed = pack_corpus(source, tmp_path / "s", shard_gb=0.001)
    assert changed["packed"] == 1 and changed["changed"]
    store = scan_corpus(tmp_path / "s")
    [rock] = track_sources(store, ["rock.00002"], 22050)
    [fresh] = track_sources(scan_corpus(source), ["rock.00002"], 22050)
    assert torch.equal(rock.read_int16(22050), fresh.read_int16(22050))


def test_an_interrupted_pack_resumes_at_the_first_missing_shard(tiny_corpus, tmp_path, monkeypatch):
    import gtzan_gpu.data.store_pack as store_module

    real = store_module._pack_shard
    calls = []

    def killed_at_the_fourth_shard(*args):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(args[1])
        return real(*args)

    monkeypatch.setattr(store_module, "_pack_shard", killed_at_the_fourth_shard)
    with pytest.raises(KeyboardInterrupt):
        pack_corpus(tiny_corpus, tmp_path / "s", shard_gb=0.001)
    assert not (tmp_path / "s" / "store.json").exists() and len(list((tmp_path / "s").glob("*.npy"))) == 3
    monkeypatch.setattr(store_module, "_pack_shard", real)
    resumed = pack_corpus(tiny_corpus, tmp_path / "s", shard_gb=0.001)
    assert resumed["reused"] == 3 and resumed["packed"] == resumed["shards"] - 3
    assert not list((tmp_path / "s").glob(".*.tmp"))


@pytest.mark.parametrize("damage, message", [
    ("truncate", "shard shard-00001.npy is unreadable: truncated"),
    ("remove", "shard shard-00001.npy is missing"),
    ("index", "shard shard-00001.npy holds"),
    ("flip", "is damaged (samples at"),
])
def test_a_damaged_store_is_a_one_line_error_naming_the_shard(packed, tmp_path, damage, message):
    import shutil

    store = tmp_path / "s"
    shutil.copytree(packed, store)
    shard = store / "shard-00001.npy"
    if damage == "truncate":
        os.truncate(shard, shard.stat().st_size - 100)
    elif damage == "remove":
        shard.unlink()
    elif damage == "index":
        index = json.loads((store / "store.json").read_text())
        index["shard_samples"][1] += 5
        (store / "store.json").write_text(json.dumps(index))
    else:  # same size, other samples: caught by the crc32 when a track is read whole
        data = np.load(shard)
        data[1000:2000] ^= 0x55
        np.save(shard, data)
    with pytest.raises(GtzanError, match=message.replace("(", "\\(")):
        corpus = scan_corpus(store)
        for track in track_sources(corpus, [t.track_id for t in corpus.tracks], 22050):
            track.read_int16(22050)


def test_pack_refuses_bad_arguments_in_one_line(tiny_corpus, tmp_path, capsys):
    from gtzan_gpu.cli import main

    assert main(["pack", str(tiny_corpus), "--out", str(tmp_path / "s"), "--workers", "0"]) == 2
    assert "--workers must be >= 1" in capsys.readouterr().err
    assert main(["pack", str(tmp_path / "nowhere"), "--out", str(tmp_path / "s")]) == 2
    assert "corpus folder not found" in capsys.readouterr().err


def test_train_and_evaluate_from_a_store_with_the_store_loader(tiny_corpus, packed, tmp_path):
    from gtzan_gpu.training import evaluate_run, fit
    from tests.conftest import small_train_config

    from_folder = fit(small_train_config(tiny_corpus, tmp_path / "folder", epochs=1))
    from_store = fit(small_train_config(packed, tmp_path / "store", epochs=1, loader="store"))
    assert from_store["history"][0]["train_loss"] == pytest.approx(from_folder["history"][0]["train_loss"], rel=1e-6)
    assert from_store["history"][0]["val_accuracy"] == from_folder["history"][0]["val_accuracy"]
    assert evaluate_run(tmp_path / "store", "test", "cpu")["segment"] == \
        evaluate_run(tmp_path / "folder", "test", "cpu")["segment"]
    with pytest.raises(GtzanError, match="--loader store reads a STORE"):
        fit(small_train_config(tiny_corpus, tmp_path / "bad", epochs=1, loader="store"))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_the_store_loader_on_cuda_gives_device_corpus_batches(packed):
    corpus = scan_corpus(packed)
    tracks = track_sources(corpus, [t.track_id for t in corpus.tracks], 22050)
    spec = SegmentSpec(2.0)
    device = torch.device("cuda")
    for a, b in zip(DeviceLoader(tracks, spec, device).batches(16, True, torch.Generator().manual_seed(1)),
                    StoreLoader(tracks, spec, device).batches(16, True, torch.Generator().manual_seed(1)), strict=True):
        assert b[0].device.type == "cuda"
        for x, y in zip(a, b):
            assert torch.equal(x, y)


@pytest.mark.parametrize("damage", ["flip", "offset"])
def test_the_store_loader_checks_every_track_it_serves(packed, tmp_path, damage):
    """Bytes flipped inside a training track, or an index offset pointing at another track's samples: the
    store loader fails with one line naming the shard instead of training on wrong samples."""
    import shutil

    store = tmp_path / "s"
    shutil.copytree(packed, store)
    index = json.loads((store / "store.json").read_text())
    first, second = [t for t in index["tracks"] if t["shard"] == index["tracks"][0]["shard"]][:2]
    shard = store / f"shard-{first['shard']:05d}.npy"
    if damage == "flip":
        data = np.load(shard)
        data[first["offset"] + 500:first["offset"] + 532] ^= 0x55  # 64 bytes
        np.save(shard, data)
    else:
        first["offset"] = second["offset"]
        (store / "store.json").write_text(json.dumps(index))
    corpus = scan_corpus(store)
    loader = StoreLoader(track_sources(corpus, [t.track_id for t in corpus.tracks], 22050), SegmentSpec(2.0))
    with pytest.raises(GtzanError, match=f"store shard .*{shard.name} is damaged: the samples of {first['track_id']}"):
        for _ in loader.batches(16, shuffle=True, generator=torch.Generator().manual_seed(0)):
            pass


def test_a_negative_offset_or_shard_in_the_index_is_refused_when_the_store_opens(packed, tmp_path):
    import shutil

    store = tmp_path / "s"
    shutil.copytree(packed, store)
    index = json.loads((store / "store.json").read_text())
    index["tracks"][3]["offset"] = -1000
    (store / "store.json").write_text(json.dumps(index))
    with pytest.raises(GtzanError, match=r"outside shard shard-\d{5}.npy \(offset -1000"):
        scan_corpus(store)
    index["tracks"][3]["offset"], index["tracks"][3]["shard"] = 0, -1
    (store / "store.json").write_text(json.dumps(index))
    with pytest.raises(GtzanError, match="in shard number -1, which does not exist"):
        scan_corpus(store)


def test_pack_refuses_a_folder_that_is_not_a_store_and_touches_nothing_in_it(tiny_corpus, tmp_path, capsys):
    from gtzan_gpu.cli import main

    target = tmp_path / "mine"
    target.mkdir()
    (target / "store.json").write_text('{"my": "notes"}')
    (target / "shard-00000.json").write_text("[1, 2]")
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    assert main(["pack", str(tiny_corpus), "--out", str(target)]) == 2
    assert "is not a gtzan-gpu store index" in capsys.readouterr().err
    (target / "store.json").unlink()
    del before["store.json"]
    assert main(["pack", str(tiny_corpus), "--out", str(target)]) == 2
    assert "is not empty and is not a store (it holds shard-00000.json)" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before  # no lock file, nothing overwritten


def test_pack_refusals_leave_no_lock_file_behind(tiny_corpus, tmp_path, capsys):
    from gtzan_gpu.cli import main

    assert main(["pack", str(tmp_path / "nope"), "--out", str(tmp_path / "x")]) == 2
    assert not (tmp_path / "x").exists()
    inside = tiny_corpus / "genres_original" / "store"
    assert main(["pack", str(tiny_corpus), "--out", str(inside)]) == 2
    assert "inside the corpus" in capsys.readouterr().err and not inside.exists()


def test_pack_refuses_more_workers_than_cpus(tiny_corpus, tmp_path, capsys):
    from gtzan_gpu.cli import main
    from gtzan_gpu.data.store_pack import usable_cpus

    assert main(["pack", str(tiny_corpus), "--out", str(tmp_path / "s"), "--workers", "100000"]) == 2
    assert f"--workers 100000 is more than the {usable_cpus()} CPU(s)" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def test_scan_of_a_store_without_its_index_says_the_index_is_missing(packed, tmp_path):
    import shutil

    store = tmp_path / "s"
    shutil.copytree(packed, store)
    (store / "store.json").unlink()
    with pytest.raises(GtzanError, match="holds store shards but no store.json index"):
        scan_corpus(store)


def _children(pid: int) -> set[int]:
    """Live processes whose parent is ``pid`` (from /proc)."""
    found = set()
    for stat in __import__("glob").glob("/proc/[0-9]*/stat"):
        try:
            fields = open(stat).read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(stat.split("/")[2]))
    return found


def _alive(pid: int) -> bool:
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")
def test_pack_workers_die_with_a_killed_parent(tiny_corpus, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    parent = subprocess.Popen([sys.executable, "-m", "gtzan_gpu", "-q", "pack", str(tiny_corpus), "--out",
                               str(tmp_path / "s"), "--workers", "2", "--shard-gb", "0.0005"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    workers: set[int] = set()
    while time.monotonic() < deadline and len(workers) < 2 and parent.poll() is None:
        workers = _children(parent.pid)  # the two workers (and the resource tracker) once spawned
        time.sleep(0.05)
    assert len(workers) >= 2, "the workers never started"
    time.sleep(1.0)  # let them finish importing and run their initializer
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(_alive(pid) for pid in workers):
        time.sleep(0.1)
    assert not [pid for pid in workers if _alive(pid)]


def test_the_stream_loader_checks_a_stored_tracks_crc32_before_serving_it(packed, tmp_path):
    import shutil

    from gtzan_gpu.data.dataset import SegmentDataset

    store = tmp_path / "s"
    shutil.copytree(packed, store)
    index = json.loads((store / "store.json").read_text())
    first = index["tracks"][0]
    shard = store / f"shard-{first['shard']:05d}.npy"
    data = np.load(shard)
    data[first["offset"] + 100:first["offset"] + 132] ^= 0x55
    np.save(shard, data)
    corpus = scan_corpus(store)
    dataset = SegmentDataset(track_sources(corpus, [first["track_id"]], 22050), SegmentSpec(2.0))
    with pytest.raises(GtzanError, match=f"store shard .*{shard.name} is damaged"):
        dataset[0]


@pytest.mark.parametrize("tamper, message", [
    (lambda index: index.update(sample_rate="fast"), "sample_rate 'fast' is not a rate"),
    (lambda index: index["tracks"][0].update(shard="zero"), "has no valid shard"),
    (lambda index: index.update(tracks={"a": 1}), "tracks or shard_samples is not a list"),
    (lambda index: index["tracks"][1].update(track_id=index["tracks"][0]["track_id"]), "is listed twice"),
    (lambda index: index["tracks"][0].update(crc32=None), "has no valid crc32"),
    (lambda index: index["genres"].remove(index["tracks"][0]["genre"]), "which the genre list lacks"),
])
def test_a_tampered_store_index_is_refused_in_one_line_when_it_opens(packed, tmp_path, capsys, tamper, message):
    """Issue 31, defect 14: a non-numeric rate or shard, an index that is a list: tracebacks; duplicate ids, a null
    crc32 (bit flips then served) and a genre missing from the list: accepted."""
    import shutil

    from gtzan_gpu.cli import main

    store = tmp_path / "s"
    shutil.copytree(packed, store)
    index = json.loads((store / "store.json").read_text())
    tamper(index)
    (store / "store.json").write_text(json.dumps(index))
    assert main(["scan", str(store)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err and message in err


def test_a_same_size_edit_with_its_mtime_restored_is_packed_again(tiny_corpus, tmp_path):
    """Issue 31, defect 9: re-pack compared size and mtime only, and kept serving the old samples."""
    import os
    import shutil

    source = tmp_path / "c"
    shutil.copytree(tiny_corpus, source)
    pack_corpus(source, tmp_path / "s", shard_gb=0.001)
    wav = source / "genres_original" / "rock" / "rock.00002.wav"
    stat = wav.stat()
    data = bytearray(wav.read_bytes())
    data[1000:1100] = bytes(100)  # 50 samples silenced: same size
    wav.write_bytes(bytes(data))
    os.utime(wav, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert wav.stat().st_size == stat.st_size and wav.stat().st_mtime_ns == stat.st_mtime_ns
    changed = pack_corpus(source, tmp_path / "s", shard_gb=0.001)
    assert changed["packed"] == 1 and changed["changed"]
    [stored] = track_sources(scan_corpus(tmp_path / "s"), ["rock.00002"], 22050)
    [fresh] = track_sources(scan_corpus(source), ["rock.00002"], 22050)
    assert torch.equal(stored.read_int16(22050), fresh.read_int16(22050))
