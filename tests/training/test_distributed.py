"""Data parallel training under torchrun: 2 gloo processes on the CPU, tiny corpus."""
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import torch

from gtzan_gpu.training.checkpoint import load_checkpoint
from gtzan_gpu.data.loaders.sampler import shard_tracks
from gtzan_gpu.training.evaluate import score_run

TRAIN = ["--segment-seconds", "2", "--batch-size", "8", "--device", "cpu", "--image-size", "32",
         "--stft-backend", "torch", "--log-every", "100"]


def torchrun(*argv: str, env: dict | None = None, timeout: float = 240, ranks: int = 2) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(ranks),
               "-m", "gtzan_gpu", *argv]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})})


def launch(*argv: str, env: dict | None = None, timeout: float = 240, ranks: int = 2) -> subprocess.CompletedProcess:
    """``gtzan-gpu launch``: the same ranks as :func:`torchrun`, without torchrun's own failure report."""
    command = [sys.executable, "-m", "gtzan_gpu", "launch", "--standalone", "--nproc-per-node", str(ranks), *argv]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})})


def test_rank_shards_are_disjoint_cover_the_subset_and_balance_genres():
    ids = [f"{g}.{i:05d}" for g in ("blues", "jazz", "rock") for i in range(7)]
    genre_of = {i: i.split(".")[0] for i in ids}
    for world in (2, 3, 4):
        shards = [shard_tracks(ids, genre_of, rank, world) for rank in range(world)]
        assert sorted(sum(shards, [])) == sorted(ids)
        assert max(map(len, shards)) - min(map(len, shards)) <= 1
        for genre in ("blues", "jazz", "rock"):
            counts = [Counter(genre_of[i] for i in shard)[genre] for shard in shards]
            assert max(counts) - min(counts) <= 1


def test_ddp_trains_learns_and_checkpoints_load_in_one_process(tiny_corpus, tmp_path):
    run = tmp_path / "ddp"
    done = torchrun("train", "--data", str(tiny_corpus), "--out", str(run), "--epochs", "4", "--lr", "2e-3", *TRAIN)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("best validation accuracy") == 1  # rank 0 reports alone
    last = load_checkpoint(run / "last.pt")
    assert last["world_size"] == 2 and len(last["rng"]["ranks"]) == 2
    assert not any(key.startswith("module.") for key in last["model"])
    assert last["best"]["val_accuracy"] >= 0.4  # 10 genres: chance is 0.1
    assert len(list((run / "tb").glob("events.out.tfevents.*"))) >= 1
    # evaluation under torchrun (test tracks split across ranks, gathered) == one process on the same checkpoint
    single = score_run(run, "test", "cpu")
    done = torchrun("evaluate", str(run), "--json", "--device", "cpu")
    assert done.returncode == 0, done.stderr[-3000:]
    gathered = json.loads(done.stdout)
    for level in ("segment", "track"):
        assert gathered[level]["confusion"] == single[level]["confusion"]
        assert gathered[level]["accuracy"] == single[level]["accuracy"]
    assert abs(gathered["loss"] - single["loss"]) < 1e-5
    again = torchrun("evaluate", str(run), "--json", "--device", "cpu")  # TensorBoard's run exists now
    assert again.returncode == 0 and json.loads(again.stdout)["track"] == gathered["track"]


