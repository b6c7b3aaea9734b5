import pytest
import torch

from gtzan_gpu.features import WaveformImage


def test_shape_range_and_colours():
    t = torch.arange(22050 * 2) / 22050
    image = WaveformImage(normalize=False)(0.5 * torch.sin(2 * torch.pi * 3 * t)[None])
    assert image.shape == (1, 3, 128, 128) and image.min() >= 0 and image.max() <= 1
    assert torch.allclose(image[0, :, 0, 0], torch.ones(3))  # corner: white background (margin)
    centre = image[0, :, 64, 64]
    torch.testing.assert_close(centre, torch.tensor([31, 119, 180]) / 255.0, atol=1e-6, rtol=0)


def test_margins_are_matplotlibs_five_percent():
    image = WaveformImage(normalize=False)(torch.ones(1, 22050))  # full-height band everywhere
    drawn = (image[0, 0] < 0.5)
    columns = torch.where(drawn.any(dim=0))[0]
    rows = torch.where(drawn.any(dim=1))[0]
    assert (int(columns.min()), int(columns.max())) == (6, 121)  # 128 / 1.1 = 116 data columns
    assert (int(rows.min()), int(rows.max())) == (6, 121)


def test_peak_normalisation_makes_the_image_gain_invariant():
    x = torch.randn(2, 11025, generator=torch.Generator().manual_seed(1))
    layer = WaveformImage()
    torch.testing.assert_close(layer(x), layer(x * 0.001), atol=1e-4, rtol=0)  # fp32 round-off


def test_a_loud_burst_shows_as_a_tall_column_only_where_it_is():
    x = torch.full((1, 22050), 0.01)
    x[0, 11025:11100] = 1.0
    alpha = 1 - WaveformImage(normalize=False)(x)[0, 0]
    heights = (alpha > 0.5).sum(dim=0)
    assert heights.max() > 100 and int(heights.argmax()) in range(60, 68)
    assert heights[10] < 5 and heights[118] < 5


def test_minmax_envelope_follows_an_asymmetric_signal():
    x = torch.linspace(0, 1, 22050)[None]  # never negative
    symmetric = WaveformImage(normalize=False)(x)[0, 0]
    minmax = WaveformImage(normalize=False, envelope="minmax")(x)[0, 0]
    assert (symmetric < 0.5).sum() > 1.5 * (minmax < 0.5).sum()
    with pytest.raises(ValueError, match="unknown envelope"):
        WaveformImage(envelope="rms")


def test_batch_examples_do_not_affect_each_other():
    x = torch.randn(3, 5000, generator=torch.Generator().manual_seed(2))
    layer = WaveformImage()
    torch.testing.assert_close(layer(x)[1:2], layer(x[1:2]))


@pytest.mark.parametrize("height", [32, 21])
def test_coverage_equals_comparing_every_row_with_every_sub_column(height):
    layer = WaveformImage(height=height, width=16, supersample=3, normalize=False)
    generator = torch.Generator().manual_seed(3)
    high = torch.rand(2, layer.data_columns, generator=generator)
    low = -torch.rand(2, layer.data_columns, generator=generator)
    # the direct raster: each row's overlap with each sub-column's band, in rows, averaged per pixel column
    bottom, top = low.amin(-1, keepdim=True), high.amax(-1, keepdim=True)
    half_view = (top - bottom) * 0.55
    view_top = (top + bottom) / 2 + half_view
    scale = layer.height / (2 * half_view)
    margins = (layer.left_columns, layer.right_columns)
    band_top = torch.nn.functional.pad((view_top - high) * scale - layer.half_line, margins)
    band_bottom = torch.nn.functional.pad((view_top - low) * scale + layer.half_line, margins)
    rows = torch.arange(layer.height, dtype=torch.float32).view(1, -1, 1)
    overlap = torch.minimum(rows + 1, band_bottom.unsqueeze(1)) - torch.maximum(rows, band_top.unsqueeze(1))
    expected = overlap.clamp(0, 1).view(2, layer.height, layer.width, layer.supersample).mean(-1)
    torch.testing.assert_close(layer.coverage(low, high), expected, atol=1e-5, rtol=0)


def test_a_bf16_waveform_image_is_the_fp32_image_to_bf16_precision():
    x = torch.randn(2, 11025, generator=torch.Generator().manual_seed(4))
    narrow = WaveformImage(dtype=torch.bfloat16)(x)
    assert narrow.dtype == torch.bfloat16
    torch.testing.assert_close(narrow.float(), WaveformImage()(x), atol=0.03, rtol=0)
