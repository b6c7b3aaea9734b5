"""Transfer from a pretrained encoder: weights that fit or are refused in one line, frozen probes that never touch
the encoder, discriminative learning rates."""
import pytest
import torch

from gtzan_gpu.config import FeatureConfig, ModelConfig, TrainConfig
from gtzan_gpu.errors import GtzanError
from gtzan_gpu.models.classifier import build_classifier
from gtzan_gpu.models.pretrained import registry
from gtzan_gpu.models.pretrained.musicnn import MusiCNN
from gtzan_gpu.models.pretrained.transfer import TransferClassifier
from gtzan_gpu.models.weights import weights_file
from gtzan_gpu.training.optimization import build_optimizer, set_learning_rate
from tests.models.pretrained.bundle_writer import write_bundle
from tests.models.pretrained.test_musicnn import needs_wheel


def musicnn_folder(tmp_path, name="MTT_musicnn"):
    """A musicnn-layout checkpoint folder the test writes (random weights in the wheel's variable names)."""
    from gtzan_gpu.models.pretrained.musicnn import tf_variable_names

    model, rng = MusiCNN(), torch.Generator().manual_seed(0)
    tensors = {}
    for ours, tf in tf_variable_names().items():
        shape = tuple(model.state_dict()[ours].shape)
        tf_shape = (shape[2], shape[1], 1, shape[0]) if ours.startswith("midend") and "conv.weight" in ours \
            else shape[::-1]
        value = (torch.rand(tf_shape, generator=rng) - 0.5) * 0.1  # small, as trained weights are
        if tf.endswith(("moving_variance", "gamma")):
            value = value + 1.0
        tensors[tf] = value.numpy()
    folder = tmp_path / name
    folder.mkdir()
    write_bundle(str(folder) + "/", tensors)
    return folder


def test_a_musicnn_folder_of_ones_own_loads_and_keeps_the_scheme_in_the_config(tmp_path):
    folder = musicnn_folder(tmp_path)
    model = build_classifier(ModelConfig("musicnn", f"musicnn:{folder}"), FeatureConfig(frontend="musicnn",
                                                                                      stft_backend="torch"), 4)
    assert isinstance(model.backbone, TransferClassifier)
    loaded = model.backbone.encoder.state_dict()["midend.0.conv.bias"]
    assert torch.allclose(loaded, torch.from_numpy(registry.read_checkpoint(folder)["conv2d_5/bias"]))
    assert model(torch.randn(2, 22050)).shape == (2, 4)
    assert weights_file(f"musicnn:{folder}") == folder
    assert registry.absolute_weights("musicnn:MTT_musicnn") == "musicnn:MTT_musicnn"  # names stay names
    assert registry.absolute_weights(f"musicnn:{folder}/../{folder.name}") == f"musicnn:{folder}"


