"""Runs on a pretrained encoder work with every other command unchanged: evaluate, predict, compare, export,
TensorBoard, and torchrun DDP (2 gloo ranks). The encoder's weights are a musicnn-layout checkpoint folder the test
writes, so this runs with or without the musicnn wheel."""
import json

import pytest

from gtzan_gpu.cli import main
from gtzan_gpu.training.checkpoint import load_checkpoint
from tests.models.pretrained.test_transfer import musicnn_folder
from tests.training.test_distributed import torchrun

PROBE = ["--model", "musicnn", "--freeze-backbone", "--segment-seconds", "2", "--epochs", "1", "--batch-size", "16",
         "--device", "cpu", "--stft-backend", "torch", "--log-every", "100"]


@pytest.fixture(scope="module")
def probe_runs(tiny_corpus, tmp_path_factory):
    root = tmp_path_factory.mktemp("probe")
    weights = f"musicnn:{musicnn_folder(root)}"
    runs = []
    for head in ("linear", "mlp"):
        run = root / head
        assert main(["train", "--data", str(tiny_corpus), "--out", str(run), "--weights", weights, "--head", head,
                     *PROBE, "-q"]) == 0
        runs.append(run)
    return weights, runs


def test_a_frozen_probe_is_scored_exported_and_compared_like_any_run(probe_runs, tiny_corpus, tmp_path, capsys):
    weights, (linear, mlp) = probe_runs
    last = load_checkpoint(linear / "last.pt")
    assert last["config"]["model"]["weights"] == weights and last["config"]["features"]["frontend"] == "musicnn"
    assert last["config"]["model"]["freeze_backbone"] is True
    assert len(list((linear / "tb").glob("events.out.tfevents.*"))) >= 1
    for run in (linear, mlp):
        assert main(["evaluate", str(run), "--device", "cpu", "--json", "-q"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["track"]["accuracy"] >= 0.0 and (run / "gradcam_test.png").is_file()
    assert main(["compare", str(linear), str(mlp), "--json"]) == 0
    assert "track" in json.loads(capsys.readouterr().out)
    wav = tiny_corpus / "genres_original" / "rock" / "rock.00001.wav"
    assert main(["predict", str(linear), str(wav), "--json", "--device", "cpu", "-q"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["segments"] == 3
    onnx = tmp_path / "probe.onnx"
    assert main(["export", str(linear), "--format", "onnx", "--out", str(onnx), "--json", "-q"]) == 0
    assert json.loads(capsys.readouterr().out)["max_logit_difference"] < 1e-3


def test_a_frozen_probe_trains_under_ddp(probe_runs, tiny_corpus, tmp_path):
    weights, _ = probe_runs
    run = tmp_path / "ddp"
    done = torchrun("train", "--data", str(tiny_corpus), "--out", str(run), "--weights", weights, *PROBE)
    assert done.returncode == 0, done.stderr[-3000:]
    assert load_checkpoint(run / "last.pt")["world_size"] == 2
