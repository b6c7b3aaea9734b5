"""The doctor runs every check on this CPU, reports PASS/FAIL with reasons, and exits 1 on a failure."""
import json

import pytest
import torch

from gtzan_gpu.cli import main
from gtzan_gpu.doctor import checks


def test_the_doctor_passes_on_this_cpu_and_reports_the_environment(capsys):
    assert main(["doctor", "--device", "cpu", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    environment = report["environment"]
    assert environment["torch"] == torch.__version__ and environment["device_type"] == "cpu"
    assert {"nnAudio", "libsndfile", "cuda", "cudnn", "driver", "precision"} <= set(environment)
    names = [c["name"] for c in report["checks"]]
    assert names == ["feature layers match the CPU", "no host sync in forward",
                     "conv STFT and CQT stay fp32 under TF32 and bf16 autocast", "training steps of every model",
                     "checkpoint save/load round trip", "2-rank DDP step", "front-end throughput"]
    assert all(c["passed"] for c in report["checks"]), report["checks"]
    assert "gloo" in report["checks"][5]["detail"] and "cnn" in report["checks"][3]["detail"]


def test_a_failing_check_is_a_fail_line_and_exit_1(capsys, monkeypatch):
    def broken(device):
        raise AssertionError("spectrogram (nnAudio): max difference 3.0e-01 > 0.002")

    monkeypatch.setattr(checks, "check_features_match_cpu", broken)
    monkeypatch.setattr(checks, "check_ddp", lambda device: "skipped in this test")
    assert main(["doctor", "--device", "cpu"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  feature layers match the CPU" in out and "max difference 3.0e-01" in out
    assert "PASS  checkpoint save/load round trip" in out and "1 failed: feature layers match the CPU" in out


def test_doctor_on_cuda_without_cuda_is_one_line(capsys):
    if torch.cuda.is_available():
        return
    assert main(["doctor", "--device", "cuda"]) == 2
    assert "no CUDA device" in capsys.readouterr().err


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_the_doctor_passes_on_cuda(capsys):
    assert main(["doctor", "--device", "cuda", "--json"]) == 0, capsys.readouterr().out
