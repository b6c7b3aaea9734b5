import pytest
import torch

from gtzan_gpu.features.banded import BandedMatrix, plan_blocks
from gtzan_gpu.features.frequency_axis import FrequencyAreaMap, frequency_area_matrix


@pytest.mark.parametrize("scale", ["log", "linear", "mel"])
def test_frequency_map_is_the_area_matrix_product(scale):
    values = -80 * torch.rand(2, 7, 1025, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    expected = values @ frequency_area_matrix(1025, 22050, 2048, 128, scale).double().t()
    got = FrequencyAreaMap(1025, 22050, 2048, 128, scale)(values.float())
    torch.testing.assert_close(got.double(), expected, atol=1e-4, rtol=0)  # dB: fp32 sums of <= 100 terms


def test_blocks_hold_every_non_zero_and_skip_most_of_a_band():
    matrix = frequency_area_matrix(1025, 22050, 2048, 128, "log")
    blocks = plan_blocks(matrix)
    covered = torch.zeros_like(matrix, dtype=torch.bool)
    for row_start, row_stop, column_start, column_stop in blocks:
        covered[row_start:row_stop, column_start:column_stop] = True
    assert [b[1] for b in blocks[:-1]] == [b[0] for b in blocks[1:]] and blocks[-1][1] == 128  # rows tile
    assert covered[matrix != 0].all()
    assert covered.sum() < 0.2 * matrix.numel()


def test_any_banded_matrix_and_an_empty_row():
    matrix = torch.zeros(40, 30)
    for row in range(40):
        start = min(row * 30 // 40, 27)
        matrix[row, start:start + 3] = torch.rand(3)
    matrix[5] = 0
    x = torch.randn(4, 30)
    torch.testing.assert_close(BandedMatrix(matrix, block_cost=8)(x), x @ matrix.t())
    torch.testing.assert_close(BandedMatrix(matrix, block_cost=8, row_step=1)(x), x @ matrix.t())
    assert "blocks=" in repr(BandedMatrix(matrix))
