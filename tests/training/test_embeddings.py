"""``gtzan-gpu embed`` and the HEAR API over the pretrained encoders (the wheel's weights, where installed)."""
import numpy as np
import pytest
import torch

from gtzan_gpu.cli import main
from tests.models.pretrained.test_musicnn import needs_wheel


@needs_wheel
def test_embed_writes_tracks_segments_labels_and_splits(tiny_corpus, tmp_path, capsys):
    manifest = tmp_path / "m.json"
    assert main(["split", str(tiny_corpus), "--out", str(manifest), "-q"]) == 0
    out = tmp_path / "e.npz"
    assert main(["embed", str(tiny_corpus), "--weights", "musicnn:MSD_musicnn", "--out", str(out),
                 "--segment-seconds", "2", "--manifest", str(manifest), "-q"]) == 0
    data = np.load(out)
    tracks = len(data["track_ids"])
    assert tracks == 50 and data["track_embeddings"].shape == (50, 200)  # the corrupted jazz.00054 is excluded
    assert data["segment_embeddings"].shape == (150, 200)  # 6-s tracks: three 2-s windows each
    assert set(data["split"]) == {"train", "val", "test"} and str(data["weights"]) == "musicnn:MSD_musicnn"
    first = data["segment_track"] == 0
    assert np.allclose(data["segment_embeddings"][first].mean(axis=0), data["track_embeddings"][0], atol=1e-5)
    assert list(data["segment_start_seconds"][first]) == [0.0, 2.0, 4.0]
    assert [data["label_names"][i] for i in data["label_index"]] == list(data["labels"])
    before = out.read_bytes()
    assert main(["embed", str(tiny_corpus), "--weights", "musicnn:MSD_musicnn", "--out", str(out)]) == 2
    assert "never overwrite" in capsys.readouterr().err and out.read_bytes() == before


@pytest.mark.parametrize("options, message", [
    (["--weights", "musicnn:MSD_musicnn", "--out", "e.txt"], "name a .npz file"),
    (["--weights", "musicnn:NOPE", "--out", "e.npz"], "unknown --weights musicnn:NOPE"),
    (["--weights", "musicnn:MSD_musicnn", "--out", "e.npz", "--manifest", "nowhere.json"], "--manifest not found"),
])
def test_bad_embed_options_are_one_line_before_any_work(options, message, tiny_corpus, tmp_path, capsys,
                                                       monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["embed", str(tiny_corpus), *options]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "e.npz").exists()


@needs_wheel
def test_the_hear_api_gives_scene_and_timestamp_embeddings():
    from gtzan_gpu import hear

    model = hear.load_model("musicnn:MTT_musicnn")
    assert model.sample_rate == 16000 and model.scene_embedding_size == model.timestamp_embedding_size == 200
    audio = torch.randn(2, 16000 * 7) * 0.1  # 7 s: two 3-s patches and a dropped second
    scene = hear.get_scene_embeddings(audio, model)
    assert scene.shape == (2, 200)
    patches = torch.stack([model(audio[:, i * 48000:(i + 1) * 48000]) for i in range(2)]).mean(dim=0)
    assert torch.allclose(scene, patches, atol=1e-5)
    short = hear.get_scene_embeddings(audio[:, :8000], model)  # shorter than a patch: one patch of its own
    assert short.shape == (2, 200)
    embeddings, timestamps = hear.get_timestamp_embeddings(audio[:, :16000], model)
    assert embeddings.shape == (2, 21, 200) and timestamps.shape == (2, 21)
    assert timestamps[0, 0] == 0 and timestamps[0, 1] == pytest.approx(50.0) and timestamps[0, -1] == 1000.0


def test_embed_names_a_bad_layer_in_one_line(tiny_corpus, tmp_path, capsys):
    from tests.models.pretrained.test_transfer import musicnn_folder

    weights = f"musicnn:{musicnn_folder(tmp_path)}"
    assert main(["embed", str(tiny_corpus), "--weights", weights, "--out", str(tmp_path / "e.npz"),
                 "--embedding", "nope"]) == 2
    assert "unknown --embedding 'nope' for musicnn" in capsys.readouterr().err
