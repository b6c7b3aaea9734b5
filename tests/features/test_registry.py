"""The front-end registry: every entry builds a pure-tensor layer of its declared channels, recognised again."""
import pytest
import torch

from gtzan_gpu.augment import SpecAugment
from gtzan_gpu.config import FeatureConfig
from gtzan_gpu.errors import GtzanError
from gtzan_gpu.features.registry import (FrontendSpec, frontend_names, frontend_of, get_frontend,
                                         register_frontend)


@pytest.mark.parametrize("name", frontend_names(selectable_only=False))
def test_every_front_end_builds_its_declared_image_and_is_recognised(name):
    spec = get_frontend(name)
    features = FeatureConfig(frontend=name if spec.selectable else "image", image_size=32, stft_backend="torch")
    layer = spec.build(features, 22050, SpecAugment() if spec.takes_spec_augment else None)
    out = layer(torch.randn(2, 22050))
    if spec.resized:
        assert out.shape == (2, spec.channels, 32, 32)
    else:  # the pretrained front ends' own maps: their rows x 1 s of frames (MusiCNN 63 at 16 kHz, PANNs 101 at 32)
        assert out.shape == (2, spec.channels, spec.rows, {"musicnn": 63, "panns": 101}[name])
    assert torch.isfinite(out).all()
    assert frontend_of(layer) is spec
    assert layer.to("meta")(torch.empty(2, 22050, device="meta")).shape == out.shape  # no host reads in forward
    if spec.takes_spec_augment:
        assert isinstance(layer.spec_augment, SpecAugment)


def test_frontend_choices_and_channels_come_from_the_registry():
    assert frontend_names() == ("image", "logmel", "cqt", "musicnn", "panns")  # waveform: fusion's 2nd view only
    assert [FeatureConfig(frontend=n).channels for n in frontend_names()] == [3, 1, 1, 1, 1]
    assert [get_frontend(n).stft for n in frontend_names()] == [True, True, False, True, False]  # --stft-backend
    with pytest.raises(GtzanError, match=r"--trainable-stft applies to the STFT front ends \(image, logmel\), not cqt"):
        FeatureConfig(frontend="cqt", trainable_stft=True)
    with pytest.raises(GtzanError, match="unknown --frontend 'nope'"):
        get_frontend("nope")
    with pytest.raises(GtzanError, match="already registered"):
        register_frontend(FrontendSpec("logmel", "again", torch.nn.Identity, lambda *a: None, 1, "logmel"))
