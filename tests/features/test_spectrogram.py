import pytest
import torch

from gtzan_gpu.features import SpectrogramImage, WaveformImage, to_displayable
from gtzan_gpu.features.display import IMAGENET_MEAN, IMAGENET_STD


def audio(batch=3, seconds=1.0, seed=0):
    return 0.3 * torch.randn(batch, int(22050 * seconds), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("kwargs, shape", [
    ({}, (2, 3, 128, 128)),
    ({"height": 64, "width": 96}, (2, 3, 64, 96)),
    ({"frequency_scale": "linear"}, (2, 3, 128, 128)),
    ({"frequency_scale": "mel"}, (2, 3, 128, 128)),
    ({"colormap": "gray"}, (2, 3, 128, 128)),
    ({"backend": "torch"}, (2, 3, 128, 128)),
    ({"trainable": True}, (2, 3, 128, 128)),
])
def test_every_option_is_a_constructor_argument(kwargs, shape):
    image = SpectrogramImage(**kwargs)(audio(2))
    assert image.shape == shape and image.dtype == torch.float32 and torch.isfinite(image).all()


def test_unnormalised_output_is_rgb_in_unit_range_and_normalisation_is_imagenets():
    x = audio()
    raw = SpectrogramImage(normalize=False)(x)
    assert raw.min() >= 0 and raw.max() <= 1
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    torch.testing.assert_close(SpectrogramImage()(x), (raw - mean) / std)
    torch.testing.assert_close(to_displayable(SpectrogramImage()(x)), raw, atol=1e-6, rtol=0)


def test_gray_colormap_repeats_one_channel():
    image = SpectrogramImage(colormap="gray", normalize=False)(audio())
    assert torch.equal(image[:, 0], image[:, 1]) and torch.equal(image[:, 0], image[:, 2])


def test_each_example_is_scaled_by_its_own_maximum():
    x = audio()
    batch = SpectrogramImage()(x)
    alone = SpectrogramImage()(x[1:2] * 0.01)  # 40 dB quieter, same image (ref = its own max)
    torch.testing.assert_close(batch[1:2], alone, atol=1e-4, rtol=0)


def test_a_silent_segment_gives_the_bottom_colour_not_nan():
    image = SpectrogramImage(normalize=False)(torch.zeros(1, 22050))
    torch.testing.assert_close(image, SpectrogramImage(normalize=False).colormap_table[0].view(1, 3, 1, 1).expand_as(image))


def test_a_tone_lights_the_row_of_its_frequency():
    t = torch.arange(22050) / 22050
    image = SpectrogramImage(colormap="gray", normalize=False)(torch.sin(2 * torch.pi * 1000 * t)[None])
    brightest_row = int(image[0, 0].mean(dim=1).argmax())
    from gtzan_gpu.features.frequency_axis import frequency_area_matrix
    weights = frequency_area_matrix(1025, 22050, 2048, 128, "log")
    assert abs(brightest_row - int(weights[:, 93].argmax())) <= 1  # bin 93 ~ 1001 Hz


def test_gradients_reach_trainable_stft_kernels():
    layer = SpectrogramImage(trainable=True)
    layer(audio(2)).mean().backward()
    assert layer.stft.kernels.wsin.grad is not None and layer.stft.kernels.wsin.grad.abs().sum() > 0


@pytest.mark.parametrize("layer", [SpectrogramImage(), SpectrogramImage(backend="torch"), WaveformImage()],
                         ids=["spectrogram-nnaudio", "spectrogram-torch", "waveform"])
def test_forward_has_no_host_sync(layer):
    """On the meta device .item(), .cpu(), .numpy() and data-dependent shapes all fail, so this passes only
    for pure tensor code whose buffers all moved with .to()."""
    out = layer.to("meta")(torch.empty(2, 22050, device="meta"))
    assert out.device.type == "meta" and out.shape == (2, 3, 128, 128)


@pytest.mark.parametrize("layer_type", [SpectrogramImage, WaveformImage])
def test_torch_compile_gives_the_same_images(layer_type):
    layer = layer_type()
    x = audio(2)
    torch.testing.assert_close(torch.compile(layer, backend="eager")(x), layer(x))


def test_inductor_compiles_the_image_and_waveform_views_to_the_eager_images():
    """What ``bench`` times as "(compiled)": inductor's generated code, not only dynamo's trace, gives the same
    pixels (small images: the C++ compile, not the size, is what costs here)."""
    x = audio(2)
    for layer in (SpectrogramImage(height=48, width=40, backend="torch"), WaveformImage(height=48, width=40)):
        torch.testing.assert_close(torch.compile(layer, dynamic=False)(x), layer(x), atol=1e-5, rtol=1e-5)


def test_the_colour_floor_read_from_the_power_is_the_dB_maps_minimum():
    layer = SpectrogramImage(backend="torch")
    x = audio()
    x[2] = 0.0  # silence: every cell at the amin floor
    db, low = layer._decibels_and_floor(layer.stft.power_frames(x))
    torch.testing.assert_close(low.flatten(), db.amin(dim=(1, 2)))
    assert db.amax(dim=(1, 2)).abs().max() < 1e-5  # 0 but for the rounding of the scale-and-shift pass


def test_a_bf16_image_is_the_fp32_image_to_bf16_precision():
    x = audio()
    full = SpectrogramImage(backend="torch")(x)
    narrow = SpectrogramImage(backend="torch", dtype=torch.bfloat16)(x)
    assert narrow.dtype == torch.bfloat16
    torch.testing.assert_close(narrow.float(), full, atol=0.03, rtol=0)  # |image| < 2.7: bf16 keeps 8 bits