def test_missing_weights_are_one_line_naming_the_install_command_never_a_random_init(tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "musicnn_package_folder", lambda: None)
    with pytest.raises(GtzanError, match=r"pip install --no-deps musicnn==0\.1\.0"):
        weights_file("musicnn:MTT_musicnn")
    with pytest.raises(GtzanError, match=r"pip install --no-deps musicnn==0\.1\.0"):
        build_classifier(ModelConfig("musicnn", "musicnn:MSD_musicnn"), FeatureConfig(frontend="musicnn"), 3)
    monkeypatch.setattr(registry, "musicnn_package_folder", lambda: tmp_path)  # installed, but folder gone
    with pytest.raises(GtzanError, match="no checkpoint in .*MTT_musicnn"):
        weights_file("musicnn:MTT_musicnn")
    with pytest.raises(GtzanError, match="folder not found"):
        weights_file(f"musicnn:{tmp_path}/nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(GtzanError, match="not a TensorFlow checkpoint folder"):
        weights_file(f"musicnn:{tmp_path}/empty")


@pytest.mark.parametrize("kwargs, message", [
    (dict(model={"name": "resnet18", "weights": "musicnn:MTT_musicnn"}), "are musicnn weights; they do not fit --model resnet18"),
    (dict(model={"name": "musicnn", "weights": "imagenet"}), "has no ImageNet weights"),
    (dict(model={"name": "musicnn", "weights": "musicnn:NOPE"}), "unknown --weights musicnn:NOPE"),
    (dict(model={"name": "cnn", "head": "mlp"}), "--head applies to the pretrained encoders"),
    (dict(model={"name": "cnn", "freeze_backbone": True}), "--freeze-backbone applies to the pretrained encoders"),
    (dict(model={"name": "musicnn", "embedding": "nope"}), "unknown --embedding 'nope' for musicnn"),
    (dict(model={"name": "musicnn", "weights": "none", "freeze_backbone": True}), "would train a head on a random encoder"),
    (dict(model={"name": "cnn"}, backbone_lr_scale=0.1), "--backbone-lr-scale applies to the pretrained"),
    (dict(model={"name": "musicnn", "freeze_backbone": True}, backbone_lr_scale=0.1), "a frozen encoder is not"),
    (dict(model={"name": "musicnn"}, features={"frontend": "logmel"}), "takes --frontend musicnn"),
])
def test_a_model_front_end_and_weights_that_do_not_fit_are_refused_in_one_line(kwargs, message):
    with pytest.raises(GtzanError, match=message):
        TrainConfig(data="x", **kwargs)


def test_the_model_brings_its_front_end_and_its_default_weights():
    config = TrainConfig(data="x", model={"name": "musicnn"})
    assert config.features.frontend == "musicnn" and config.model.weights == "musicnn:MSD_musicnn"
    assert config.model.embedding == "penultimate" and config.model.head == "linear"


def test_a_frozen_encoder_stays_in_eval_mode_and_only_the_head_learns(tmp_path):
    model = build_classifier(ModelConfig("musicnn", f"musicnn:{musicnn_folder(tmp_path)}", head="mlp",
                                         freeze_backbone=True), FeatureConfig(frontend="musicnn", stft_backend="torch"), 3)
    encoder_before = {k: v.clone() for k, v in model.backbone.encoder.state_dict().items()}
    head_before = {k: v.clone() for k, v in model.backbone.head.state_dict().items()}
    optimizer = build_optimizer(model, "adamw", 1e-2, 0.01)
    assert sum(len(g["params"]) for g in optimizer.param_groups) == 4  # the head's two Linear layers only
    model.train()
    assert not model.backbone.encoder.training and model.backbone.head.training
    loss = model(torch.randn(4, 22050)).logsumexp(dim=1).mean()
    loss.backward()
    optimizer.step()
    assert all(p.grad is None for p in model.backbone.encoder.parameters())
    after = model.backbone.encoder.state_dict()
    assert all(torch.equal(encoder_before[k], after[k]) for k in encoder_before)  # BatchNorm statistics too
    assert any(not torch.equal(head_before[k], v) for k, v in model.backbone.head.state_dict().items())


def test_fine_tuning_scales_the_encoders_learning_rate_only(tmp_path):
    model = build_classifier(ModelConfig("musicnn", f"musicnn:{musicnn_folder(tmp_path)}", embedding="pooled"),
                             FeatureConfig(frontend="musicnn", stft_backend="torch"), 3)
    assert model.backbone.head.in_features == 1506
    optimizer = build_optimizer(model, "adam", 1e-3, 0.0, backbone_lr_scale=0.1)
    set_learning_rate(optimizer, 2e-3)
    encoder_ids = {id(p) for p in model.backbone.encoder.parameters()}
    for group in optimizer.param_groups:
        in_encoder = {id(p) in encoder_ids for p in group["params"]}
        assert len(in_encoder) == 1
        assert group["lr"] == pytest.approx(2e-4 if in_encoder.pop() else 2e-3)
    assert sum(len(g["params"]) for g in optimizer.param_groups) == len(list(model.parameters()))


@needs_wheel
def test_the_wheels_weights_describe_themselves():
    weights = registry.get_weights("musicnn:MTT_musicnn")
    assert weights.architecture == "musicnn" and weights.frontend == "musicnn" and weights.sample_rate == 16000
    assert len(weights.labels) == 50 and weights.labels[:3] == ("guitar", "classical", "slow")
    assert "ISC" in weights.licence and "MagnaTagATune" in weights.source
    assert weights_file("musicnn:MSD_musicnn").name == "MSD_musicnn"
