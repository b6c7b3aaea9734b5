import pytest
import torch
from torch import nn
from torchvision.models import resnet18

from gtzan_gpu.config import FeatureConfig, ModelConfig
from gtzan_gpu.errors import GtzanError
from gtzan_gpu.features import SpectrogramImage, WaveformImage
from gtzan_gpu.models import LateFusion, ResNet18Classifier, SmallCNN, build_classifier, hub_cache_file


def test_small_cnn_is_the_seeds_architecture():
    model = SmallCNN(10)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.padding) for c in convs] == \
        [(3, 16, (3, 3), (1, 1)), (16, 32, (3, 3), (1, 1))]
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model.modules()) == 2
    assert sum(isinstance(m, nn.MaxPool2d) for m in model.modules()) == 2
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [(l.in_features, l.out_features) for l in linears] == [(32 * 32 * 32, 256), (256, 10)]
    assert [m.p for m in model.modules() if isinstance(m, nn.Dropout)] == [0.4]
    assert model(torch.randn(2, 3, 128, 128)).shape == (2, 10)


def test_resnet18_head_and_fusion_shapes():
    model = ResNet18Classifier(10)
    assert [type(m).__name__ for m in model.trunk.fc] == ["Linear", "ReLU", "Dropout", "Linear"]
    assert model.trunk.fc[0].in_features == 512 and model.trunk.fc[0].out_features == 256
    assert model.trunk.fc[2].p == 0.4
    fusion = LateFusion(10)
    assert isinstance(fusion.spectrogram_trunk.fc, nn.Identity) and isinstance(fusion.waveform_trunk.fc, nn.Identity)
    assert fusion.head[0].in_features == 1024 and fusion.head[0].out_features == 512 and fusion.head[2].p == 0.5
    images = torch.randn(2, 3, 64, 64)
    assert model(images).shape == (2, 10) and fusion(images, images).shape == (2, 10)


def imagenet_like_file(tmp_path):
    """A state_dict in torchvision's resnet18 format (random values stand in for ImageNet's)."""
    torch.manual_seed(123)
    state = resnet18(weights=None).state_dict()
    path = tmp_path / "resnet18-imagenet.pth"
    torch.save(state, path)
    return path, state


def test_weights_file_initialises_every_trunk(tmp_path):
    path, state = imagenet_like_file(tmp_path)
    model = build_classifier(ModelConfig("fusion", str(path)), FeatureConfig(), 10)
    for trunk in (model.backbone.spectrogram_trunk, model.backbone.waveform_trunk):
        assert torch.equal(trunk.conv1.weight, state["conv1.weight"])
        assert torch.equal(trunk.layer4[1].bn2.running_var, state["layer4.1.bn2.running_var"])
    scratch = ResNet18Classifier(10)
    assert not torch.equal(scratch.trunk.conv1.weight, state["conv1.weight"])


def test_imagenet_weights_come_from_the_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(GtzanError, match="not in the torch hub cache.*--weights FILE.*--weights none"):
        ResNet18Classifier(10, weights="imagenet")
    path, state = imagenet_like_file(tmp_path)
    hub_cache_file().parent.mkdir(parents=True)
    path.rename(hub_cache_file())
    assert hub_cache_file().name == "resnet18-f37072fd.pth"
    model = ResNet18Classifier(10, weights="imagenet")
    assert torch.equal(model.trunk.conv1.weight, state["conv1.weight"])


def test_unusable_weights_files_are_clear_errors(tmp_path):
    with pytest.raises(GtzanError, match="--weights file not found"):
        ResNet18Classifier(10, weights=str(tmp_path / "missing.pth"))
    wrong = tmp_path / "cnn.pth"
    torch.save(SmallCNN(10).state_dict(), wrong)
    with pytest.raises(GtzanError, match="do not fit resnet18"):
        ResNet18Classifier(10, weights=str(wrong))
    garbage = tmp_path / "garbage.pth"
    garbage.write_text("not a checkpoint")
    with pytest.raises(GtzanError, match="cannot read weights"):
        ResNet18Classifier(10, weights=str(garbage))


@pytest.mark.parametrize("name, views", [("cnn", [SpectrogramImage]), ("resnet18", [SpectrogramImage]),
                                         ("fusion", [SpectrogramImage, WaveformImage])])
def test_genre_classifier_goes_from_raw_audio_to_logits(name, views):
    model = build_classifier(ModelConfig(name, "none"), FeatureConfig(image_size=64 if name != "cnn" else 128), 7)
    assert [type(v) for v in model.views] == views
    logits = model(torch.randn(3, 22050))
    assert logits.shape == (3, 7)
    logits.sum().backward()


def test_channels_last_hands_over_channels_last_images():
    model = build_classifier(ModelConfig("cnn"), FeatureConfig(), 10, channels_last=True)
    images = model.images(torch.randn(2, 22050))
    assert images[0].is_contiguous(memory_format=torch.channels_last)
    plain = build_classifier(ModelConfig("cnn"), FeatureConfig(), 10)
    plain.load_state_dict(model.state_dict())
    model.eval(), plain.eval()
    x = torch.randn(2, 22050)
    torch.testing.assert_close(model(x), plain(x), atol=1e-4, rtol=1e-4)


def test_bf16_images_reach_the_backbone_under_autocast_and_fp32_without():
    features = FeatureConfig(frontend="image", image_size=32, stft_backend="torch", image_dtype="bfloat16")
    model = build_classifier(ModelConfig("fusion", "none"), features, 10).eval()
    x = torch.randn(2, 22050)
    assert [image.dtype for image in model.images(x)] == [torch.float32, torch.float32]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert [image.dtype for image in model.images(x)] == [torch.bfloat16, torch.bfloat16]
    full = build_classifier(ModelConfig("fusion", "none"), FeatureConfig(image_size=32, stft_backend="torch"), 10)
    full.load_state_dict(model.state_dict())
    torch.testing.assert_close(model(x), full.eval()(x), atol=0.05, rtol=0.05)  # bf16 images: ~3 digits
