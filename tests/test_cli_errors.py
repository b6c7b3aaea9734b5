"""Bad input is one line on stderr and exit status 2, never a traceback, and never silently replaced."""
import json
import shutil

import pytest
import torch

from gtzan_gpu.cli import main
from gtzan_gpu.training.checkpoint import load_checkpoint

FAST = ["--model", "cnn", "--segment-seconds", "2", "--epochs", "1", "--batch-size", "16", "--device", "cpu",
        "--image-size", "32", "--stft-backend", "torch"]


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err and "\n" not in err and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("options, message", [
    (["--segment-seconds", "inf"], "--segment-seconds must be a finite number"),
    (["--segment-seconds", "1e-9"], "--segment-seconds must be >= 0.1"),
    (["--hop-seconds", "inf"], "--hop-seconds must be a finite number"),
    (["--hop-seconds", "1e-9"], "--hop-seconds must be >= 0.01"),
    (["--hop-seconds", "3"], "--hop-seconds 3 is longer than --segment-seconds 2"),
    (["--image-size", "0"], "--image-size must be >= 16"),
    (["--image-size", "1"], "--image-size must be >= 16"),
    (["--image-size", "-5"], "--image-size must be >= 16"),
    (["--loader", "stream", "--workers", "-1"], "--workers must be >= 0"),
    (["--batch-size", "0"], "--batch-size must be >= 1"),
    (["--lr", "0"], "--lr must be > 0"),
    (["--lr", "nan"], "--lr must be a finite number"),
    (["--max-steps", "-1"], "--max-steps must be >= 1"),
    (["--saliency-every", "-1"], "--saliency-every must be >= 0"),
    (["--weights", "somefile.pth"], "the cnn model has no pretrained weights"),
    (["--trainable-stft"], "--trainable-stft needs --stft-backend nnaudio"),
    (["--augment", "gain"], "--augment gain changes nothing here"),
    (["--db-reference", "fixed"], "--db-reference fixed applies to --frontend logmel or cqt"),
    (["--eval-hop-seconds", "3"], "--eval-hop-seconds 3 is longer than --segment-seconds 2"),
    (["--label-smoothing", "0.7"], "--label-smoothing must be <= 0.5"),
    (["--weight-decay", "-1"], "--weight-decay must be >= 0"),
    (["--warmup-epochs", "-1"], "--warmup-epochs must be >= 0"),
    (["--warmup-epochs", "nan"], "--warmup-epochs must be a finite number"),
    (["--fma-subset", "small"], "--fma-subset chooses rows of FMA's tracks.csv: give it with --labels TABLE"),
    (["--head", "mlp"], "--head applies to the pretrained encoders (musicnn, panns-cnn10, panns-cnn14), not --model cnn"),
    (["--embedding", "pooled"], "--embedding applies to the pretrained encoders"),
    (["--freeze-backbone"], "--freeze-backbone applies to the pretrained encoders"),
    (["--backbone-lr-scale", "0"], "--backbone-lr-scale must be > 0"),
    (["--backbone-lr-scale", "2"], "--backbone-lr-scale must be <= 1"),
    (["--backbone-lr-scale", "0.1"], "--backbone-lr-scale applies to the pretrained encoders"),
    (["--model", "musicnn", "--weights", "musicnn:NOPE"], "unknown --weights musicnn:NOPE"),
    (["--model", "musicnn", "--weights", "imagenet"], "the musicnn encoder has no ImageNet weights"),
    (["--model", "musicnn", "--weights", "musicnn:/nowhere/MTT_musicnn"], "folder not found"),
    (["--model", "musicnn", "--weights", "/nowhere/encoder.pt"], "--weights file not found"),
    (["--model", "musicnn", "--frontend", "logmel"], "--model musicnn takes --frontend musicnn, not logmel"),
    (["--model", "musicnn", "--embedding", "nope"], "unknown --embedding 'nope' for musicnn"),
    (["--model", "musicnn", "--weights", "none", "--freeze-backbone"], "would train a head on a random encoder"),
    (["--model", "resnet18", "--weights", "musicnn:MSD_musicnn"], "do not fit --model resnet18"),
    (["--patch-padding", "repeat"], "--patch-padding applies to --frontend musicnn, not image"),
    (["--model", "panns-cnn14", "--weights", "panns:/nowhere/Cnn14.pth"], "--weights panns:/nowhere/Cnn14.pth: file not found"),
    (["--model", "musicnn", "--weights", "panns:/nowhere/Cnn14.pth"], "do not fit --model musicnn"),
])
def test_bad_train_options_fail_before_any_work(options, message, tiny_corpus, tmp_path, capsys, monkeypatch):
    import gtzan_gpu.training.run_data as run_data

    monkeypatch.setattr(run_data, "scan_corpus", lambda *a: pytest.fail("options must be checked before the scan"))
    run = tmp_path / "run"
    assert main(["train", "--data", str(tiny_corpus), "--out", str(run), *FAST, *options]) == 2
    assert message in one_line_error(capsys)
    assert not run.exists()


