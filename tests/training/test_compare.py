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
    assert result["track"]["n"] == 10 and result["segment"] is None and "2 s vs 3 s" in result["segment_note"]


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
