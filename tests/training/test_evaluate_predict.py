import json

import numpy as np
import pytest
import soundfile as sf

from gtzan_gpu.errors import GtzanError
from gtzan_gpu.training import evaluate_run, predict_files
from gtzan_gpu.training.predict import file_segments


def test_evaluate_writes_segment_and_track_figures(trained_run):
    report = evaluate_run(trained_run, "test", "cpu")
    saved = json.loads((trained_run / "eval_test.json").read_text())
    assert saved["segment"] == report["segment"] and saved["split"] == "test"
    assert report["segment"]["count"] == 3 * report["tracks"] == 30  # 10 test tracks x 3 segments of 2 s
    assert report["track"]["count"] == 10
    for level in ("segment", "track"):
        confusion = np.array(report[level]["confusion"])
        assert confusion.shape == (10, 10) and confusion.sum() == report[level]["count"]
        assert report[level]["accuracy"] == pytest.approx(np.trace(confusion) / confusion.sum())
        assert set(report[level]) >= {"macro_precision", "macro_recall", "macro_f1"}
        assert (trained_run / f"confusion_test_{level}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for name in ("pr_test.png", "embedding_test.png"):  # static copies of the PR curves and the projector
        assert (trained_run / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_on_val_matches_the_training_log(trained_run, tmp_path):
    import shutil

    from gtzan_gpu.training.checkpoint import load_checkpoint

    run = tmp_path / "run"  # a copy: evaluating val adds val/* entries to the shared run's TensorBoard log
    shutil.copytree(trained_run, run)
    report = evaluate_run(run, "val", "cpu")
    best = load_checkpoint(run / "best.pt")
    assert report["segment"]["accuracy"] == pytest.approx(best["best"]["val_accuracy"])


def test_evaluate_of_a_missing_run_is_an_error(tmp_path):
    with pytest.raises(GtzanError, match="run directory not found"):
        evaluate_run(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(GtzanError, match="no checkpoint"):
        evaluate_run(tmp_path / "empty")


def test_predict_handles_any_rate_stereo_long_files_and_reports_bad_ones(trained_run, tiny_corpus, tmp_path):
    source = tiny_corpus / "genres_original" / "metal" / "metal.00004.wav"
    y, sr = sf.read(str(source))
    import torch
    import torchaudio.functional as AF
    stereo_44k = AF.resample(torch.from_numpy(np.tile(y, 3)).float(), 22050, 44100).numpy()
    long_file = tmp_path / "long-stereo.flac"
    sf.write(str(long_file), np.stack([stereo_44k, stereo_44k * 0.5], axis=1), 44100)
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    results = predict_files(trained_run, [str(source), str(bad), str(long_file)], "cpu")
    assert [("error" in r) for r in results] == [False, True, False]
    assert "cannot decode" in results[1]["error"] and "\n" not in results[1]["error"]
    long_result = results[2]
    assert long_result["segments"] == 9 and long_result["seconds"] == pytest.approx(18.0, abs=0.01)
    assert sum(long_result["probabilities"].values()) == pytest.approx(1.0, abs=1e-3)
    assert long_result["genre"] == max(long_result["probabilities"], key=long_result["probabilities"].get)


def test_file_segments_cut_the_seeds_windows_and_pad_short_files():
    import torch

    assert file_segments(torch.ones(10), 4).shape == (2, 4)
    short = file_segments(torch.ones(3), 4)
    assert short.shape == (1, 4) and short[0, 3] == 0


def test_predict_draws_a_timeline_of_a_long_file_and_puts_it_in_the_json(trained_run, tiny_corpus, tmp_path, capsys):
    import json

    import numpy as np
    import soundfile as sf

    from gtzan_gpu.cli import main

    root = tiny_corpus / "genres_original"
    parts = [sf.read(str(root / g / f"{g}.00000.wav"))[0] for g in ("classical", "metal")]
    long_file = tmp_path / "medley.wav"
    sf.write(str(long_file), np.concatenate(parts), 22050, subtype="PCM_16")  # 12 s: classical, then metal
    out = tmp_path / "timeline.png"
    assert main(["predict", str(trained_run), str(long_file), "--device", "cpu", "--hop-seconds", "1",
                 "--timeline", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)[0]
    line = result["timeline"]
    assert line["start_seconds"] == [float(i) for i in range(11)]  # 2-s segments every second over 12 s
    assert all(abs(sum(p) - 1) < 1e-3 for p in line["probabilities"]) and len(line["genres"]) == 10
    assert out.read_bytes()[:4] == b"\x89PNG"
    assert main(["predict", str(trained_run), str(long_file), "--device", "cpu", "--hop-seconds", "0"]) == 2
    assert "--hop-seconds must be in" in capsys.readouterr().err


def test_evaluate_adds_test_pr_curves_mistakes_projector_and_grad_cam_to_tensorboard(trained_run, tmp_path):
    import shutil

    from tests.training.test_engine import event_tags

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    report = evaluate_run(run, "test", "cpu")
    assert not any(key.startswith("_") for key in report)  # JSON-ready
    tags = event_tags(run / "tb")
    assert all(f"test_pr/{genre}" in tags for genre in report["genres"])
    assert "test/gradcam" in tags and (run / "gradcam_test.png").read_bytes()[:4] == b"\x89PNG"
    assert "test_tracks" in (run / "tb" / "eval_test" / "projector_config.pbtxt").read_text()
    assert "val_tracks" in (run / "tb" / "projector_config.pbtxt").read_text()  # the training run's, kept


def test_evaluate_json_is_json_every_time_and_tensorboard_keeps_one_evaluation(trained_run, tmp_path, capsys):
    import shutil

    from gtzan_gpu.cli import main

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    counts = []
    for _ in range(3):  # the second evaluation used to print TensorBoard's "Embedding dir exists" on stdout
        assert main(["evaluate", str(run), "--json", "--device", "cpu", "-q"]) == 0
        assert json.loads(capsys.readouterr().out)["split"] == "test"
        counts.append(len(list((run / "tb" / "eval_test").rglob("events.out.tfevents.*"))))
    assert counts[0] > 0 and counts[0] == counts[1] == counts[2]  # one evaluation's events, not one set per call
    assert not list((run / "tb").glob(".eval_*"))


def test_a_second_writer_on_one_run_is_refused_in_one_line(trained_run, tmp_path, capsys):
    import shutil

    from gtzan_gpu.cli import main
    from gtzan_gpu.locking import exclusive_lock

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    with exclusive_lock(run, "run directory"):  # as a training run or another evaluate holds it
        assert main(["evaluate", str(run), "--device", "cpu", "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"run directory {run} is in use by pid" in err


def test_predict_of_a_text_file_named_mp3_is_one_quiet_line_with_the_right_reason(trained_run, tmp_path, capfd):
    from gtzan_gpu.cli import main

    fake = tmp_path / "fake.mp3"
    fake.write_text("hello, this is text and not MPEG audio\n" * 20)
    assert main(["predict", str(trained_run), str(fake), "--device", "cpu", "-q"]) == 1
    err = capfd.readouterr().err  # file descriptor 2 itself: libmpg123 writes its "Note:" lines there
    assert "Note:" not in err and "possibly a pipe" not in err
    assert err.strip() == f"gtzan-gpu predict: {fake}: cannot decode (not a readable audio file (no audio format " \
                          f"recognised in its data))"


def test_label_names_become_tensorboard_tag_parts_without_new_groups_or_collisions():
    from gtzan_gpu.training.tensorboard_log import metadata_safe, tag_names

    assert tag_names(["blues", "Hip-Hop", "Old-Time / Historic", "Rock/Pop", "Rock Pop", "  "]) == \
        ["blues", "Hip-Hop", "Old-Time_Historic", "Rock_Pop_3", "Rock_Pop_4", "label"]
    assert metadata_safe("a\tb\nc") == "a b c"
