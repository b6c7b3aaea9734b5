"""The optimiser, the learning-rate schedule, label smoothing and the chance-level warning."""
from __future__ import annotations

import pytest
import torch

from gtzan_gpu.config import FeatureConfig, ModelConfig, TrainConfig
from gtzan_gpu.errors import GtzanError
from gtzan_gpu.models import CNN10
from gtzan_gpu.training.epoch import chance_warning, mixup
from gtzan_gpu.training.optimization import build_optimizer, learning_rate_at


def test_warmup_rises_linearly_then_cosine_decays_to_zero():
    rates = [learning_rate_at(step, 1.0, total_steps=100, warmup_steps=10, schedule="cosine") for step in range(100)]
    assert rates[:10] == pytest.approx([(s + 1) / 10 for s in range(10)])
    assert rates[10] == pytest.approx(1.0)
    assert rates[55] == pytest.approx(0.5, abs=1e-9)          # half way through the decay
    assert all(a >= b for a, b in zip(rates[10:], rates[11:]))
    assert learning_rate_at(100, 1.0, 100, 10, "cosine") == pytest.approx(0.0, abs=1e-12)


def test_constant_schedule_is_the_seeds_after_the_warmup():
    assert [learning_rate_at(s, 3e-4, 50, 0, "constant") for s in (0, 25, 49)] == [3e-4] * 3
    assert learning_rate_at(0, 1.0, 50, 4, "constant") == pytest.approx(0.25)


def test_adamw_decays_weights_but_not_biases_or_norms():
    optimizer = build_optimizer(CNN10(10, bins=32), "adamw", 1e-3, 0.05)
    decayed, kept = optimizer.param_groups
    assert decayed["weight_decay"] == 0.05 and kept["weight_decay"] == 0.0
    assert all(p.ndim > 1 for p in decayed["params"]) and all(p.ndim == 1 for p in kept["params"])
    assert isinstance(optimizer, torch.optim.AdamW)


def test_weight_decay_defaults_follow_the_optimizer():
    assert TrainConfig(optimizer="adamw").weight_decay == 0.01
    assert TrainConfig().weight_decay == 0.0 and TrainConfig().optimizer == "adam"
    with pytest.raises(GtzanError, match="--label-smoothing"):
        TrainConfig(label_smoothing=0.9)
    with pytest.raises(GtzanError, match="--schedule"):
        TrainConfig(schedule="step")


def test_gain_is_refused_where_it_would_change_nothing():
    with pytest.raises(GtzanError, match="--augment gain changes nothing"):
        TrainConfig(augment="gain")
    with pytest.raises(GtzanError, match="--augment gain changes nothing"):
        TrainConfig(augment="gain", features=FeatureConfig(frontend="logmel"), model=ModelConfig("cnn10"))
    config = TrainConfig(augment="gain,noise", features=FeatureConfig(frontend="logmel", db_reference="fixed"),
                         model=ModelConfig("cnn10"))
    assert config.augmentations == ("gain", "noise")
    with pytest.raises(GtzanError, match="--db-reference fixed applies to --frontend logmel or cqt"):
        FeatureConfig(db_reference="fixed")


def history(*accuracies: float) -> list[dict]:
    return [{"train_accuracy": a} for a in accuracies]


def test_a_run_stuck_at_chance_warns_once_with_what_to_try():
    config = TrainConfig(augment="mixup,specaugment")
    assert chance_warning(history(0.1, 0.12), 10, config) is None
    warning = chance_warning(history(0.1, 0.12, 0.09), 10, config)
    assert "stayed at chance level" in warning and "--lr" in warning and "--warmup-epochs 1" in warning
    assert "mixup,specaugment" in warning
    assert chance_warning(history(0.1, 0.12, 0.09, 0.11), 10, config) is None  # said once, not every epoch
    assert chance_warning(history(0.5, 0.1, 0.12, 0.09), 10, config) is not None  # fell back to chance
    assert chance_warning(history(0.1, 0.3, 0.12), 10, config) is None


def test_mixup_loss_smooths_both_targets():
    generator = torch.Generator().manual_seed(0)
    waveforms, labels = torch.randn(4, 100), torch.tensor([0, 1, 2, 0])
    logits = torch.randn(4, 3)
    _, _, loss_of = mixup(waveforms, labels, 0.4, generator, label_smoothing=0.2)
    _, _, hard_loss_of = mixup(waveforms, labels, 0.4, torch.Generator().manual_seed(0))
    generator = torch.Generator().manual_seed(0)
    gammas = torch._standard_gamma(torch.full((2,), 0.4), generator=generator)
    lam = float(gammas[0] / gammas.sum())
    partner = labels[torch.randperm(4, generator=generator)]
    ce = torch.nn.functional.cross_entropy
    expected = lam * ce(logits, labels, label_smoothing=0.2) + (1 - lam) * ce(logits, partner, label_smoothing=0.2)
    assert loss_of(logits) == pytest.approx(float(expected), rel=1e-6)
    assert loss_of(logits) != pytest.approx(float(hard_loss_of(logits)), rel=1e-3)


def test_a_warmup_removes_the_seed_cnns_first_step_jump():
    """Adam's first full-size step throws the seed CNN's logits far (32,768-input dense layer); ten steps of
    linear warm-up keep the loss near chance while it starts to fall."""
    from gtzan_gpu.models import SmallCNN
    from tests.models.test_cnn10 import first_step_losses

    torch.manual_seed(0)
    assert max(first_step_losses(SmallCNN(10, 64, 1), steps=6)[1:]) > 4.0  # ln(10) = 2.3
    torch.manual_seed(0)
    assert max(first_step_losses(SmallCNN(10, 64, 1), steps=6, warmup_steps=10)[1:]) < 2.6
