import numpy as np
import pytest
import torch

from gtzan_gpu.features.colormaps import apply_colormap, colormap_table, interpolation_table


def test_magma_table_is_matplotlibs():
    matplotlib = pytest.importorskip("matplotlib")
    expected = matplotlib.colormaps["magma"](np.arange(256))[:, :3]
    np.testing.assert_allclose(colormap_table("magma").numpy(), expected, atol=1e-6)


def test_lookup_hits_table_entries_and_stays_within_one_step_of_matplotlib():
    matplotlib = pytest.importorskip("matplotlib")
    table = colormap_table("magma")
    values = torch.rand(1, 16, 16, generator=torch.Generator().manual_seed(0))
    rgb = apply_colormap(values, table)
    assert rgb.shape == (1, 3, 16, 16)
    nearest = matplotlib.colormaps["magma"](values.numpy())[..., :3].transpose(0, 3, 1, 2)
    assert np.abs(rgb.numpy() - nearest).max() < 0.02
    ends = apply_colormap(torch.tensor([[[0.0, 1.0]]]), table)
    torch.testing.assert_close(ends[0, :, 0, :].T, table[[0, -1]])


def test_gray_has_equal_channels_and_gradients_flow():
    values = torch.rand(2, 4, 4, requires_grad=True)
    rgb = apply_colormap(values, colormap_table("gray"))
    assert torch.equal(rgb[:, 0], rgb[:, 1]) and torch.equal(rgb[:, 1], rgb[:, 2])
    rgb.sum().backward()
    assert values.grad.abs().sum() > 0


def test_the_interpolation_table_gives_the_same_colours():
    table = colormap_table("magma")
    values = torch.rand(2, 8, 8, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(apply_colormap(values, interpolation_table(table)), apply_colormap(values, table))


def test_a_per_example_scale_and_shift_is_the_same_as_mapping_first():
    table = colormap_table("magma")
    values = -80 * torch.rand(2, 8, 8, generator=torch.Generator().manual_seed(2))
    scale, shift = torch.tensor([1 / 80, 1 / 40]).view(2, 1, 1), torch.tensor([1.0, 1.5]).view(2, 1, 1)
    torch.testing.assert_close(apply_colormap(values, table, scale, shift),
                               apply_colormap(values * scale + shift, table), atol=1e-5, rtol=0)
