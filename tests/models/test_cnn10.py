"""CNN10 (half width): shapes, input BatchNorm per frequency row, global pooling, and a sane first loss."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from gtzan_gpu.config import FeatureConfig, ModelConfig
from gtzan_gpu.errors import GtzanError
from gtzan_gpu.models import CNN10, SmallCNN, build_classifier
from gtzan_gpu.models.cnn10 import FrequencyBatchNorm
from gtzan_gpu.training.optimization import learning_rate_at, set_learning_rate


def test_any_map_width_gives_logits_and_the_head_stays_small():
    model = CNN10(num_classes=8, bins=64, in_channels=1).eval()
    for frames in (32, 64, 100):
        assert model(torch.randn(3, 1, 64, frames)).shape == (3, 8)
    head_inputs = model.head[1].in_features
    assert head_inputs == 256  # global pooling: the seed CNN's dense layer takes 32 x 32 x 32 = 32,768


def test_frequency_batchnorm_standardises_each_row_over_batch_and_time():
    norm = FrequencyBatchNorm(16).train()
    spread = torch.linspace(1.0, 50.0, 16).view(1, 1, 16, 1)  # BatchNorm's eps (1e-5) is negligible against these
    rows = torch.randn(8, 1, 16, 40, generator=torch.Generator().manual_seed(0)) * spread + 30.0
    out = norm(rows)
    assert out.shape == rows.shape
    assert torch.allclose(out.mean(dim=(0, 1, 3)), torch.zeros(16), atol=1e-4)
    assert torch.allclose(out.var(dim=(0, 1, 3), unbiased=False), torch.ones(16), atol=1e-3)


def first_step_losses(model: torch.nn.Module, steps: int = 3, warmup_steps: int = 0) -> list[float]:
    """Training losses of the first ``steps`` Adam steps (peak lr 1e-3, linear warm-up over ``warmup_steps``) on
    one fixed random 10-class batch."""
    torch.manual_seed(0)
    images = torch.rand(32, model_channels(model), 64, 64)
    labels = torch.arange(32) % 10
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for step in range(steps):
        set_learning_rate(optimizer, learning_rate_at(step, 1e-3, 100, warmup_steps, "constant"))
        loss = F.cross_entropy(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def model_channels(model: torch.nn.Module) -> int:
    first = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    return first.in_channels


def test_global_pooling_keeps_the_first_steps_near_chance_where_the_seed_cnn_jumps():
    """The seed CNN's 32,768-input dense layer: one Adam step of 1e-3 on every weight moves a logit by about
    1e-3 x 32,768 x mean activation, so its loss leaps far above ln(10); CNN10's 256-input head does not."""
    torch.manual_seed(0)
    cnn10_losses = first_step_losses(CNN10(10, bins=64, in_channels=1))
    torch.manual_seed(0)
    seed_losses = first_step_losses(SmallCNN(10, image_size=64, in_channels=1))
    assert max(cnn10_losses) < math.log(10) + 1.0
    assert max(seed_losses) > math.log(10) + 2.0


def test_registry_entry_takes_logmel_and_cqt_only():
    model = build_classifier(ModelConfig("cnn10"), FeatureConfig(frontend="logmel", image_size=32,
                                                                stft_backend="torch"), 10)
    assert model.eval()(torch.randn(2, 22050)).shape == (2, 10)
    with pytest.raises(GtzanError, match="cnn10"):
        build_classifier(ModelConfig("cnn10"), FeatureConfig(frontend="image", image_size=32), 10)
