import pytest
import torch
from torch import nn

from gtzan_gpu.config import FeatureConfig, ModelConfig
from gtzan_gpu.features.registry import get_frontend
from gtzan_gpu.errors import GtzanError
from gtzan_gpu.models import MODELS, GenreClassifier, build_classifier, get_model_spec, grad_cam

SIDE = 16


class WaveformAsImage(nn.Module):
    """``(B, 3 * SIDE * SIDE)`` -> ``(B, 3, SIDE, SIDE)``: lets a test draw the image directly."""

    def forward(self, waveform):
        return waveform.view(-1, 3, SIDE, SIDE)


class BrightnessModel(nn.Module):
    """Class 0's logit grows with the image's brightness, class 1's shrinks: a 1x1 conv feature map."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 1, 1), nn.ReLU())
        self.head = nn.Linear(1, 2)
        with torch.no_grad():
            self.features[0].weight.fill_(1.0)
            self.features[0].bias.zero_()
            self.head.weight.copy_(torch.tensor([[1.0], [-1.0]]))
            self.head.bias.zero_()

    def forward(self, image):
        return self.head(self.features(image).mean(dim=(2, 3)))


def test_grad_cam_finds_the_region_that_drives_the_class_and_nothing_for_the_opposing_class():
    model = GenreClassifier([WaveformAsImage()], BrightnessModel(), saliency_layer="features")
    image = torch.zeros(1, 3, SIDE, SIDE)
    image[:, :, 2:6, 9:13] = 1.0  # a bright patch near the top right
    cam = grad_cam(model, image.flatten(1))
    assert cam.classes.tolist() == [0] and cam.heatmaps.shape == (1, SIDE, SIDE)
    heat = cam.heatmaps[0]
    assert heat.max() == pytest.approx(1.0) and heat[2:6, 9:13].mean() > 0.9
    outside = torch.ones_like(heat, dtype=torch.bool)
    outside[1:7, 8:14] = False  # the patch and the one-pixel rim bilinear upsampling may touch
    assert heat[outside].max() < 1e-6
    against = grad_cam(model, image.flatten(1), torch.tensor([1]))  # brightness speaks against class 1
    assert against.classes.tolist() == [1] and against.heatmaps.abs().max() == 0.0
    assert cam.probabilities.shape == (1, 2) and cam.probabilities.sum().item() == pytest.approx(1.0)


@pytest.mark.parametrize("name", list(MODELS))
def test_every_registered_model_names_a_grad_cam_layer_and_inspection_changes_nothing(name):
    frontend = get_model_spec(name).front_ends()[0]  # each model on the first front end it takes
    torch.manual_seed(0)
    model = build_classifier(ModelConfig(name, "none"), FeatureConfig(image_size=64, frontend=frontend), 10)
    model.train()
    before = {key: value.clone() for key, value in model.state_dict().items()}
    cam = grad_cam(model, torch.randn(3, 22050))
    spec = get_frontend(frontend)
    size = (64, 64) if spec.resized else (spec.rows, cam.images.shape[-1])  # pretrained maps keep their own size
    assert cam.heatmaps.shape == (3, *size) and cam.images.shape[-2:] == size
    assert cam.heatmaps.min() >= 0.0 and cam.heatmaps.max() <= 1.0
    assert cam.classes.shape == (3,) and cam.probabilities.shape == (3, 10)
    assert model.training  # mode restored
    assert all(p.grad is None for p in model.parameters())  # no gradient left on the weights
    after = model.state_dict()
    assert all(torch.equal(before[key], after[key]) for key in before)  # BatchNorm statistics untouched


def test_a_backbone_without_a_saliency_layer_is_a_clear_error():
    model = GenreClassifier([WaveformAsImage()], BrightnessModel())
    with pytest.raises(GtzanError, match="names no layer for Grad-CAM"):
        grad_cam(model, torch.zeros(1, 3 * SIDE * SIDE))
