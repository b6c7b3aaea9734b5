import json

import pytest

from gtzan_gpu.cli import main


def test_every_subcommand_has_help(capsys):
    for command in ("synth", "scan", "pack", "split", "train", "evaluate", "predict", "compare", "export", "demo",
                    "doctor", "bench", "experiment"):
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
        assert "usage: gtzan-gpu " + command in capsys.readouterr().out


def test_synth_scan_split_on_a_fresh_corpus(tmp_path, capsys):
    assert main(["synth", str(tmp_path / "c"), "--tracks-per-genre", "5", "--seconds", "2"]) == 0
    assert main(["scan", str(tmp_path / "c"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert summary["tracks"] == 50 and summary["excluded"][0]["path"] == "jazz/jazz.00054.wav"
    assert main(["split", str(tmp_path / "c"), "--out", str(tmp_path / "m.json")]) == 0
    manifest = json.loads((tmp_path / "m.json").read_text())
    assert [len(manifest["subsets"][k]) for k in ("train", "val", "test")] == [30, 10, 10]


def test_scan_reports_a_hand_damaged_copy_in_text(corpus_copy, capsys):
    (corpus_copy / "genres_original" / "rock" / "rock.00001.wav").write_bytes(b"")
    assert main(["scan", str(corpus_copy)]) == 0
    out = capsys.readouterr().out
    assert "rock/rock.00001.wav: empty file" in out and "excluded: 2" in out


def test_a_missing_corpus_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["split", str(tmp_path / "nope"), "--out", str(tmp_path / "m.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "corpus folder not found" in err and "nope" in err
    assert not (tmp_path / "m.json").exists()


def test_bad_option_values_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["split", "x", "--out", "m.json", "--scheme", "alphabetical"])
    assert exit_info.value.code == 2


def test_train_evaluate_predict_from_the_command_line(tiny_corpus, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data", str(tiny_corpus), "--out", str(run), "--model", "cnn", "--segment-seconds", "2",
                 "--epochs", "1", "--batch-size", "16", "--device", "cpu", "--image-size", "64",
                 "--stft-backend", "torch"]) == 0
    assert "best validation accuracy" in capsys.readouterr().out
    assert main(["evaluate", str(run), "--json", "--device", "cpu"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["split"] == "test" and 0 <= report["track"]["accuracy"] <= 1
    track = tiny_corpus / "genres_original" / "pop" / "pop.00001.wav"
    assert main(["predict", str(run), str(track), "--json", "--device", "cpu"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["file"] == str(track)
    assert main(["predict", str(run), str(track), str(tmp_path / "missing.wav"), "--device", "cpu"]) == 1
    captured = capsys.readouterr()
    assert "missing.wav: file not found" in captured.err and "pop.00001.wav:" in captured.out
    assert main(["train", "--resume", str(run)]) == 0  # already finished: resumes to the end at once


@pytest.mark.parametrize("argv, message", [
    (["train", "--model", "cnn"], "train needs --data DATA"),
    (["train", "--data", "nowhere"], "corpus folder not found"),
    (["train", "--data", "nowhere", "--out", "run"], "corpus folder not found"),
    (["train", "--resume", "nowhere"], "no checkpoint at nowhere/last.pt"),
    (["evaluate", "nowhere"], "run directory not found"),
])
def test_usage_errors_are_one_line_exit_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err


def test_train_without_out_names_the_run_folder_for_what_it_is(tiny_corpus, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = ["train", "--data", str(tiny_corpus), "--segment-seconds", "2", "--max-steps", "1", "--batch-size", "8",
            "--device", "cpu", "--image-size", "32", "--seed", "3", "--saliency-every", "0"]
    assert main(argv) == 0
    assert "-> runs/cnn-2s-random-seed3/best.pt" in capsys.readouterr().out
    assert (tmp_path / "runs" / "cnn-2s-random-seed3" / "last.pt").is_file()
    assert main(argv) == 2  # the same run again is refused, never silently overwritten
    assert "--resume" in capsys.readouterr().err


def test_an_unknown_model_is_a_usage_error():
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--data", "x", "--out", "y", "--model", "vgg"])
    assert exit_info.value.code == 2


def test_resnet18_without_cached_imagenet_weights_says_how_to_get_them(tiny_corpus, tmp_path, capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    assert main(["train", "--data", str(tiny_corpus), "--out", str(tmp_path / "r"), "--model", "resnet18"]) == 2
    err = capsys.readouterr().err
    assert "not in the torch hub cache" in err and "--weights none" in err


def test_the_demo_runs_end_to_end_small(tmp_path, capsys):
    from gtzan_gpu.demo import DemoConfig, run_demo

    result = run_demo(DemoConfig(out=str(tmp_path / "demo"), tracks_per_genre=5, track_seconds=6.0,
                                 segment_seconds=2.0, epochs=2, batch_size=16, device="cpu"))
    out = capsys.readouterr().out
    assert "tensorboard --logdir" in out and "jazz.00054.wav: error: cannot decode" in out
    assert result["test"]["split"] == "test" and (tmp_path / "demo" / "run" / "best.pt").is_file()


def test_fma_layout_from_tracks_csv_to_an_8_label_evaluation(fma_corpus, tmp_path, capsys):
    """FMA's done-when: scan, the official split, an 8-label model trained and evaluated with FMA's genre names."""
    labels = ["--labels", str(fma_corpus / "fma_metadata" / "tracks.csv"), "--fma-subset", "small"]
    audio = str(fma_corpus / "fma_small")
    assert main(["-q", "scan", audio, *labels, "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["genres"]) == 8
    assert main(["-q", "split", audio, *labels, "--scheme", "given", "--out", str(tmp_path / "m.json")]) == 0
    run = tmp_path / "run"
    assert main(["-q", "train", "--data", audio, *labels, "--manifest", str(tmp_path / "m.json"), "--model", "cnn",
                 "--image-size", "32", "--segment-seconds", "2", "--epochs", "1", "--batch-size", "16",
                 "--device", "cpu", "--out", str(run), "--saliency-every", "0"]) == 0
    capsys.readouterr()
    assert main(["-q", "evaluate", str(run), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["genres"]) == 8 and "Hip-Hop" in report["genres"]
    assert len(report["segment"]["confusion"]) == 8 and report["tracks"] == len(json.load(open(tmp_path / "m.json"))
                                                                             ["subsets"]["test"])
    from tests.training.test_engine import event_tags
    assert "test_pr/Hip-Hop" in event_tags(run / "tb")
    assert main(["-q", "predict", str(run), str(next((fma_corpus / "fma_small").rglob("000002.mp3")))]) == 0
    assert capsys.readouterr().out.split()[1] in report["genres"]
