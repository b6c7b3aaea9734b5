import pytest
import torch

from gtzan_gpu.features.frequency_axis import (C2_HZ, bin_cell_edges, display_coordinate,
                                               frequency_area_matrix)


def test_log_axis_is_matplotlibs_symlog_as_librosa_configures_it():
    matplotlib_scale = pytest.importorskip("matplotlib.scale")
    librosa = pytest.importorskip("librosa")
    assert C2_HZ == pytest.approx(librosa.note_to_hz("C2"))
    transform = matplotlib_scale.SymmetricalLogTransform(base=2, linthresh=C2_HZ, linscale=0.5)
    hz = torch.tensor([-5.38, 0.0, 10.0, 65.0, 65.5, 440.0, 4000.0, 11030.0], dtype=torch.float64)
    torch.testing.assert_close(display_coordinate(hz, "log"), torch.from_numpy(transform.transform(hz.numpy())))


def test_cells_surround_the_bin_centres_like_pcolormesh_nearest():
    edges = bin_cell_edges(1025, 22050, 2048)
    step = 22050 / 2048
    assert edges[0] == pytest.approx(-step / 2) and edges[-1] == pytest.approx(11025 + step / 2)
    assert edges[1] == pytest.approx(step / 2)


@pytest.mark.parametrize("scale", ["log", "linear", "mel"])
def test_rows_are_averages_and_every_bin_is_drawn(scale):
    weights = frequency_area_matrix(1025, 22050, 2048, 128, scale)
    assert weights.shape == (128, 1025) and (weights >= 0).all()
    torch.testing.assert_close(weights.sum(dim=1), torch.ones(128))
    assert (weights.sum(dim=0) > 0).all()
    assert weights[-1, 0] > 0 and weights[0, -1] > 0  # 0 Hz in the bottom row, Nyquist in the top row


def test_log_axis_gives_low_frequencies_most_of_the_image():
    weights = frequency_area_matrix(1025, 22050, 2048, 128, "log")
    rows_below_1khz = int((weights[:, :93].sum(dim=1) > 0.5).sum())  # bin 93 = 1001 Hz
    assert rows_below_1khz > 128 // 2
    linear = frequency_area_matrix(1025, 22050, 2048, 128, "linear")
    assert int((linear[:, :93].sum(dim=1) > 0.5).sum()) < 16


def test_unknown_scale_is_an_error():
    with pytest.raises(ValueError, match="unknown frequency scale"):
        frequency_area_matrix(1025, 22050, 2048, 128, "bark")
