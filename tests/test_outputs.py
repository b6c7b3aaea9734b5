"""No output overwrites an input (issue 31, defect 1): every user-named output goes through one check."""
import shutil

import pytest

from gtzan_gpu.cli import main
from gtzan_gpu.errors import GtzanError
from gtzan_gpu.outputs import check_output


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "Traceback" not in err
    return err


def test_the_rule(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text("{}")
    (run / "best.pt").write_bytes(b"x")
    store = tmp_path / "store"
    store.mkdir()
    (store / "store.json").write_text("{}")
    (store / "shard-00000.npy").write_bytes(b"x")
    audio = tmp_path / "song.flac"
    audio.write_bytes(b"x")
    for path, inputs, message in ((audio, (audio,), "is an input of this command"),
                                  (run / "best.pt", (run,), "is a file of the input folder"),
                                  (run / "best.pt", (), "is a file of the run folder"),
                                  (store / "shard-00000.npy", (), "is a file of the store"),
                                  (audio, (), "is an audio file")):
        with pytest.raises(GtzanError, match=message):
            check_output(path, "--out", inputs)
    assert check_output(run / "model.onnx", "--out", (run,)) == (run / "model.onnx").resolve()  # a new file: fine
    (tmp_path / "old.png").write_bytes(b"png")
    assert check_output(tmp_path / "old.png", "--timeline")  # one's own earlier output: fine


def test_predict_timeline_export_and_split_never_overwrite_their_inputs(trained_run, tiny_corpus, tmp_path, capsys):
    corpus = tmp_path / "corpus"
    shutil.copytree(tiny_corpus, corpus)
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    wav = corpus / "genres_original" / "rock" / "rock.00001.wav"
    before = {p: p.read_bytes() for p in (wav, run / "best.pt")}
    assert main(["predict", str(run), str(wav), "--timeline", str(wav), "--device", "cpu"]) == 2
    assert "is an input of this command" in one_line_error(capsys)
    assert main(["predict", str(run), str(wav), "--timeline", str(run / "best.pt"), "--device", "cpu"]) == 2
    assert "best.pt" in one_line_error(capsys)
    assert main(["export", str(run), "--format", "onnx", "--out", str(run / "best.pt")]) == 2
    assert "--out" in one_line_error(capsys)
    assert main(["split", str(corpus), "--out", str(wav)]) == 2
    assert "--out" in one_line_error(capsys)
    assert all(p.read_bytes() == data for p, data in before.items())


def test_bench_out_onto_an_audio_file_is_refused_before_measuring(tiny_corpus, tmp_path, capsys, monkeypatch):
    import gtzan_gpu.bench as bench

    monkeypatch.setattr(bench, "run_benchmarks", lambda *a: pytest.fail("--out must be checked before measuring"))
    wav = tmp_path / "song.wav"
    shutil.copy(tiny_corpus / "genres_original" / "rock" / "rock.00001.wav", wav)
    before = wav.read_bytes()
    assert main(["bench", "--quick", "--stages", "features", "--out", str(wav), "--device", "cpu"]) == 2
    assert "is an audio file" in one_line_error(capsys) and wav.read_bytes() == before
