"""ShardStreamLoader (``--loader webdataset``): shard files dealt to ranks and workers, every segment once an epoch,
the order a function of the sampler alone, and training from shards as good as from the folder (issue 33)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest
import torch

from gtzan_gpu.data.catalogue import CorpusSpec
from gtzan_gpu.data.loaders.sampler import EpochSampler
from gtzan_gpu.data.loaders.webdataset import ShardStreamLoader
from gtzan_gpu.data.segments import SegmentSpec, track_sources
from gtzan_gpu.data.shards_write import ShardOptions, write_shards
from gtzan_gpu.data.sources import scan_corpus
from gtzan_gpu.errors import GtzanError

pytest.importorskip("webdataset")
SPEC = SegmentSpec(2.0)


@pytest.fixture(scope="module")
def small_shards(tiny_corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wds") / "shards"
    write_shards(CorpusSpec.of(tiny_corpus), out, ShardOptions(shard_mb=0.4))
    return out


def subset_tracks(shards: Path, count: int = 40):
    corpus = scan_corpus(shards)
    return track_sources(corpus, [t.track_id for t in corpus.tracks][:count], SPEC.sample_rate)


def epoch_segments(loader: ShardStreamLoader, epoch: int, seed: int = 3) -> list[tuple[str, int]]:
    """(track id, segment's first sample value) of every segment of one shuffled epoch, in order."""
    sampler = EpochSampler(0, shuffle=True, seed=seed)
    sampler.set_epoch(epoch)
    seen = []
    for waveforms, _, tracks in loader.batches(8, True, sampler.generator()):
        seen += [(loader.track_ids[int(t)], round(float(w[1000]), 6)) for w, t in zip(waveforms, tracks)]
    return seen


def test_ranks_and_workers_read_disjoint_shard_files_and_every_segment_once(small_shards):
    tracks = subset_tracks(small_shards)
    ranks = [ShardStreamLoader(tracks, SPEC, rank=rank, world_size=2, workers=2) for rank in range(2)]
    assert not set(ranks[0].files) & set(ranks[1].files)
    assert sorted(ranks[0].track_ids + ranks[1].track_ids) == sorted(t.track_id for t in tracks)
    for loader in ranks:
        seen = epoch_segments(loader, 0)
        assert len(seen) == len(loader) == len(set(seen))  # every segment of the rank once, no repeats
        assert Counter(track for track, _ in seen) == Counter(loader.track_ids[int(t)]
                                                              for t in loader.index.track_of_segment)


def test_the_order_is_a_function_of_the_epoch_so_a_resumed_run_sees_the_same_epoch(small_shards):
    loader = ShardStreamLoader(subset_tracks(small_shards), SPEC)
    first, again, second = epoch_segments(loader, 0), epoch_segments(loader, 0), epoch_segments(loader, 1)
    assert first == again and first != second and sorted(first) == sorted(second)
    unshuffled = [loader.track_ids[int(t)] for _, _, ts in loader.batches(8) for t in ts]
    assert unshuffled == [loader.track_ids[int(t)] for t in loader.index.track_of_segment]


def test_its_batches_hold_the_device_loaders_segments(small_shards):
    from gtzan_gpu.data.loaders.device import DeviceLoader

    tracks = subset_tracks(small_shards, 12)
    stream, device = ShardStreamLoader(tracks, SPEC), DeviceLoader(tracks, SPEC)
    ordered = {}
    for waveforms, labels, positions in stream.batches(5):
        for w, label, p in zip(waveforms, labels, positions):
            ordered.setdefault(stream.track_ids[int(p)], []).append((w, int(label)))
    for waveforms, labels, positions in device.batches(5):
        for w, label, p in zip(waveforms, labels, positions):
            mine, mine_label = ordered[device.track_ids[int(p)]].pop(0)
            assert torch.equal(mine, w) and mine_label == int(label)
    shown = stream.gather(torch.tensor([0, 3]))
    assert torch.equal(shown[0], device.gather(torch.tensor([0, 3]))[0])


def test_it_refuses_audio_folders_and_fewer_files_than_ranks_in_one_line(tiny_corpus, small_shards):
    corpus = scan_corpus(tiny_corpus)
    with pytest.raises(GtzanError, match="streams WebDataset shards"):
        ShardStreamLoader(track_sources(corpus, [corpus.tracks[0].track_id], 22050), SPEC)
    one_file = [t for t in subset_tracks(small_shards) if t.path == subset_tracks(small_shards)[0].path]
    with pytest.raises(GtzanError, match="1 file\\(s\\) for 2 ranks"):
        ShardStreamLoader(one_file, SPEC, rank=0, world_size=2)


def test_streaming_from_shards_trains_within_0_05_of_the_folder(tmp_path):
    """The issue's bar: the same manifest and seed, the device loader on the folder vs the webdataset loader on
    its shards, scored on the same test tracks (synthetic corpus, labelled so)."""
    from gtzan_gpu.cli import main
    from gtzan_gpu.data.synth import write_synthetic_corpus
    from gtzan_gpu.training.evaluate import evaluate_run

    corpus = write_synthetic_corpus(tmp_path / "corpus", tracks_per_genre=10, seconds=6.0, seed=0)
    write_shards(CorpusSpec.of(corpus), tmp_path / "shards", ShardOptions(shard_mb=0.5))
    assert main(["split", str(corpus), "--out", str(tmp_path / "m.json"), "-q"]) == 0
    accuracy = {}
    for data, loader in ((corpus, "device"), (tmp_path / "shards", "webdataset")):
        assert main(["train", "--data", str(data), "--loader", loader, "--workers", "0", "--manifest",
                     str(tmp_path / "m.json"), "--epochs", "12", "--segment-seconds", "2", "--image-size", "64",
                     "--stft-backend", "torch", "--device", "cpu", "--out", str(tmp_path / loader), "-q"]) == 0
        accuracy[loader] = evaluate_run(tmp_path / loader, "test", "cpu")["segment"]["accuracy"]
    assert accuracy["device"] > 0.8 and abs(accuracy["webdataset"] - accuracy["device"]) <= 0.05, accuracy


RANK_SCRIPT = textwrap.dedent("""\
    import json, sys
    import torch.distributed as dist
    from gtzan_gpu.config import TrainConfig
    from gtzan_gpu.training.run_data import load_run_data

    dist.init_process_group("gloo")
    config = TrainConfig(data=sys.argv[1], loader="webdataset", workers=1, segment_seconds=2.0, device="cpu",
                         split_seed=7)
    data = load_run_data(config)
    batches = data.batches("train", config, "cpu", training=True, rank=dist.get_rank(),
                           world_size=dist.get_world_size())
    batches.sampler.set_epoch(1)
    seen = [batches.track_ids[int(t)] for _, _, ts in batches.epoch() for t in ts]
    every = [None, None]
    dist.all_gather_object(every, {"seen": seen, "train": sorted(data.manifest.subsets["train"])})
    if dist.get_rank() == 0:
        print(json.dumps(every))
    dist.destroy_process_group()
    """)


def test_two_gloo_ranks_never_see_the_same_sample_in_an_epoch(small_shards, tmp_path):
    (tmp_path / "rank_probe.py").write_text(RANK_SCRIPT)
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(tmp_path / "rank_probe.py"), str(small_shards)], capture_output=True, text=True,
                          timeout=240, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = json.loads(done.stdout.strip().splitlines()[-1])
    tracks = [set(rank["seen"]) for rank in ranks]
    assert tracks[0] and tracks[1] and not tracks[0] & tracks[1]
    assert tracks[0] | tracks[1] == set(ranks[0]["train"])  # together: every training track, no other