def test_device_cuda_without_cuda_fails_before_the_scan(tiny_corpus, tmp_path, capsys, monkeypatch):
    import gtzan_gpu.training.run_data as run_data

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    monkeypatch.setattr(run_data, "scan_corpus", lambda *a: pytest.fail("options must be checked before the scan"))
    assert main(["train", "--data", str(tiny_corpus), "--out", str(tmp_path / "r"), *FAST, "--device", "cuda"]) == 2
    assert "no CUDA device" in one_line_error(capsys)


def test_weights_with_a_wrong_shape_are_one_line(tiny_corpus, tmp_path, capsys):
    from torchvision.models import resnet18

    state = resnet18(weights=None).state_dict()
    state["conv1.weight"] = torch.zeros(64, 1, 7, 7)  # a 1-channel stem
    torch.save(state, tmp_path / "wrong.pth")
    (tmp_path / "text.pth").write_text("101 not a checkpoint\n")
    for name, message in (("wrong.pth", "do not fit resnet18 (size mismatch for conv1.weight"),
                          ("text.pth", "not a torch state_dict file")):
        argv = ["train", "--data", str(tiny_corpus), "--out", str(tmp_path / name[:-4]), *FAST, "--model",
                "resnet18", "--weights", str(tmp_path / name)]
        assert main(argv) == 2
        assert message in one_line_error(capsys)