def test_resume_under_ddp_equals_an_uninterrupted_ddp_run(tiny_corpus, tmp_path):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert torchrun("train", "--data", str(tiny_corpus), "--out", str(straight), "--epochs", "3", *TRAIN).returncode == 0
    assert torchrun("train", "--data", str(tiny_corpus), "--out", str(resumed), "--epochs", "2", *TRAIN).returncode == 0
    done = torchrun("train", "--resume", str(resumed), "--epochs", "3")
    assert done.returncode == 0, done.stderr[-3000:]
    a, b = load_checkpoint(straight / "last.pt"), load_checkpoint(resumed / "last.pt")
    assert a["epoch"] == b["epoch"] == 3
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert [h["val_loss"] for h in a["history"]] == [h["val_loss"] for h in b["history"]]
    refused = launch("train", "--resume", str(resumed), "--epochs", "4", ranks=3)
    assert refused.returncode != 0
    ours = [line for line in refused.stderr.splitlines() if line.startswith("gtzan-gpu train:")]
    assert ours == [f"gtzan-gpu train: error: {resumed / 'last.pt'} was written by 2 rank(s); resume it with the "
                    f"same world size, not 3"]  # said once, by rank 0; the other ranks are quiet
    assert "gtzan_gpu/" not in refused.stderr  # no traceback through our code
    # through gtzan-gpu launch: that line is all, and the exit status is bad input's, as in one process
    assert refused.returncode == 2 and refused.stderr.strip().splitlines() == ours


def test_a_failing_rank_ends_the_job_within_a_bounded_time(tiny_corpus, tmp_path):
    hook = Path(__file__).parent / "ddp_failure"
    started = time.monotonic()
    done = launch("train", "--data", str(tiny_corpus), "--out", str(tmp_path / "run"), "--epochs", "3", *TRAIN,
                  env={"PYTHONPATH": os.pathsep.join([str(hook), os.environ.get("PYTHONPATH", "")])}, timeout=120)
    assert done.returncode != 0
    assert time.monotonic() - started < 90
    assert "gtzan-gpu train: error: rank 1: rank 1 failed on purpose" in done.stderr
    assert "gtzan-gpu train: error: rank 0 stopped: another rank failed first" in done.stderr
    assert "gtzan_gpu/" not in done.stderr  # rank 0's lost connection is one line, not a traceback
    assert done.returncode == 2 and "ChildFailedError" not in done.stderr  # rank 1's status; no launcher report


def test_launch_splits_torchrun_options_from_the_command_and_refuses_bad_ones_in_one_line(capsys):
    from gtzan_gpu.cli import main
    from gtzan_gpu.launch import split_argv

    assert split_argv(["--standalone", "--nproc-per-node", "2", "train", "--data", "x"]) == \
        (["--standalone", "--nproc-per-node", "2"], ["train", "--data", "x"])
    for argv, message in ((["launch", "--nproc-per-node", "2"], "name the command to run as ranks"),
                          (["launch", "--bogus", "train"], "torchrun options: unrecognized arguments: --bogus")):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("gtzan-gpu launch: error: ") and message in err and "\n" not in err
    assert main(["launch", "--help"]) == 0 and "TORCHRUN OPTIONS" in capsys.readouterr().out


def test_launch_rejects_a_bad_rank_count_in_one_line(capsys):
    """Issue 31, defect 11: 0, -3 and abc were AssertionError / ValueError tracebacks."""
    from gtzan_gpu.cli import main

    for value in ("0", "-3", "abc"):
        assert main(["launch", "--standalone", "--nproc-per-node", value, "train", "--data", "x"]) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and f"--nproc-per-node {value}: give a positive number" in err


def test_a_signal_to_launch_ends_it_with_the_signals_status_and_one_line(tiny_corpus, tmp_path):
    """Issue 31, defect 10: SIGINT / SIGTERM to a 2-rank launch printed SignalException's traceback, exit 1."""
    import signal

    for sig, status in ((signal.SIGINT, 130), (signal.SIGTERM, 143)):
        command = [sys.executable, "-m", "gtzan_gpu", "launch", "--standalone", "--nproc-per-node", "2", "train",
                   "--data", str(tiny_corpus), "--out", str(tmp_path / sig.name), "--epochs", "50", *TRAIN]
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env={**os.environ, "OMP_NUM_THREADS": "1"})
        deadline = time.monotonic() + 120
        while not (tmp_path / sig.name / "last.pt").exists() and time.monotonic() < deadline:
            time.sleep(0.5)
        process.send_signal(sig)
        _, err = process.communicate(timeout=120)
        assert process.returncode == status, err[-2000:]
        assert "Traceback" not in err and f"interrupted by {sig.name}" in err
