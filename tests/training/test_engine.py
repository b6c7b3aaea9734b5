import json

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from gtzan_gpu.config import ModelConfig
from gtzan_gpu.errors import GtzanError
from gtzan_gpu.training import engine, fit
from gtzan_gpu.training.checkpoint import load_checkpoint, save_checkpoint
from tests.conftest import interrupt_after_saves, small_train_config, write_tone


def test_a_run_leaves_checkpoints_manifest_and_history(trained_run):
    assert {p.name for p in trained_run.iterdir()} >= {"last.pt", "best.pt", "manifest.json", "tb"}
    assert not [p for p in trained_run.iterdir() if p.name.endswith(".tmp")]
    last = load_checkpoint(trained_run / "last.pt")
    assert last["epoch"] == 3 and len(last["history"]) == 3 and last["model_name"] == "cnn"
    assert set(last) >= {"model", "optimizer", "scaler", "config", "manifest", "manifest_digest", "rng"}
    assert json.loads((trained_run / "manifest.json").read_text())["scheme"] == "random"
    best = load_checkpoint(trained_run / "best.pt")
    assert best["epoch"] == last["best"]["epoch"]
    val_accuracies = [h["val_accuracy"] for h in last["history"]]
    assert last["best"]["val_accuracy"] == max(val_accuracies)  # selected on validation, never on test


