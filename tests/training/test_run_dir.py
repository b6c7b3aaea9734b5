"""RUN_DIR ownership: one process at a time, never silently reused, nothing left behind by a failed start."""
import json
import signal
import subprocess
import sys

import pytest

from gtzan_gpu.cli import main
from gtzan_gpu.errors import GtzanError
from gtzan_gpu.training import fit
from gtzan_gpu.training.run_dir import claim_run_dir

TRAIN = ["--model", "cnn", "--segment-seconds", "2", "--epochs", "1", "--batch-size", "16", "--device", "cpu",
         "--image-size", "32", "--stft-backend", "torch"]


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    return err


def hold_lock(folder):
    """A separate process that holds ``folder``'s lock until killed; returns once the lock is held."""
    code = ("import sys, time\nfrom gtzan_gpu.locking import exclusive_lock\n"
            "with exclusive_lock(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(120)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(folder)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_run_on_a_locked_run_dir_names_the_holder_and_a_killed_holder_frees_it(tiny_corpus, tmp_path,
                                                                                         capsys):
    run = tmp_path / "run"
    holder = hold_lock(run)
    try:
        assert main(["train", "--data", str(tiny_corpus), "--out", str(run), *TRAIN]) == 2
        err = one_line_error(capsys)
        assert f"run directory {run} is in use by pid {holder.pid}" in err
        assert not (run / "last.pt").exists()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert main(["train", "--data", str(tiny_corpus), "--out", str(run), *TRAIN]) == 0  # the kernel freed the lock
    assert (run / "last.pt").is_file()


def test_a_run_dir_holding_a_run_needs_resume_or_overwrite(trained_run, tiny_corpus, tmp_path, capsys):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    manifest_before = (run / "manifest.json").read_bytes()
    (run / "eval_test.json").write_text("{}")
    assert main(["train", "--data", str(tiny_corpus), "--out", str(run), *TRAIN]) == 2
    err = one_line_error(capsys)
    assert "already holds a run" in err and f"--resume {run}" in err and "--overwrite" in err
    assert (run / "manifest.json").read_bytes() == manifest_before and (run / "eval_test.json").exists()
    old_events = set((run / "tb").rglob("events.out.tfevents.*"))
    assert old_events
    assert main(["train", "--data", str(tiny_corpus), "--out", str(run), "--overwrite", *TRAIN]) == 0
    assert not (run / "eval_test.json").exists()  # the old run's reports went with it
    assert not any(path.exists() for path in old_events)  # one run's TensorBoard logs, not two mixed


def test_a_non_empty_folder_that_is_no_run_is_never_cleared(tiny_corpus, tmp_path, capsys):
    folder = tmp_path / "documents"
    folder.mkdir()
    (folder / "thesis.tex").write_text("precious")
    for extra in ([], ["--overwrite"]):
        assert main(["train", "--data", str(tiny_corpus), "--out", str(folder), *TRAIN, *extra]) == 2
        assert "holds no gtzan-gpu run" in one_line_error(capsys)
    assert (folder / "thesis.tex").read_text() == "precious"


def test_a_failed_start_leaves_no_run_dir(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data", str(tmp_path / "nowhere"), "--out", str(run), *TRAIN]) == 2
    assert "corpus folder not found" in one_line_error(capsys)
    assert not run.exists()
    existing = tmp_path / "empty"
    existing.mkdir()
    assert main(["train", "--data", str(tmp_path / "nowhere"), "--out", str(existing), *TRAIN]) == 2
    assert existing.is_dir() and [p.name for p in existing.iterdir()] in ([], [".lock"])
    nested = tmp_path / "made" / "for" / "run"  # parents the failed start made go too, while empty
    (tmp_path / "made" / "sibling").mkdir(parents=True)
    assert main(["train", "--data", str(tmp_path / "nowhere"), "--out", str(nested), *TRAIN]) == 2
    assert not (tmp_path / "made" / "for").exists() and (tmp_path / "made" / "sibling").is_dir()


def test_stale_checkpoint_temporaries_are_removed_at_start(trained_run, tmp_path):
    import shutil

    from gtzan_gpu.config import TrainConfig
    from gtzan_gpu.training.checkpoint import load_checkpoint

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    stale = [run / ".last.pt.x1y2z3.tmp", run / ".best.pt.a1b2c3.tmp"]
    for path in stale:
        path.write_bytes(b"\0" * 1000)
    keep = run / ".notes.tmp"
    keep.write_text("not ours")
    config = TrainConfig.from_dict({**load_checkpoint(run / "last.pt")["config"], "out": str(run)})
    fit(config, resume=True)
    assert not any(p.exists() for p in stale) and keep.exists()


def test_resume_of_a_run_killed_before_its_first_checkpoint_says_so(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"format": "gtzan-gpu/run"}))  # what a kill -9 before epoch 1 leaves
    (run / "tb").mkdir()
    with pytest.raises(GtzanError, match="stopped before its first checkpoint.*--overwrite"):
        with claim_run_dir(run, "resume"):
            pass
    with claim_run_dir(run, "overwrite"):
        assert not (run / "tb").exists()
        assert json.loads((run / "run.json").read_text())["format"] == "gtzan-gpu/run"


def test_a_checkpoint_holding_code_is_refused_without_torchs_retry_advice(tmp_path):
    import io
    import os

    import torch

    from gtzan_gpu.errors import GtzanError
    from gtzan_gpu.training.checkpoint import load_checkpoint

    class Payload:
        def __reduce__(self):
            return os.system, ("touch " + str(tmp_path / "ran"),)

    buffer = io.BytesIO()
    torch.save({"format": "x", "payload": Payload()}, buffer)
    (tmp_path / "evil.pt").write_bytes(buffer.getvalue())
    with pytest.raises(GtzanError) as caught:
        load_checkpoint(tmp_path / "evil.pt")
    assert "never loaded" in str(caught.value) and "weights_only" not in str(caught.value)
    assert not (tmp_path / "ran").exists()


def test_a_run_killed_before_its_first_checkpoint_offers_overwrite_both_ways(tiny_corpus, tmp_path, capsys):
    """Issue 31, defect 16: a rerun said 'continue it with --resume' and --resume said 'no checkpoint'."""
    from gtzan_gpu.cli import main

    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text('{"format": "gtzan-gpu/run"}')  # what kill -9 before the first checkpoint leaves
    common = ["--segment-seconds", "2", "--epochs", "1", "--stft-backend", "torch", "--image-size", "32"]
    for argv in (["train", "--data", str(tiny_corpus), "--out", str(run), *common], ["train", "--resume", str(run)]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and "stopped before its first checkpoint" in err and "--overwrite" in err
    assert main(["train", "--data", str(tiny_corpus), "--out", str(run), *common, "--overwrite", "-q"]) == 0
