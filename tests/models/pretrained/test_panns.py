"""PANNs CNN10 / CNN14 from a checkpoint the user brings, tested with checkpoints written here in PANNs' exact key
layout (``ckpt["model"]`` with the feature-extractor and AudioSet-head keys); the front end against librosa."""
import librosa
import numpy as np
import pytest
import torch

from gtzan_gpu.config import FeatureConfig, ModelConfig, TrainConfig
from gtzan_gpu.errors import GtzanError
from gtzan_gpu.features.panns_logmel import PannsLogMel
from gtzan_gpu.models.classifier import build_classifier
from gtzan_gpu.models.pretrained.panns import CNN10_WIDTHS, CNN14_WIDTHS, PannsCNN
from gtzan_gpu.training.embeddings import EmbeddingExtractor


def panns_checkpoint(path, widths, drop=(), extra=()):
    """What PANNs' training script saves: {"iteration", "model": state_dict, "sampler", ...}, with torchlibrosa's
    extractor kernels and the 527-class AudioSet head among the model's keys."""
    torch.manual_seed(0)
    state = {k: v.clone() for k, v in PannsCNN(widths).state_dict().items() if k not in drop}
    state.update({"spectrogram_extractor.stft.conv_real.weight": torch.randn(513, 1, 1024),
                  "spectrogram_extractor.stft.conv_imag.weight": torch.randn(513, 1, 1024),
                  "logmel_extractor.melW": torch.randn(513, 64),
                  "fc_audioset.weight": torch.randn(527, widths[-1]), "fc_audioset.bias": torch.randn(527)})
    state.update({key: torch.zeros(1) for key in extra})
    torch.save({"iteration": 600000, "model": state}, path)
    return state


@pytest.mark.parametrize("model, widths", [("panns-cnn10", CNN10_WIDTHS), ("panns-cnn14", CNN14_WIDTHS)])
def test_a_panns_checkpoint_loads_by_its_own_key_names(tmp_path, model, widths):
    path = tmp_path / f"{model}.pth"
    state = panns_checkpoint(path, widths)
    classifier = build_classifier(ModelConfig(model, f"panns:{path}"), FeatureConfig(frontend="panns"), 10)
    loaded = classifier.backbone.encoder.state_dict()
    assert torch.equal(loaded["conv_block1.conv1.weight"], state["conv_block1.conv1.weight"])
    assert torch.equal(loaded["fc1.weight"], state["fc1.weight"])
    assert classifier(torch.randn(2, 22050 * 2)).shape == (2, 10)
    assert classifier.backbone.head.in_features == widths[-1]


def test_keys_that_do_not_fit_are_listed(tmp_path):
    path = tmp_path / "cnn14.pth"
    panns_checkpoint(path, CNN14_WIDTHS, drop=("conv_block3.bn1.running_mean",), extra=("mystery.weight",))
    with pytest.raises(GtzanError, match=r"missing \['conv_block3.bn1.running_mean'\], unexpected "
                                         r"\['mystery.weight'\]"):
        build_classifier(ModelConfig("panns-cnn14", f"panns:{path}"), FeatureConfig(frontend="panns"), 10)
    cnn10 = tmp_path / "cnn10.pth"
    panns_checkpoint(cnn10, CNN10_WIDTHS)
    with pytest.raises(GtzanError, match="missing .*conv_block5"):  # CNN10 weights into CNN14
        build_classifier(ModelConfig("panns-cnn14", f"panns:{cnn10}"), FeatureConfig(frontend="panns"), 10)
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(GtzanError, match="cannot read PANNs checkpoint"):
        build_classifier(ModelConfig("panns-cnn10", f"panns:{tmp_path / 'junk.pth'}"), FeatureConfig(frontend="panns"), 10)
    with pytest.raises(GtzanError, match="file not found"):
        TrainConfig(data="x", model={"name": "panns-cnn10", "weights": f"panns:{tmp_path}/none.pth"}).model.pretrained.check_available()
    with pytest.raises(GtzanError, match="do not fit --model musicnn"):
        TrainConfig(data="x", model={"name": "musicnn", "weights": f"panns:{path}"})


def test_embed_reads_the_architecture_from_the_checkpoint_and_tag_refuses_panns(tmp_path):
    path = tmp_path / "Cnn10_mAP=0.380.pth"
    panns_checkpoint(path, CNN10_WIDTHS)
    extractor = EmbeddingExtractor(f"panns:{path}")
    assert extractor.width == 512 and extractor(torch.randn(3, 22050)).shape == (3, 512)
    from gtzan_gpu.training.tagging import Tagger

    with pytest.raises(GtzanError, match="no tag vocabulary"):
        Tagger(f"panns:{path}")


def test_the_front_end_is_torchlibrosas_log_mel():
    rng = np.random.default_rng(0)
    signal = (0.3 * rng.standard_normal(32000)).astype(np.float32)
    ours = PannsLogMel(32000)(torch.from_numpy(signal)[None])[0, 0].numpy()
    mel = librosa.feature.melspectrogram(y=signal, sr=32000, n_fft=1024, hop_length=320, n_mels=64, fmin=50,
                                         fmax=14000, center=True, pad_mode="reflect", power=2.0)
    reference = 10 * np.log10(np.maximum(mel, 1e-10))
    assert ours.shape == reference.shape == (64, 101)
    assert np.abs(ours - reference).max() < 1e-3
