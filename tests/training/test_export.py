"""Export parity: every model, both STFT backends and the 1-channel front ends, ONNX (onnxruntime) and
TorchScript against PyTorch; an exported ONNX model predicts like its run."""
import json

import pytest

from gtzan_gpu.cli import main
from gtzan_gpu.config import FeatureConfig, ModelConfig
from gtzan_gpu.training import fit
from gtzan_gpu.training.export import PARITY_ATOL, export_run
from tests.conftest import small_train_config

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

# every model once and both STFT backends on the cheap cnn (the backend is the front end's, not the model's; fusion
# with torch.stft is the TorchScript case below)
CASES = [("cnn", "image", "nnaudio"), ("cnn", "image", "torch"), ("resnet18", "image", "torch"),
         ("fusion", "image", "nnaudio"), ("cnn", "logmel", "torch"), ("cnn", "cqt", "nnaudio"),
         ("shortchunk", "logmel", "nnaudio")]


def tiny_run(corpus, out, model, frontend, backend):
    config = small_train_config(corpus, out, model=ModelConfig(model, "none"), epochs=1, max_steps=1, batch_size=4,
                                features=FeatureConfig(frontend=frontend, stft_backend=backend, image_size=32))
    fit(config)
    return out


@pytest.mark.parametrize("model, frontend, backend", CASES, ids=["-".join(c) for c in CASES])
def test_onnx_export_matches_pytorch(model, frontend, backend, tiny_corpus, tmp_path):
    run = tiny_run(tiny_corpus, tmp_path / "run", model, frontend, backend)
    done = export_run(run, "onnx", tmp_path / "model.onnx")
    assert done["max_logit_difference"] <= PARITY_ATOL and done["same_argmax"]
    assert (tmp_path / "model.onnx").stat().st_size == done["bytes"]


@pytest.mark.parametrize("model, backend", [("cnn", "nnaudio"), ("fusion", "torch")])
def test_torchscript_export_matches_pytorch(model, backend, tiny_corpus, tmp_path):
    run = tiny_run(tiny_corpus, tmp_path / "run", model, "image", backend)
    done = export_run(run, "torchscript", tmp_path / "model.pt")
    assert done["max_logit_difference"] <= PARITY_ATOL and done["same_argmax"]


def test_an_exported_onnx_model_predicts_as_its_run(trained_run, tiny_corpus, tmp_path, capsys):
    out = tmp_path / "cnn.onnx"
    assert main(["export", str(trained_run), "--format", "onnx", "--out", str(out), "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["genres"] == json.loads((trained_run / "manifest.json").read_text())["genres"]
    track = tiny_corpus / "genres_original" / "rock" / "rock.00002.wav"
    assert main(["predict", str(trained_run), str(track), "--json", "--device", "cpu"]) == 0
    from_run = json.loads(capsys.readouterr().out)[0]
    assert main(["predict", str(out), str(track), "--json"]) == 0
    from_onnx = json.loads(capsys.readouterr().out)[0]
    assert from_onnx["genre"] == from_run["genre"] and from_onnx["segments"] == from_run["segments"]
    for genre, p in from_run["probabilities"].items():
        assert abs(from_onnx["probabilities"][genre] - p) <= 1e-3
    assert main(["predict", str(tmp_path / "missing.onnx"), str(track)]) == 2
    assert "model file not found" in capsys.readouterr().err
    assert main(["export", str(trained_run), "--format", "onnx", "--out", str(tmp_path)]) == 2  # a directory
    assert "is a folder" in capsys.readouterr().err


def test_predict_with_a_corrupt_onnx_file_is_one_line(tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    from gtzan_gpu.cli import main

    model = tmp_path / "corrupt.onnx"
    model.write_bytes(bytes(range(256)) * 4)
    assert main(["predict", str(model), str(tmp_path / "song.wav")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"{model} is not a loadable ONNX model" in err


def test_export_checks_out_before_the_slow_export(trained_run, tmp_path, capsys, monkeypatch):
    from gtzan_gpu.cli import main
    import gtzan_gpu.training.export as export

    monkeypatch.setattr(export, "load_trained_model", lambda *a, **k: pytest.fail("exported before checking --out"))
    assert main(["export", str(trained_run), "--format", "onnx", "--out", str(tmp_path)]) == 2
    assert f"--out {tmp_path} is a folder" in capsys.readouterr().err
    assert main(["export", str(trained_run), "--format", "onnx", "--out", str(tmp_path / "no" / "m.onnx")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_the_export_command_prints_one_line_and_no_library_logging(trained_run, tmp_path):
    import subprocess
    import sys

    out = tmp_path / "m.onnx"
    done = subprocess.run([sys.executable, "-m", "gtzan_gpu", "export", str(trained_run), "--format", "onnx",
                           "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith("exported cnn") and len(done.stdout.strip().splitlines()) == 1
    assert done.stderr.strip() == "", done.stderr[:500]  # onnxscript's INFO lines used to fill it