def test_resume_honours_what_may_change_and_refuses_the_rest(trained_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    assert main(["train", "--resume", str(run), "--epochs", "6", "--lr", "0.5", "--data", "/nope"]) == 2
    err = one_line_error(capsys)
    assert "cannot change --lr 0.5 (the run's is 0.001)" in err
    assert main(["train", "--resume", str(run), "--data", "/nope"]) == 2
    assert "corpus folder not found: /nope" in one_line_error(capsys)
    assert main(["train", "--resume", str(run), "--epochs", "4", "--lr", "0.001"]) == 0  # same lr: fine
    out = capsys.readouterr().out
    assert "(1 epoch(s) this run, 4 in all)" in out
    assert load_checkpoint(run / "last.pt")["epoch"] == 4


def test_cnn_weights_are_never_recorded_as_imagenet(tiny_corpus, tmp_path):
    from gtzan_gpu.config import ModelConfig

    assert ModelConfig("cnn").describe_weights() == "random init"
    assert ModelConfig("resnet18", "none").describe_weights() == "random init"
    assert "state_dict file" in ModelConfig("fusion", "/x.pth").describe_weights()


def test_evaluate_prints_the_figures_before_reporting_an_unwritable_run_dir(trained_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    (run / "eval_test.json").unlink(missing_ok=True)  # another test may have evaluated the shared run
    (run / "eval_test.json").mkdir()  # stands in for a read-only RUN_DIR (root ignores file modes)
    assert main(["evaluate", str(run), "--json", "--device", "cpu"]) == 2
    captured = capsys.readouterr()
    assert json.loads(captured.out)["split"] == "test"  # the figures were printed
    assert "cannot write" in captured.err and "eval_test.json" in captured.err and "\n" not in captured.err.strip()


@pytest.mark.parametrize("target, message", [("folder", "is a directory"), ("/proc/gtzan-x.json", "cannot write"),
                                             ("file/inside.json", "cannot write")])
def test_split_into_an_unwritable_place_is_one_line(target, message, tiny_corpus, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("x")
    assert main(["split", str(tiny_corpus), "--out", target]) == 2
    assert message in one_line_error(capsys)


def test_split_refuses_a_one_genre_or_empty_manifest(tmp_path, capsys):
    from tests.conftest import write_tone

    write_tone(tmp_path / "solo" / "rock" / "a.wav", 3.0, 22050)
    assert main(["split", str(tmp_path / "solo"), "--out", str(tmp_path / "m.json")]) == 2
    assert "needs at least 2" in one_line_error(capsys)
    for genre in ("rock", "jazz"):
        write_tone(tmp_path / "pair" / genre / f"{genre}.wav", 3.0, 22050)
    assert main(["split", str(tmp_path / "pair"), "--out", str(tmp_path / "m.json")]) == 2
    assert "subset(s) empty" in one_line_error(capsys)
    assert not (tmp_path / "m.json").exists()


def test_synth_into_an_unwritable_place_or_over_a_corpus_is_one_line(tmp_path, capsys):
    assert main(["synth", "/proc/gtzan-synth", "--tracks-per-genre", "1", "--seconds", "1"]) == 2
    assert "cannot write" in one_line_error(capsys)
    assert main(["synth", str(tmp_path / "c"), "--tracks-per-genre", "1", "--seconds", "1"]) == 0
    capsys.readouterr()
    assert main(["synth", str(tmp_path / "c"), "--tracks-per-genre", "1", "--seconds", "1"]) == 2
    assert "already exists" in one_line_error(capsys)
    assert main(["synth", str(tmp_path / "d"), "--tracks-per-genre", "0"]) == 2
    assert "--tracks-per-genre must be >= 1" in one_line_error(capsys)


@pytest.mark.parametrize("drop", ["config", "genres"])
def test_a_checkpoint_without_config_or_genres_is_one_line(drop, trained_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    for name in ("last.pt", "best.pt"):
        checkpoint = load_checkpoint(run / name)
        del checkpoint[drop]
        torch.save(checkpoint, run / name)
    assert main(["evaluate", str(run), "--device", "cpu"]) == 2
    assert f"incomplete gtzan-gpu checkpoint (missing {drop})" in one_line_error(capsys)
    assert main(["train", "--resume", str(run)]) == 2
    assert f"missing {drop}" in one_line_error(capsys)


def test_predict_applies_the_scans_validation_and_names_the_problem(trained_run, tiny_corpus, tmp_path, capsys):
    good = tiny_corpus / "genres_original" / "pop" / "pop.00001.wav"
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    (tmp_path / "folder.wav").mkdir()
    files = [good, truncated, tmp_path / "missing.wav", tmp_path / "folder.wav"]
    assert main(["predict", str(trained_run), *map(str, files), "--device", "cpu", "--json"]) == 1
    results = {r["file"]: r for r in json.loads(capsys.readouterr().out)}
    assert "genre" in results[str(good)]
    assert "truncated" in results[str(truncated)]["error"]
    assert results[str(tmp_path / "missing.wav")]["error"] == "file not found"
    assert "is a directory" in results[str(tmp_path / "folder.wav")]["error"]


def test_experiment_only_is_checked_before_any_work(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["experiment", "--quick", "--only", "fusion:7", "--out", "exp"]) == 2
    assert "matches no cell" in one_line_error(capsys)
    assert not (tmp_path / "exp" / "corpus").exists()


def test_a_grid_with_a_bad_value_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('models = ["cnn"]\n[train]\nstft_backend = "fftw"\n')
    assert main(["experiment", "--data", str(tmp_path), "--config", str(bad)]) == 2
    err = one_line_error(capsys)
    assert "bad.toml" in err and "unknown --stft-backend 'fftw'" in err


def test_bad_pack_and_bench_options_are_one_line(tiny_corpus, tmp_path, capsys):
    assert main(["pack", str(tiny_corpus), "--out", str(tmp_path / "s"), "--shard-gb", "0"]) == 2
    assert "--shard-gb must be in (0, 1024]" in one_line_error(capsys)
    assert main(["bench", "--stages", "features,nope", "--device", "cpu"]) == 2
    assert "unknown --stages nope" in one_line_error(capsys)
    assert main(["experiment", "--quick", "--folds", "1", "--out", str(tmp_path / "e")]) == 2
    assert "--folds must be in [2, 100]" in one_line_error(capsys)


@pytest.mark.parametrize("argv, prefix", [
    (["train", "--bogus"], "gtzan-gpu train: error: unrecognized arguments: --bogus"),
    (["train", "--model", "nope"], "gtzan-gpu train: error: argument --model: invalid choice: 'nope'"),
    (["train", "--optimizer", "sgd"], "gtzan-gpu train: error: argument --optimizer: invalid choice: 'sgd'"),
    (["train", "--schedule", "step"], "gtzan-gpu train: error: argument --schedule: invalid choice: 'step'"),
    (["train", "--db-reference", "peak"], "gtzan-gpu train: error: argument --db-reference: invalid choice"),
    (["train", "--image-dtype", "float16"], "gtzan-gpu train: error: argument --image-dtype: invalid choice"),
    (["evaluate"], "gtzan-gpu evaluate: error: the following arguments are required: run_dir"),
    (["shards", "DATA", "--out", "X", "--audio", "mp3"], "gtzan-gpu shards: error: argument --audio: invalid choice"),
    (["shards", "DATA"], "gtzan-gpu shards: error: the following arguments are required: --out"),
    (["train", "--loader", "tar"], "gtzan-gpu train: error: argument --loader: invalid choice: 'tar'"),
    (["frobnicate"], "gtzan-gpu: error: argument COMMAND: invalid choice: 'frobnicate'"),
])
def test_argument_errors_are_one_line_naming_the_command(argv, prefix, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    assert one_line_error(capsys).startswith(prefix)


def test_quiet_and_verbose_work_after_the_command(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "nowhere"), "-q"]) == 2
    assert one_line_error(capsys) == f"gtzan-gpu evaluate: error: run directory not found: {tmp_path / 'nowhere'}"
    assert main(["scan", str(tmp_path / "nowhere"), "-v"]) == 2


def test_bad_label_table_and_fma_options_are_one_line(fma_corpus, trained_run, tmp_path, capsys):
    audio, table = str(fma_corpus / "fma_small"), str(fma_corpus / "fma_metadata" / "tracks.csv")
    cases = [
        (["scan", audio, "--labels", table, "--fma-subset", "huge"], "argument --fma-subset: invalid choice"),
        (["scan", audio, "--labels", str(tmp_path / "none.csv")], "none.csv: no such file"),
        (["split", audio, "--labels", table, "--fma-subset", "small", "--scheme", "nope", "--out",
          str(tmp_path / "m.json")], "argument --scheme: invalid choice"),
        (["pack", audio, "--fma-subset", "small", "--out", str(tmp_path / "s")], "give it with --labels TABLE"),
        (["evaluate", str(trained_run), "--fma-subset", "small"], "give it with --labels TABLE"),
        (["evaluate", str(trained_run), "--labels", table], "is FMA's tracks.csv: choose its rows"),
        (["synth", str(tmp_path / "f"), "--layout", "fma", "--difficulty", "hard"], "--difficulty is for the GTZAN"),
        (["synth", str(tmp_path / "g"), "--layout", "fma", "--tracks-per-genre", "1"], "--tracks-per-genre must be"),
        (["synth", str(tmp_path / "h"), "--layout", "mp3"], "argument --layout: invalid choice"),
    ]
    for argv, message in cases:
        try:
            status = main(argv)
        except SystemExit as stop:  # argparse's own errors (a choice not offered) leave through SystemExit
            status = stop.code
        assert status == 2, argv
        assert message in one_line_error(capsys), argv
    assert not (tmp_path / "s").exists() and not (tmp_path / "f").exists() and not (tmp_path / "g").exists()


def test_a_change_of_labels_is_refused_on_resume_and_said_on_evaluate(tiny_corpus, tmp_path, capsys, caplog):
    """Issue 31, defect 3: runs recorded track ids, not labels; an edited table trained and scored silently."""
    rows = ["path,label"] + [f"genres_original/{p.parent.name}/{p.name},{p.parent.name}"
                             for p in sorted((tiny_corpus / "genres_original").glob("*/*.wav"))
                             if p.name != "jazz.00054.wav"]
    table, edited = tmp_path / "labels.csv", tmp_path / "edited.csv"
    table.write_text("\n".join(rows) + "\n")
    swapped = [row.replace(",blues", ",rock") if "blues.00000" in row else row for row in rows]
    edited.write_text("\n".join(swapped) + "\n")
    run = tmp_path / "run"
    assert main(["train", "--data", str(tiny_corpus), "--labels", str(table), "--out", str(run), *FAST, "-q"]) == 0
    assert load_checkpoint(run / "last.pt")["labels_digest"]
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--labels", str(edited), "--epochs", "2", "-q"]) == 2
    assert "differ from those it was trained on" in one_line_error(capsys)
    assert main(["evaluate", str(run), "--labels", str(edited), "--json", "--device", "cpu"]) == 0
    assert json.loads(capsys.readouterr().out)["labels_match_training"] is False
    assert "these figures score it against other labels" in caplog.text
    assert main(["evaluate", str(run), "--json", "--device", "cpu", "-q"]) == 0
    assert json.loads(capsys.readouterr().out)["labels_match_training"] is True


def test_a_resume_on_other_audio_under_the_same_ids_is_refused(tiny_corpus, tmp_path, capsys):
    """Issue 31, defect 3: train --resume --data OTHER_CORPUS (same ids, other audio) continued silently."""
    from gtzan_gpu.data.synth import write_synthetic_corpus

    other = tmp_path / "other"
    write_synthetic_corpus(other, tracks_per_genre=5, seconds=6.0, seed=1)  # same ids and labels, other samples
    run = tmp_path / "run"
    assert main(["train", "--data", str(tiny_corpus), "--out", str(run), *FAST, "-q"]) == 0
    assert load_checkpoint(run / "last.pt")["val_audio_digest"]
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--data", str(other), "--epochs", "2", "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()  # the scan's own warnings (a corrupt file) come first
    assert err[-1].startswith("gtzan-gpu train: error: the audio of") and "Traceback" not in "".join(err)
