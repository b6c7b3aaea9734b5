import pytest
import torch

from gtzan_gpu.config import FeatureConfig, ModelConfig, TrainConfig
from gtzan_gpu.errors import GtzanError
from gtzan_gpu.models import MODELS, build_classifier
from gtzan_gpu.models.shortchunk import ShortChunkResNet


def test_seven_residual_blocks_halve_a_128_by_128_log_mel_to_one_cell():
    model = ShortChunkResNet(10)
    assert len(model.blocks) == 7
    features = model.blocks(model.input_norm(torch.randn(2, 1, 128, 128)))
    assert features.shape == (2, 512, 1, 1)
    assert model(torch.randn(2, 1, 128, 128)).shape == (2, 10)
    assert 1e6 < sum(p.numel() for p in model.parameters()) < 2e7


def test_shortchunk_is_one_registry_entry_on_the_logmel_front_end(tiny_corpus, tmp_path):
    from gtzan_gpu.training import fit
    from tests.conftest import small_train_config

    assert MODELS["shortchunk"].frontends == ("logmel",)
    classifier = build_classifier(ModelConfig("shortchunk"), FeatureConfig(frontend="logmel", stft_backend="torch"), 7)
    assert classifier(torch.randn(2, 22050 * 3)).shape == (2, 7)
    with pytest.raises(GtzanError, match="--model shortchunk takes --frontend logmel, not image"):
        TrainConfig(model=ModelConfig("shortchunk"), features=FeatureConfig(frontend="image", image_size=64), data="x")
    assert TrainConfig(model=ModelConfig("shortchunk")).features.frontend == "logmel"  # the model's own by default
    assert TrainConfig(model={"name": "shortchunk"}, features={"image_size": 32}).features.frontend == "logmel"
    config = small_train_config(tiny_corpus, tmp_path / "run", model=ModelConfig("shortchunk"), epochs=1,
                                batch_size=89, features=FeatureConfig(frontend="logmel", image_size=32,
                                                                     stft_backend="torch"))
    summary = fit(config)  # 90 training segments in batches of 89: the last batch of 1 is left out (BatchNorm)
    assert summary["global_step"] == 1 and summary["history"][0]["train_loss"] > 0
