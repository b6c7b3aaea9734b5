"""Log-mel and CQT front ends against librosa, and as pure GPU layers."""
import numpy as np
import pytest
import torch

from gtzan_gpu.features.time_frequency import ConstantQ, LogMelSpectrogram

librosa = pytest.importorskip("librosa")
SR = 22050
LOGMEL_ATOL_DB = 0.01   # met: 3e-4 dB on these signals
CQT_MIN_R = 0.95        # met: r = 0.97-0.99 (nnAudio CQT1992v2 is not librosa recursive CQT)


def signals() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    t = np.arange(SR * 3) / SR
    return {"chirp + noise": (0.4 * np.sin(2 * np.pi * 330 * t * (1 + 0.2 * t)) + 0.05 * rng.standard_normal(t.size)),
            "chords": sum(0.2 * np.sin(2 * np.pi * f * t) for f in (110, 220, 277.2, 329.6, 880)),
            "noise": 0.3 * rng.standard_normal(t.size)}


@pytest.mark.parametrize("backend", ["nnaudio", "torch"])
def test_logmel_matches_librosa_melspectrogram(backend):
    layer = LogMelSpectrogram(backend=backend)
    for name, y in signals().items():
        y = y.astype(np.float32)
        power = librosa.feature.melspectrogram(y=y, sr=SR, n_fft=2048, hop_length=512, n_mels=128, center=True,
                                               pad_mode="constant")
        expected = librosa.power_to_db(power, ref=np.max, top_db=80)
        got = layer.decibels(torch.from_numpy(y)[None])[0].numpy()
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=LOGMEL_ATOL_DB, err_msg=name)


def test_cqt_correlates_with_librosa_cqt():
    layer = ConstantQ()
    for name, y in signals().items():
        y = y.astype(np.float32)
        expected = librosa.amplitude_to_db(np.abs(librosa.cqt(y, sr=SR, hop_length=512, fmin=32.70319566257483,
                                                              n_bins=84, bins_per_octave=12)), ref=np.max, top_db=80)
        got = layer.decibels(torch.from_numpy(y)[None])[0].numpy()
        assert got.shape == expected.shape
        r = np.corrcoef(got.ravel(), expected.ravel())[0, 1]
        assert r >= CQT_MIN_R, (name, r)


def test_the_cqt_magnitude_is_nnaudios_computation_done_by_fp32_conv1d():
    layer = ConstantQ()
    x = 0.3 * torch.randn(2, SR, generator=torch.Generator().manual_seed(0))
    reference = layer.cqt(x)  # CQT1992v2's own forward (reflect padding, librosa normalisation)
    torch.testing.assert_close(layer.magnitude(x), reference, rtol=0, atol=1e-6 * float(reference.max()))


@pytest.mark.parametrize("factory", [LogMelSpectrogram, lambda: LogMelSpectrogram(backend="torch", size=64),
                                     ConstantQ], ids=["logmel", "logmel-torch-64", "cqt"])
def test_front_ends_are_unit_images_and_pure_tensor_code(factory):
    layer = factory()
    out = layer(torch.randn(3, SR * 2))
    assert out.shape == (3, 1, layer.size, layer.size) and out.min() >= 0 and out.max() <= 1
    meta = layer.to("meta")(torch.empty(2, SR, device="meta"))  # any host read would fail on meta
    assert meta.shape == (2, 1, layer.size, layer.size)


def test_one_channel_models_and_pretrained_stems_summed_over_rgb(tmp_path):
    from torchvision.models import resnet18

    from gtzan_gpu.config import FeatureConfig, ModelConfig
    from gtzan_gpu.errors import GtzanError
    from gtzan_gpu.models import build_classifier

    state = resnet18(weights=None).state_dict()
    torch.save(state, tmp_path / "w.pth")
    model = build_classifier(ModelConfig("resnet18", str(tmp_path / "w.pth")),
                             FeatureConfig(frontend="logmel", image_size=64, stft_backend="torch"), 10)
    assert model.backbone.trunk.conv1.in_channels == 1
    assert torch.equal(model.backbone.trunk.conv1.weight, state["conv1.weight"].sum(dim=1, keepdim=True))
    assert model(torch.randn(2, SR)).shape == (2, 10)
    cnn = build_classifier(ModelConfig("cnn"), FeatureConfig(frontend="cqt", image_size=32), 10)
    assert cnn(torch.randn(2, SR)).shape == (2, 10)
    with pytest.raises(GtzanError, match="--frontend logmel: the fusion model takes --frontend image"):
        build_classifier(ModelConfig("fusion", "none"), FeatureConfig(frontend="logmel"), 10)


@pytest.mark.parametrize("frontend", ["logmel", "cqt"])
def test_training_with_a_one_channel_front_end_logs_its_images(frontend, tiny_corpus, tmp_path):
    from gtzan_gpu.config import FeatureConfig
    from gtzan_gpu.training import fit
    from tests.conftest import small_train_config
    from tests.training.test_engine import event_tags

    config = small_train_config(tiny_corpus, tmp_path / "run", epochs=1,
                                features=FeatureConfig(frontend=frontend, image_size=32, stft_backend="torch"))
    assert fit(config)["history"][0]["val_accuracy"] >= 0
    assert any(tag.startswith(f"features/{frontend}/") for tag in event_tags(tmp_path / "run" / "tb"))


@pytest.mark.parametrize("factory", [lambda ref: LogMelSpectrogram(backend="torch", size=32, db_reference=ref),
                                     lambda ref: ConstantQ(size=32, db_reference=ref)], ids=["logmel", "cqt"])
def test_a_fixed_reference_keeps_loudness_and_the_max_reference_divides_it_out(factory):
    y = torch.from_numpy(signals()["chords"].astype(np.float32))[None]
    quieter = y * 10 ** (-12 / 20)  # -12 dB
    fixed, relative = factory("fixed"), factory("max")
    shift_db = (fixed.decibels(y) - fixed.decibels(quieter))
    loud_cells = fixed.decibels(y) > -60  # well above the -100 dB floor
    assert torch.allclose(shift_db[loud_cells], torch.full_like(shift_db[loud_cells], 12.0), atol=0.05)
    assert torch.allclose(relative(y), relative(quieter), atol=1e-4)
    assert (fixed(y) - fixed(quieter)).abs().mean() > 0.05  # 12 dB of 100 on the unit scale, where not floored


def test_specaugment_masks_take_each_examples_mean_in_one_channel_maps():
    from gtzan_gpu.augment import SpecAugment

    layer = LogMelSpectrogram(backend="torch", size=32)
    layer.spec_augment = SpecAugment(masks=2, max_width=0.3).train()
    layer.spec_augment.reseed(0)
    y = torch.randn(2, SR)
    plain, augmented = LogMelSpectrogram(backend="torch", size=32)(y), layer(y)
    changed = plain != augmented
    assert changed.any()
    for example in range(2):
        fill = augmented[example][changed[example]]
        assert torch.allclose(fill, plain[example].mean().expand_as(fill), atol=1e-6)
