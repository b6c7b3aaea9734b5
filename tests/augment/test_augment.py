"""GPU augmentations: training-only, pure tensor code, reproducible per (seed, epoch), exact on resume."""
import pytest
import torch

from gtzan_gpu.augment import Gain, Noise, SpecAugment, reseed_augmentations
from gtzan_gpu.config import FeatureConfig, ModelConfig, TrainConfig
from gtzan_gpu.errors import GtzanError
from gtzan_gpu.features import SpectrogramImage
from gtzan_gpu.features.colormaps import colormap_table

ALL = "crop,gain,noise,mixup,specaugment"
LOUDNESS_KEPT = dict(model=ModelConfig("cnn10"), features=FeatureConfig(frontend="logmel", db_reference="fixed"))


@pytest.mark.parametrize("module", [Gain(6.0), Noise(10.0, 40.0)], ids=["gain", "noise"])
def test_waveform_augmentations_act_only_in_training_and_repeat_after_a_reseed(module):
    x = 0.3 * torch.randn(4, 22050, generator=torch.Generator().manual_seed(0))
    assert torch.equal(module.eval()(x), x)
    module.train()
    module.reseed(5)
    first = module(x)
    assert not torch.equal(first, x) and first.shape == x.shape
    module.reseed(5)
    assert torch.equal(module(x), first)
    module.reseed(6)
    assert not torch.equal(module(x), first)
    assert module.to("meta")(torch.empty(2, 100, device="meta")).shape == (2, 100)  # no host reads


def test_gain_stays_in_its_range_and_noise_at_its_snr():
    x = 0.3 * torch.randn(64, 22050, generator=torch.Generator().manual_seed(1))
    gain = Gain(6.0).train()
    ratio_db = 20 * torch.log10(gain(x).std(dim=1) / x.std(dim=1))
    assert ratio_db.abs().max() <= 6.0 + 1e-4 and ratio_db.std() > 1
    noisy = Noise(20.0, 20.0).train()(x)
    snr = 10 * torch.log10(x.pow(2).mean(dim=1) / (noisy - x).pow(2).mean(dim=1))
    assert (snr - 20).abs().max() < 0.5


def test_specaugment_masks_show_the_floor_colour():
    layer = SpectrogramImage(normalize=False, backend="torch", height=64, width=64)
    layer.spec_augment = SpecAugment(masks=2, max_width=0.3)
    layer.train()
    reseed_augmentations(layer, 3)
    x = 0.3 * torch.randn(4, 22050 * 2, generator=torch.Generator().manual_seed(2))
    image = layer(x)
    floor = colormap_table("magma")[0].view(1, 3, 1)
    floor_columns = (image - floor.unsqueeze(-1)).abs().amax(dim=(1, 2)) < 1e-5  # (B, W) all rows at the floor
    assert floor_columns.any(dim=1).all()  # every example has a masked time span
    assert torch.equal(layer.eval()(x), SpectrogramImage(normalize=False, backend="torch", height=64, width=64)(x))


def test_augment_options_are_checked():
    with pytest.raises(GtzanError, match="unknown --augment flip"):
        TrainConfig(augment="gain,flip")
    with pytest.raises(GtzanError, match="crop draws segment starts"):
        TrainConfig(augment="crop", loader="stream")
    assert TrainConfig(augment=ALL, **LOUDNESS_KEPT).augmentations == ("crop", "gain", "noise", "mixup",
                                                                       "specaugment")


def test_the_device_loader_crops_inside_each_track(tiny_corpus):
    from gtzan_gpu.data.sources import scan_corpus
    from gtzan_gpu.data.loaders.device import DeviceLoader
    from gtzan_gpu.data.segments import SegmentSpec, track_sources

    corpus = scan_corpus(tiny_corpus)
    tracks = track_sources(corpus, [t.track_id for t in corpus.tracks][:6], 22050)
    device_corpus = DeviceLoader(tracks, SegmentSpec(2.0))
    segments = torch.arange(len(device_corpus))
    plain = device_corpus.gather(segments)[0]
    cropped, labels, track = device_corpus.gather(segments, torch.Generator().manual_seed(0))
    assert not torch.equal(plain, cropped) and torch.equal(labels, device_corpus.labels)
    flat = device_corpus.samples.float() / 32768
    for row in range(len(segments)):  # each cropped segment is a window of its own track
        first = int(device_corpus._track_first[track[row]])
        whole = flat[first:first + tracks[int(track[row])].samples]
        candidates = torch.nonzero((whole.unfold(0, 64, 1) == cropped[row, :64]).all(dim=1)).flatten().tolist()
        length = cropped.shape[1]
        assert any(start + length <= whole.numel() and torch.equal(whole[start:start + length], cropped[row])
                   for start in candidates)


def test_every_augmentation_trains_logs_an_augmented_batch_and_resumes_exactly(tiny_corpus, tmp_path, monkeypatch):
    from gtzan_gpu.training import engine, fit
    from gtzan_gpu.training.checkpoint import load_checkpoint, save_checkpoint
    from tests.conftest import interrupt_after_saves, small_train_config
    from tests.training.test_engine import event_tags

    def config(out):
        return small_train_config(tiny_corpus, out, epochs=2, augment=ALL, model=ModelConfig("cnn10"),
                                  features=FeatureConfig(frontend="logmel", db_reference="fixed", image_size=32,
                                                         stft_backend="torch"))

    straight = fit(config(tmp_path / "straight"))
    assert any(tag.startswith("augmented/logmel/") for tag in event_tags(tmp_path / "straight" / "tb"))
    monkeypatch.setattr(engine, "save_checkpoint", interrupt_after_saves(1))
    with pytest.raises(KeyboardInterrupt):
        fit(config(tmp_path / "resumed"))
    monkeypatch.setattr(engine, "save_checkpoint", save_checkpoint)
    resumed = fit(config(tmp_path / "resumed"), resume=True)
    assert [h["train_loss"] for h in resumed["history"]] == [h["train_loss"] for h in straight["history"]]
    a, b = (load_checkpoint(tmp_path / name / "last.pt")["model"] for name in ("straight", "resumed"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_specaugment_is_pure_tensor_code_on_the_meta_device():
    masked = SpecAugment(masks=2, max_width=0.2).train()(torch.empty(2, 64, 48, device="meta"), 0.0)
    assert masked.shape == (2, 64, 48) and masked.device.type == "meta"
    layer = SpectrogramImage(backend="torch", height=32, width=32).to("meta")
    layer.spec_augment = SpecAugment().train()
    assert layer.train()(torch.empty(2, 22050, device="meta")).shape == (2, 3, 32, 32)
