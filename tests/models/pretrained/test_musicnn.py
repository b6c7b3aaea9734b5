"""MusiCNN against the original TensorFlow code: the committed fixture (fixtures/make_musicnn_reference.py says how it
was made) holds a synthetic signal's reference mel and, for both wheel checkpoints, the reference's tag probabilities
and penultimate / pooled features. Tests that need the weights skip where the musicnn wheel is absent."""
from pathlib import Path

import numpy as np
import pytest
import torch

from gtzan_gpu.features.musicnn_mel import MusicnnMel, frames_of
from gtzan_gpu.models.pretrained.musicnn import MusiCNN, state_dict_from_tf, tf_variable_names, tf_same_padding
from gtzan_gpu.models.pretrained.registry import get_weights, musicnn_package_folder
from tests.models.pretrained.fixtures.make_musicnn_reference import log_compress, reference_signal

FIXTURE = np.load(Path(__file__).parent / "fixtures" / "musicnn_reference.npz")
needs_wheel = pytest.mark.skipif(musicnn_package_folder() is None, reason="the musicnn wheel is not installed "
                                                                          "(pip install --no-deps musicnn==0.1.0)")
REFERENCE_MEL = torch.from_numpy(log_compress(FIXTURE["mel_power"])).T[None, None]  # (1, 1, 96, 187)


def pretrained(name: str) -> MusiCNN:
    model = MusiCNN()
    model.load_state_dict(get_weights(f"musicnn:{name}").state_dict())
    return model.eval()


def test_every_parameter_and_statistic_has_one_tensorflow_variable():
    model = MusiCNN()
    learned = {k for k in model.state_dict() if not k.endswith("num_batches_tracked")}
    names = tf_variable_names()
    assert set(names) == learned and len(set(names.values())) == len(names)
    assert tf_same_padding(128) == (63, 64) and tf_same_padding(7) == (3, 3)  # the odd row at the end
    assert frames_of(3.0) == 187 and frames_of(2.0) == 125  # librosa.time_to_frames(s, n_fft=512, hop 256) + 1
    assert model(torch.randn(2, 1, 96, 50)).shape == (2, 50)
    assert model.embed(torch.randn(2, 1, 96, 10), "pooled").shape == (2, 1506)


@needs_wheel
@pytest.mark.parametrize("name", ["MTT_musicnn", "MSD_musicnn"])
def test_outputs_match_the_tensorflow_reference_on_its_own_input(name):
    model = pretrained(name)
    with torch.no_grad():
        probabilities = torch.sigmoid(model(REFERENCE_MEL))[0].numpy()
        penultimate = model.embed(REFERENCE_MEL, "penultimate")[0].numpy()
        pooled = model.embed(REFERENCE_MEL, "pooled")[0].numpy()
    assert np.abs(probabilities - FIXTURE[f"{name}/probabilities"]).max() < 1e-4
    assert np.abs(penultimate - FIXTURE[f"{name}/penultimate"]).max() < 1e-4
    for ours, theirs in ((pooled[0::2], "max_pool"), (pooled[1::2], "mean_pool")):  # TensorFlow's flatten order
        reference = FIXTURE[f"{name}/{theirs}"]
        assert np.abs(ours - reference).max() < 1e-5 * np.abs(reference).max() * 100  # 1e-4 relative to the scale
    assert list(FIXTURE[f"{name}/tags"]) == list(get_weights(f"musicnn:{name}").labels)


@pytest.mark.parametrize("backend", ["torch", "nnaudio"])
def test_the_gpu_front_end_gives_the_reference_mel(backend):
    ours = MusicnnMel(16000, backend=backend)(torch.from_numpy(reference_signal())[None])[:, :, :, :187]
    difference = (ours - REFERENCE_MEL).abs()
    # equal wherever our float32 power rounds to the reference's float16; elsewhere one float16 step of the power
    assert (difference == 0).float().mean() > 0.75 and difference.max() < 2e-3


@needs_wheel
@pytest.mark.parametrize("backend", ["torch", "nnaudio"])
def test_waveform_to_tags_matches_the_reference_end_to_end(backend):
    frontend, model = MusicnnMel(16000, backend=backend), pretrained("MTT_musicnn")
    with torch.no_grad():
        mel = frontend(torch.from_numpy(reference_signal())[None])[:, :, :, :187]
        probabilities = torch.sigmoid(model(mel))[0].numpy()
    assert np.abs(probabilities - FIXTURE["MTT_musicnn/probabilities"]).max() < 1e-4


def test_the_mapping_transposes_tensorflow_kernels_to_our_layout():
    rng = np.random.default_rng(1)
    model = MusiCNN()
    shapes = {ours: tuple(value.shape) for ours, value in model.state_dict().items()}
    variables = {}
    for ours, tf in tf_variable_names().items():  # TensorFlow's shapes: HWIO (H time), mid end (7, C, 1, 64)
        shape = shapes[ours]
        tf_shape = (shape[2], shape[1], 1, shape[0]) if ours.startswith("midend") and "conv.weight" in ours \
            else shape[::-1]
        variables[tf] = rng.standard_normal(tf_shape).astype(np.float32)
    assert variables["conv2d/kernel"].shape == (7, 38, 1, 204) and variables["dense/kernel"].shape == (1506, 200)
    state = state_dict_from_tf(variables)
    model.load_state_dict(state)  # every shape fits
    assert torch.equal(state["timbral.0.conv.weight"][5, 0, 10, 2], torch.tensor(variables["conv2d/kernel"][2, 10, 0, 5]))
    assert torch.equal(state["midend.0.conv.weight"][3, 100, 6], torch.tensor(variables["conv2d_5/kernel"][6, 100, 0, 3]))
    assert torch.equal(state["dense.weight"][7, 9], torch.tensor(variables["dense/kernel"][9, 7]))