def test_a_resumed_streaming_run_reaches_the_uninterrupted_weights(small_shards, tmp_path, monkeypatch):
    """``set_epoch`` and resume as the other loaders: the epoch's order comes from (seed, epoch) alone."""
    import gtzan_gpu.training.engine as engine
    from gtzan_gpu.training import fit
    from tests.conftest import small_train_config

    def config(out):
        return small_train_config(small_shards, out, epochs=2, loader="webdataset", batch_size=8)

    fit(config(tmp_path / "straight"))
    saved = engine.save_checkpoint
    calls = []

    def interrupt_after_first_epoch(path, payload):
        saved(path, payload)
        calls.append(path)
        if len(calls) == 2:  # best.pt and last.pt of epoch 1
            raise KeyboardInterrupt
    monkeypatch.setattr(engine, "save_checkpoint", interrupt_after_first_epoch)
    with pytest.raises(KeyboardInterrupt):
        fit(config(tmp_path / "resumed"))
    monkeypatch.setattr(engine, "save_checkpoint", saved)
    fit(config(tmp_path / "resumed"), resume=True)
    straight, resumed = (torch.load(tmp_path / run / "last.pt", weights_only=False)["model"]
                         for run in ("straight", "resumed"))
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)


def test_the_loader_option_on_other_data_and_without_webdataset_is_one_line(tiny_corpus, small_shards, tmp_path,
                                                                           capsys, monkeypatch):
    from gtzan_gpu.cli import main

    argv = ["train", "--model", "cnn", "--segment-seconds", "2", "--epochs", "1", "--device", "cpu",
            "--loader", "webdataset"]
    assert main([*argv, "--data", str(tiny_corpus), "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("gtzan-gpu train: error: --loader webdataset streams WebDataset shards")
    from tests.conftest import hide_package

    hide_package(monkeypatch, "webdataset")
    assert main([*argv, "--data", str(small_shards), "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "needs the webdataset package: pip install 'gtzan-gpu[formats]'" in err and "Traceback" not in err


def test_shards_elsewhere_are_streamed_from_a_url_prefix_webdataset_opens(small_shards, tmp_path, capsys):
    """A corpus larger than the local disk: DATA holds only shards.json, the tars are wherever webdataset opens them
    (here through ``pipe:cat``, as ``pipe:curl`` reads http or ``pipe:aws s3 cp`` reads S3)."""
    import shutil

    from gtzan_gpu.cli import main

    local, far = tmp_path / "local", tmp_path / "far"
    local.mkdir()
    shutil.copy(small_shards / "shards.json", local)
    shutil.copytree(small_shards, far)
    url = f"pipe:cat {far}/"
    assert main(["split", str(local), "--shard-url", url, "--out", str(tmp_path / "m.json"), "-q"]) == 0
    assert main(["train", "--data", str(local), "--shard-url", url, "--manifest", str(tmp_path / "m.json"),
                 "--model", "cnn", "--segment-seconds", "2", "--epochs", "1", "--image-size", "32", "--device", "cpu",
                 "--workers", "0", "--out", str(tmp_path / "run"), "-q"]) == 0  # auto: the only loader that can
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "run"), "--json", "-q"]) == 0
    manifest = json.loads((tmp_path / "m.json").read_text())
    assert json.loads(capsys.readouterr().out)["track"]["count"] == len(manifest["subsets"]["test"])
    for argv, message in ((["train", "--data", str(local), "--loader", "device"], "shards elsewhere (--shard-url)"),
                          (["scan", str(local)], "is missing or not the size")):
        extra = ["--shard-url", url] if argv[0] == "train" else []
        assert main([*argv, *extra, "--out", str(tmp_path / "x")] if argv[0] == "train" else argv) == 2
        assert message in capsys.readouterr().err


def test_auto_on_shards_elsewhere_deals_files_to_ranks_once(small_shards, tmp_path):
    """With --shard-url, ``auto`` can only pick the webdataset loader, which must then get every track of the subset
    to deal its files (not a rank's share of the tracks, which it would cut again)."""
    import shutil

    from gtzan_gpu.config import TrainConfig
    from gtzan_gpu.training.run_data import load_run_data

    (tmp_path / "local").mkdir()
    shutil.copy(small_shards / "shards.json", tmp_path / "local")
    config = TrainConfig(data=str(tmp_path / "local"), shard_url=f"pipe:cat {small_shards}/", segment_seconds=2.0,
                         device="cpu", workers=0)
    data = load_run_data(config)
    ranks = [data.batches("train", config, torch.device("cpu"), training=True, rank=r, world_size=2) for r in (0, 1)]
    assert [b.loader_name for b in ranks] == ["webdataset", "webdataset"]
    assert not set(ranks[0].track_ids) & set(ranks[1].track_ids)
    assert sorted(ranks[0].track_ids + ranks[1].track_ids) == sorted(data.manifest.subsets["train"])