def event_tags(log_dir) -> dict[str, int]:
    """Every summary tag in every TensorBoard event file under ``log_dir``, with how often it was written."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    counts: dict[str, int] = {}
    for path in sorted(log_dir.rglob("events.out.tfevents.*")):
        for event in EventFileLoader(str(path)).Load():
            for value in event.summary.value:
                counts[value.tag] = counts.get(value.tag, 0) + 1
    return counts


CARD_WIDTH = 800  # a figure at most this wide keeps its captions readable on a TensorBoard card (issue 33)


def per_genre(tags: dict[str, int], prefix: str) -> dict[str, int]:
    """The tags under ``prefix/`` (one image per segment, its genre in the tag), by their last part."""
    return {tag[len(prefix) + 1:]: count for tag, count in tags.items() if tag.startswith(prefix + "/")}


def test_tensorboard_has_what_a_person_inspects(trained_run):
    tags = event_tags(trained_run / "tb")
    for tag in ("train/loss", "train/accuracy", "val/loss", "val/accuracy", "val/track_accuracy",
                "train/learning_rate", "throughput/segments_per_second", "val/confusion"):
        assert tags.get(tag) == 3, tag  # once per epoch
    shown = per_genre(tags, "features/spectrogram")  # one image per genre of the fixed batch, the genre in the tag
    assert len(shown) == 8 and set(shown) <= {"blues", "classical", "country", "disco", "hiphop", "jazz", "metal",
                                               "pop", "reggae", "rock"}
    assert set(shown.values()) == {1}  # logged at the start; again per epoch only when trainable
    assert tags["features/grid"] == 1  # captioned grid of the same batch
    assert {"run/manifest/text_summary", "run/weights/text_summary", "_hparams_/experiment",
            "_hparams_/session_start_info", "hparam/val_accuracy", "hparam/val_track_accuracy"} <= set(tags)
    accumulator = EventAccumulator(str(trained_run / "tb"), size_guidance={"images": 0, "tensors": 0})
    accumulator.Reload()
    image = accumulator.Images(f"features/spectrogram/{next(iter(shown))}")[0]
    assert (image.width, image.height) == (64, 64)  # one validation segment's 64 x 64 image per card
    grid = accumulator.Images("features/grid")[0]  # 8 captioned segments, at most 4 a row
    assert grid.width <= CARD_WIDTH and grid.height > 0.4 * grid.width  # two rows of four, not a strip of eight
    confusion = accumulator.Images("val/confusion")[-1]  # a matplotlib figure sized for TensorBoard's cards
    assert 500 <= confusion.width <= 760 and confusion.encoded_image_string[:4] == b"\x89PNG"
    name = accumulator.Tensors("run/name/text_summary")[0].tensor_proto.string_val[0].decode()
    assert name == "cnn-2s-random-seed0"  # model, segment length, split scheme, seed


def test_grad_cam_is_logged_every_k_epochs_and_at_the_last(trained_run, tiny_corpus, tmp_path):
    accumulator = EventAccumulator(str(trained_run / "tb"), size_guidance={"images": 0})
    accumulator.Reload()
    figures = accumulator.Images("saliency/gradcam")
    assert [event.step for event in figures] == [3]  # every 5: only the last of 3
    assert figures[0].encoded_image_string[:4] == b"\x89PNG" and CARD_WIDTH >= figures[0].width > 500
    fit(small_train_config(tiny_corpus, tmp_path / "run", epochs=3, saliency_every=2))
    accumulator = EventAccumulator(str(tmp_path / "run" / "tb"), size_guidance={"images": 0})
    accumulator.Reload()
    assert [event.step for event in accumulator.Images("saliency/gradcam")] == [2, 3]
    fit(small_train_config(tiny_corpus, tmp_path / "off", epochs=1, saliency_every=0, max_steps=1))
    assert "saliency/gradcam" not in event_tags(tmp_path / "off" / "tb")


def test_the_cnn_learns_the_synthetic_genres(tiny_corpus, tmp_path):
    summary = fit(small_train_config(tiny_corpus, tmp_path / "run", epochs=6, lr=2e-3))
    assert summary["best"]["val_accuracy"] >= 0.5  # 10 genres: chance is 0.1


def test_fusion_trains_with_both_views(tiny_corpus, tmp_path):
    config = small_train_config(tiny_corpus, tmp_path / "fusion", model=ModelConfig("fusion", "none"), epochs=1,
                                max_steps=2, batch_size=8)
    summary = fit(config)
    assert summary["global_step"] == 2
    tags = event_tags(tmp_path / "fusion" / "tb")
    assert per_genre(tags, "features/spectrogram") and per_genre(tags, "features/waveform") and "features/grid" in tags


def test_an_interrupted_run_resumes_to_the_uninterrupted_weights(tiny_corpus, tmp_path, monkeypatch):
    """With a warm-up + cosine schedule, AdamW and label smoothing: the learning rate is a function of the step,
    so the resumed run follows the same schedule."""
    scheduled = dict(epochs=3, optimizer="adamw", schedule="cosine", warmup_epochs=1.0, label_smoothing=0.1)
    straight = fit(small_train_config(tiny_corpus, tmp_path / "straight", **scheduled))
    monkeypatch.setattr(engine, "save_checkpoint", interrupt_after_saves(2))
    with pytest.raises(KeyboardInterrupt):
        fit(small_train_config(tiny_corpus, tmp_path / "resumed", **scheduled))
    monkeypatch.setattr(engine, "save_checkpoint", save_checkpoint)
    assert load_checkpoint(tmp_path / "resumed" / "last.pt")["epoch"] == 2
    resumed = fit(small_train_config(tiny_corpus, tmp_path / "resumed", **scheduled), resume=True)
    deterministic = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_track_accuracy")
    assert resumed["epochs_run"] == 1 and len(resumed["history"]) == 3  # epochs of this run, of all runs
    assert [{k: h[k] for k in deterministic} for h in resumed["history"]] == \
        [{k: h[k] for k in deterministic} for h in straight["history"]]
    a = load_checkpoint(tmp_path / "straight" / "last.pt")["model"]
    b = load_checkpoint(tmp_path / "resumed" / "last.pt")["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed["history"][-1]["val_loss"] == straight["history"][-1]["val_loss"]


def test_stream_and_device_loaders_train_identically(tiny_corpus, tmp_path):
    a = fit(small_train_config(tiny_corpus, tmp_path / "device", epochs=1, loader="device"))
    b = fit(small_train_config(tiny_corpus, tmp_path / "stream", epochs=1, loader="stream", workers=2))
    assert a["history"][0]["train_loss"] == pytest.approx(b["history"][0]["train_loss"], rel=1e-5)
    assert a["history"][0]["val_accuracy"] == b["history"][0]["val_accuracy"]


def test_max_steps_stops_early_and_still_checkpoints(tiny_corpus, tmp_path):
    summary = fit(small_train_config(tiny_corpus, tmp_path / "run", epochs=5, max_steps=3))
    assert summary["global_step"] == 3 and summary["epochs_run"] == 1
    assert load_checkpoint(tmp_path / "run" / "last.pt")["global_step"] == 3


def test_early_stopping_after_patience(tiny_corpus, tmp_path):
    summary = fit(small_train_config(tiny_corpus, tmp_path / "run", epochs=8, lr=1e-9, patience=1))
    assert summary["epochs_run"] < 8


@pytest.mark.parametrize("case, message", [
    ("missing-data", "corpus folder not found"),
    ("one-genre", "needs at least 2"),
    ("segment-too-long", "longer than every track"),
    ("unwritable", "not writable"),
])
def test_bad_input_is_a_one_line_error(tiny_corpus, tmp_path, case, message):
    config = small_train_config(tiny_corpus, tmp_path / "run")
    if case == "missing-data":
        config.data = str(tmp_path / "nowhere")
    elif case == "one-genre":
        write_tone(tmp_path / "solo" / "rock" / "a.wav", 3.0, 22050)
        config.data = str(tmp_path / "solo")
    elif case == "segment-too-long":
        config.segment_seconds = 7.0
    elif case == "unwritable":
        (tmp_path / "file").write_text("x")
        config.out = str(tmp_path / "file" / "run")
    with pytest.raises(GtzanError, match=message) as error:
        fit(config)
    assert "\n" not in str(error.value)
    assert not (tmp_path / "run" / "last.pt").exists()


def test_divergence_stops_with_no_partial_checkpoint(tiny_corpus, tmp_path):
    with pytest.raises(GtzanError, match="non-finite loss at epoch 1.*no checkpoint was written"):
        fit(small_train_config(tiny_corpus, tmp_path / "run", lr=1e12, epochs=2))
    assert not list((tmp_path / "run").glob("*.pt")) and not list((tmp_path / "run").glob("*.tmp"))


def test_nan_samples_in_a_streamed_batch_are_reported(tmp_path):
    import numpy as np
    import soundfile as sf

    from gtzan_gpu.data.segments import SegmentSpec, TrackSource
    from gtzan_gpu.training.batches import SegmentBatches

    path = tmp_path / "nan.wav"
    sf.write(str(path), np.full(22050, np.nan, dtype=np.float32), 22050, subtype="FLOAT")
    batches = SegmentBatches([TrackSource("nan", 0, path, 22050, 22050)], SegmentSpec(1.0), torch.device("cpu"),
                             "stream", 4)
    with pytest.raises(GtzanError, match="NaN or infinite samples.*'nan'"):
        next(batches.epoch())


def test_resume_refuses_a_checkpoint_from_another_model(trained_run, tiny_corpus, tmp_path):
    import shutil

    target = tmp_path / "run"
    shutil.copytree(trained_run, target)
    checkpoint = load_checkpoint(target / "last.pt")
    checkpoint["config"]["model"]["name"] = "resnet18"
    checkpoint["config"]["model"]["weights"] = "none"
    from gtzan_gpu.config import TrainConfig
    torch.save(checkpoint, target / "last.pt")
    with pytest.raises(GtzanError, match="does not fit a 'resnet18' model"):
        fit(TrainConfig.from_dict({**checkpoint["config"], "out": str(target)}), resume=True)


def test_an_incompatible_checkpoint_version_is_refused(trained_run, tmp_path):
    checkpoint = load_checkpoint(trained_run / "last.pt")
    checkpoint["version"] = 99
    torch.save(checkpoint, tmp_path / "old.pt")
    with pytest.raises(GtzanError, match="checkpoint version 99"):
        load_checkpoint(tmp_path / "old.pt")
    (tmp_path / "junk.pt").write_text("junk")
    with pytest.raises(GtzanError, match="cannot read checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")


def test_tensorboard_inspects_validation_pr_curves_mistakes_and_projector(trained_run):
    tags = event_tags(trained_run / "tb")
    genres = json.loads((trained_run / "manifest.json").read_text())["genres"]
    for genre in genres:
        assert tags.get(f"val_pr/{genre}") == 3, genre  # one PR curve per genre per epoch
    audio = [t for t in tags if t.startswith("val_mistakes/audio/")]
    assert audio and all(f"val_mistakes/image/{t.rsplit('/', 1)[1]}" in tags for t in audio)
    accumulator = EventAccumulator(str(trained_run / "tb"), size_guidance={"audio": 0, "tensors": 0})
    accumulator.Reload()
    clip = accumulator.Audio(audio[0])[0]
    assert clip.sample_rate == 22050 and clip.length_frames == 2 * 22050
    projector = (trained_run / "tb" / "projector_config.pbtxt").read_text()
    assert "val_tracks" in projector and "sprite" in projector and "metadata_path" in projector
    metadata = sorted((trained_run / "tb").rglob("metadata.tsv"))[-1].read_text().splitlines()
    assert metadata[0].split("\t") == ["genre", "predicted", "correct", "track"] and len(metadata) == 1 + 10
    assert sorted((trained_run / "tb").rglob("sprite.png"))[-1].read_bytes()[:4] == b"\x89PNG"


def test_a_kill_right_after_a_checkpoint_loses_no_tensorboard_epoch(tiny_corpus, tmp_path, monkeypatch):
    """Killed just after epoch 2's last.pt is written: the resumed run starts at epoch 3, so epoch 2's
    TensorBoard entries must have been written before the checkpoint."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    monkeypatch.setattr(engine, "save_checkpoint", interrupt_after_saves(2))
    with pytest.raises(KeyboardInterrupt):
        fit(small_train_config(tiny_corpus, tmp_path / "run", epochs=3))
    monkeypatch.setattr(engine, "save_checkpoint", save_checkpoint)
    fit(small_train_config(tiny_corpus, tmp_path / "run", epochs=3), resume=True)
    steps = {event.step for path in (tmp_path / "run" / "tb").glob("events.out.tfevents.*")
             for event in EventFileLoader(str(path)).Load() for value in event.summary.value
             if value.tag == "val/accuracy"}
    assert steps == {1, 2, 3}
