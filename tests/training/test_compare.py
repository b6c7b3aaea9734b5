"""Paired comparison of two runs: exact McNemar at track and segment level, refused on different tracks."""
import json

import pytest

from gtzan_gpu.cli import main
from gtzan_gpu.errors import GtzanError
from gtzan_gpu.training import evaluate_run, fit
from gtzan_gpu.training.compare import compare_runs, mcnemar
from tests.conftest import small_train_config


def test_exact_mcnemar_matches_the_binomial_by_hand():
    a = [True] * 5 + [False] * 0 + [True] * 10
    b = [False] * 5 + [True] * 10
    result = mcnemar(a, b)
    assert (result["only_a_correct"], result["only_b_correct"]) == (5, 0)
    assert result["p_value"] == pytest.approx(2 * 0.5 ** 5)  # two-sided: 2 x P(X = 0 | n = 5)
    assert mcnemar([True, False], [True, False])["p_value"] == 1.0  # no discordant pair


@pytest.fixture(scope="module")
def evaluated_runs(tiny_corpus, tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    runs = {"a": dict(seed=0), "b": dict(seed=1, lr=3e-3), "long": dict(segment_seconds=3.0),
            "other_split": dict(split_seed=7)}
    for name, overrides in runs.items():
        fit(small_train_config(tiny_corpus, root / name, epochs=1, **overrides))
        evaluate_run(root / name, "test", "cpu")
    return root


def test_two_runs_on_the_same_tracks_are_compared_per_track_and_per_segment(evaluated_runs, capsys):
    result = compare_runs(evaluated_runs / "a", evaluated_runs / "b")
    report = json.loads((evaluated_runs / "a" / "eval_test.json").read_text())
    assert result["tracks"] == 10 and result["track"]["n"] == 10 and result["segment"]["n"] == 30
    assert result["track"]["accuracy_a"] == report["track"]["accuracy"]
    assert result["segment"]["accuracy_a"] == report["segment"]["accuracy"]
    assert 0 <= result["track"]["p_value"] <= 1
    assert main(["compare", str(evaluated_runs / "a"), str(evaluated_runs / "b")]) == 0
    assert "McNemar p" in capsys.readouterr().out


def test_different_segment_lengths_are_paired_per_track_only(evaluated_runs):
    result = compare_runs(evaluated_runs / "a", evaluated_runs / "long")
    assert result["track"]["n"] == 10 and result["segment"] is None and "2-s windows every 2 s vs 3-s windows" in result["segment_note"]


def test_runs_on_different_test_tracks_are_refused(evaluated_runs, capsys):
    with pytest.raises(GtzanError, match="different test tracks"):
        compare_runs(evaluated_runs / "a", evaluated_runs / "other_split")
    assert main(["compare", str(evaluated_runs / "a"), str(evaluated_runs / "nowhere")]) == 2
    assert f"run directory not found: {evaluated_runs / 'nowhere'}" in capsys.readouterr().err
    (evaluated_runs / "unevaluated").mkdir()
    assert main(["compare", str(evaluated_runs / "a"), str(evaluated_runs / "unevaluated")]) == 2
    assert "eval_test.json not found: run `gtzan-gpu evaluate" in capsys.readouterr().err


def test_a_run_compared_with_itself_is_refused(evaluated_runs, capsys):
    assert main(["compare", str(evaluated_runs / "a"), str(evaluated_runs / "a" / ".")]) == 2
    assert "is compared with itself" in capsys.readouterr().err


def test_runs_on_other_audio_under_the_same_track_ids_are_refused(evaluated_runs, tmp_path, capsys):
    import shutil

    other = tmp_path / "other"
    shutil.copytree(evaluated_runs / "b", other)
    report = json.loads((other / "eval_test.json").read_text())
    assert len(report["audio_digest"]) == 64  # sha256 of the test tracks' ids and sample crc32s
    a = json.loads((evaluated_runs / "a" / "eval_test.json").read_text())
    assert a["audio_digest"] == report["audio_digest"]  # same corpus, same tracks: same digest
    from gtzan_gpu.data.synth import write_synthetic_corpus
    from tests.conftest import TINY_SECONDS, TINY_TRACKS_PER_GENRE

    elsewhere = write_synthetic_corpus(tmp_path / "another", tracks_per_genre=TINY_TRACKS_PER_GENRE,
                                       seconds=TINY_SECONDS, seed=1)  # the same track ids, other audio
    evaluate_run(other, "test", "cpu", data=str(elsewhere))
    assert json.loads((other / "eval_test.json").read_text())["audio_digest"] != a["audio_digest"]
    assert main(["compare", str(evaluated_runs / "a"), str(other)]) == 2
    assert "evaluated on different audio under the same test track ids" in capsys.readouterr().err


def _report(tmp_path, name, segment_seconds=1.5, labels=(0, 1, 2), hop=None, **changes):
    run = tmp_path / name
    run.mkdir()
    report = {"genres": ["a", "b", "c"], "segment_seconds": segment_seconds, "model": "cnn", "sample_rate": 22050,
              "audio_digest": "d" * 64, "config": {"eval_hop_seconds": hop},
              "predictions": {f"t{i}": {"label": label, "track": 0, "segments": [0, 1]}
                              for i, label in enumerate(labels)}}
    report.update(changes)
    (run / "eval_test.json").write_text(json.dumps(report))
    return run


def test_segments_are_paired_only_when_they_are_the_same_windows(tmp_path):
    """Issue 31, defect 7: 1.5-s and 1.4-s runs both cut 2 windows of a 4-s track and were McNemar-paired."""
    a, b = _report(tmp_path, "a", 1.5), _report(tmp_path, "b", 1.4)
    result = compare_runs(a, b)
    assert result["segment"] is None and "1.5-s windows every 1.5 s vs 1.4-s windows" in result["segment_note"]
    hopped = _report(tmp_path, "c", 1.5, hop=0.5)
    assert compare_runs(a, hopped)["segment"] is None
    assert compare_runs(a, _report(tmp_path, "d", 1.5))["segment"]["n"] == 6


def test_runs_scored_against_different_labels_are_refused(tmp_path):
    """Issue 31, defect 3: the same model scored 0.50 and 0.40 against two label tables, and compare paired them."""
    with pytest.raises(GtzanError, match="scored against different labels .*t1: 1 vs 2"):
        compare_runs(_report(tmp_path, "a"), _report(tmp_path, "b", labels=(0, 2, 2)))


@pytest.mark.parametrize("change, message", [
    ({"predictions": None}, "predictions are not a non-empty mapping"),
    ({"predictions": [1, 2]}, "predictions are not a non-empty mapping"),
    ({"predictions": {}}, "predictions are not a non-empty mapping"),
    ({"predictions": {"t0": {"label": 0, "track": 0, "segments": []}}}, "not genre indices"),
    ({"predictions": {"t0": {"label": 7, "track": 0, "segments": [0]}}}, "not genre indices"),
    ({"segment_seconds": "long"}, "no positive segment_seconds"),
    ({"audio_digest": None}, "no audio_digest"),
    ({"genres": None}, "no genre list"),
])
def test_a_tampered_evaluation_is_one_line(tmp_path, capsys, change, message):
    """Issue 31, defect 13: null, lists, missing keys, a non-numeric segment length crashed compare."""
    good, bad = _report(tmp_path, "good"), _report(tmp_path, "bad", **change)
    assert main(["compare", str(good), str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err and "eval_test.json is not an evaluation report" in err
