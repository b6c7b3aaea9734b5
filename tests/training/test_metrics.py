import pytest
import torch

from gtzan_gpu.training.metrics import confusion_matrix, evaluate_predictions, summarize, track_logits


def test_confusion_rows_are_truth_columns_are_predictions():
    confusion = confusion_matrix(torch.tensor([0, 1, 1, 2]), torch.tensor([0, 0, 1, 2]), 3)
    assert confusion.tolist() == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]


def test_summary_matches_sklearn():
    metrics = pytest.importorskip("sklearn.metrics")
    generator = torch.Generator().manual_seed(0)
    target = torch.randint(0, 5, (200,), generator=generator)
    predicted = torch.where(torch.rand(200, generator=generator) < 0.6, target,
                            torch.randint(0, 5, (200,), generator=generator))
    ours = summarize(confusion_matrix(predicted, target, 5))
    assert ours["accuracy"] == pytest.approx(metrics.accuracy_score(target, predicted))
    for key, name in (("macro_precision", "precision_score"), ("macro_recall", "recall_score"),
                      ("macro_f1", "f1_score")):
        assert ours[key] == pytest.approx(getattr(metrics, name)(target, predicted, average="macro", zero_division=0))


def test_track_level_averages_segment_logits():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [0.0, 1.5], [3.0, 0.0]])
    per_track, present = track_logits(logits, torch.tensor([0, 0, 0, 2]), 3)
    assert present.tolist() == [0, 2]
    torch.testing.assert_close(per_track, torch.tensor([[2 / 3, 2.5 / 3], [3.0, 0.0]]))
    report = evaluate_predictions(logits, torch.tensor([1, 1, 1, 0]), torch.tensor([0, 0, 0, 2]), 2, 3)
    assert report["segment"]["accuracy"] == 0.75  # segment 0 wrong
    assert report["track"]["accuracy"] == 1.0      # but its track's mean logit is right
    assert report["track"]["count"] == 2
