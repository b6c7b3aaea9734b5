"""MusiCNN (Pons & Serra 2019, "musicnn: pre-trained convolutional neural networks for music audio tagging"), in
PyTorch, written from the paper and the published architecture so that the musicnn wheel's TensorFlow checkpoints
load into it and give the same numbers.

Input: ``(B, 1, 96, N)`` log-compressed mel frames (96 Slaney mels of a 16 kHz, 512 / 256 STFT, ``log10(1 + 10^4
x)``: :class:`gtzan_gpu.features.musicnn_mel.MusicnnMel`), frequency rows and time columns as every front end here,
and so inside too (TensorFlow's maps are time x frequency: its kernels are transposed on load), so the timbral
maps are images Grad-CAM can lay over the input.

- **Front end, musically motivated**: input BatchNorm; two *timbral* convolutions of 7 frames x 38 and 67 mel bands
  (40 % and 70 % of 96; 204 filters each, time padded 3 + 3, frequency "valid") and three *temporal* ones of 128,
  64 and 32 frames x 1 band (51 filters each, TensorFlow "same": the odd padding row at the end); each is ReLU,
  BatchNorm and a max over all remaining frequency, giving ``(B, 561, N)``.
- **Mid end, dense**: three 1-D convolutions of 7 frames and 64 filters over time (ReLU, BatchNorm), the second and
  third with residual connections; the front end's and the three layers' outputs are concatenated: ``(B, 753, N)``.
- **Back end**: max and mean over time, flattened as TensorFlow flattens ``(B, 753, 2)``, i.e. interleaved (max_0,
  mean_0, max_1, ...): ``(B, 1506)``; BatchNorm, dropout 0.5, dense 200 + ReLU, BatchNorm (the *penultimate*
  features), dropout 0.5, dense to the 50 tags (logits; the tagger applies a sigmoid).

BatchNorm epsilon is TensorFlow's 0.001 and its momentum 0.99 (PyTorch ``momentum=0.01``).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

N_MELS = 96
TIMBRAL_BANDS = (38, 67)      # int(0.4 * 96), int(0.7 * 96)
TEMPORAL_FRAMES = (128, 64, 32)
TIMBRAL_FILTERS, TEMPORAL_FILTERS = 204, 51  # int(1.6 * 128), int(1.6 * 32)
MIDEND_FILTERS, BACKEND_UNITS, NUM_TAGS = 64, 200, 50
FRONTEND_CHANNELS = 2 * TIMBRAL_FILTERS + 3 * TEMPORAL_FILTERS  # 561
MIDEND_CHANNELS = FRONTEND_CHANNELS + 3 * MIDEND_FILTERS       # 753
POOLED_FEATURES = 2 * MIDEND_CHANNELS                          # 1506
TF_BN_EPSILON, TF_BN_MOMENTUM = 1e-3, 0.01
EMBEDDINGS = {"penultimate": BACKEND_UNITS, "pooled": POOLED_FEATURES}  # layer name -> width


def tf_batch_norm(channels: int, dims: int) -> nn.Module:
    """A BatchNorm with TensorFlow's default epsilon and momentum (``dims`` 1 or 2)."""
    layer = nn.BatchNorm1d if dims == 1 else nn.BatchNorm2d
    return layer(channels, eps=TF_BN_EPSILON, momentum=TF_BN_MOMENTUM)


class FrequencyPooledConv(nn.Module):
    """Conv2d over ``(B, 1, F, N)`` (mel rows, time columns), ReLU, BatchNorm, max over what is left of frequency:
    ``(B, 1, F, N) -> (B, filters, N)``. ``time_padding`` is ``(before, after)`` columns of zeros."""

    def __init__(self, filters: int, frames: int, bands: int, time_padding: tuple[int, int]):
        super().__init__()
        self.time_padding = time_padding
        self.conv = nn.Conv2d(1, filters, (bands, frames))
        self.norm = tf_batch_norm(filters, 2)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        padded = F.pad(mel, self.time_padding)
        return self.norm(F.relu(self.conv(padded))).amax(dim=2)


class MidEndLayer(nn.Module):
    """``(B, C, N) -> (B, 64, N)``: a 7-frame convolution over time ("same"), ReLU, BatchNorm."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.conv = nn.Conv1d(in_channels, MIDEND_FILTERS, 7, padding=3)
        self.norm = tf_batch_norm(MIDEND_FILTERS, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.norm(F.relu(self.conv(features)))


def tf_same_padding(frames: int) -> tuple[int, int]:
    """TensorFlow's "same" padding of a stride-1 kernel: the odd row goes at the end."""
    return (frames - 1) // 2, frames // 2


class MusiCNN(nn.Module):
    """``(B, 1, 96, N)`` MusiCNN log-mel -> ``(B, 50)`` tag logits (:meth:`forward`), or any of its embeddings
    (:meth:`embed`). Works for any ``N`` (the reference's patches are 187 frames, 3 s)."""

    def __init__(self, num_tags: int = NUM_TAGS):
        super().__init__()
        self.input_norm = tf_batch_norm(1, 2)
        self.timbral = nn.ModuleList(FrequencyPooledConv(TIMBRAL_FILTERS, 7, bands, (3, 3))
                                     for bands in TIMBRAL_BANDS)
        self.temporal = nn.ModuleList(FrequencyPooledConv(TEMPORAL_FILTERS, frames, 1, tf_same_padding(frames))
                                      for frames in TEMPORAL_FRAMES)
        self.midend = nn.ModuleList([MidEndLayer(FRONTEND_CHANNELS), MidEndLayer(MIDEND_FILTERS),
                                     MidEndLayer(MIDEND_FILTERS)])
        self.pool_norm = tf_batch_norm(POOLED_FEATURES, 1)
        self.dropout = nn.Dropout(0.5)
        self.dense = nn.Linear(POOLED_FEATURES, BACKEND_UNITS)
        self.dense_norm = tf_batch_norm(BACKEND_UNITS, 1)
        self.tagger = nn.Linear(BACKEND_UNITS, num_tags)

    def pooled(self, mel: torch.Tensor) -> torch.Tensor:
        """``(B, 1, 96, N) -> (B, 1506)``: max and mean over time of the front and mid end, interleaved."""
        image = self.input_norm(mel)
        frontend = torch.cat([block(image) for block in (*self.timbral, *self.temporal)], dim=1)  # (B, 561, N)
        first = self.midend[0](frontend)
        second = self.midend[1](first) + first
        third = self.midend[2](second) + second
        features = torch.cat([frontend, first, second, third], dim=1)  # (B, 753, N)
        return torch.stack([features.amax(dim=2), features.mean(dim=2)], dim=2).flatten(1)

    def penultimate(self, pooled: torch.Tensor) -> torch.Tensor:
        """``(B, 1506) -> (B, 200)``: the back end's dense layer after BatchNorm (the reference's "penultimate")."""
        return self.dense_norm(F.relu(self.dense(self.dropout(self.pool_norm(pooled)))))

    def embed(self, mel: torch.Tensor, layer: str = "penultimate") -> torch.Tensor:
        """``(B, 1, 96, N) -> (B, D)``: ``layer`` "penultimate" (D = 200) or "pooled" (D = 1506)."""
        pooled = self.pooled(mel)
        return pooled if layer == "pooled" else self.penultimate(pooled)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.tagger(self.dropout(self.penultimate(self.pooled(mel))))


# TensorFlow's variable names in the order tf.compat.v1.layers created them (the musicnn wheel's checkpoints)
_BATCH_NORMS = ("input_norm", "timbral.0.norm", "timbral.1.norm", "temporal.0.norm", "temporal.1.norm",
                "temporal.2.norm", "midend.0.norm", "midend.1.norm", "midend.2.norm", "pool_norm", "dense_norm")
_CONVS = ("timbral.0.conv", "timbral.1.conv", "temporal.0.conv", "temporal.1.conv", "temporal.2.conv",
          "midend.0.conv", "midend.1.conv", "midend.2.conv")
_DENSES = ("dense", "tagger")


def _indexed(base: str, index: int) -> str:
    return base if index == 0 else f"{base}_{index}"


def tf_variable_names() -> dict[str, str]:
    """Our parameter/buffer name -> the TensorFlow variable it is read from."""
    names = {}
    for index, module in enumerate(_BATCH_NORMS):
        tf = _indexed("batch_normalization", index)
        names.update({f"{module}.weight": f"{tf}/gamma", f"{module}.bias": f"{tf}/beta",
                      f"{module}.running_mean": f"{tf}/moving_mean", f"{module}.running_var": f"{tf}/moving_variance"})
    for index, module in enumerate(_CONVS):
        tf = _indexed("conv2d", index)
        names.update({f"{module}.weight": f"{tf}/kernel", f"{module}.bias": f"{tf}/bias"})
    for index, module in enumerate(_DENSES):
        tf = _indexed("dense", index)
        names.update({f"{module}.weight": f"{tf}/kernel", f"{module}.bias": f"{tf}/bias"})
    return names


def state_dict_from_tf(variables: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """A :class:`MusiCNN` state_dict from a musicnn checkpoint's variables: HWIO kernels (H time, W frequency) to
    OIHW over our frequency x time maps, i.e. ``(O, I, W, H)``; the mid end's ``(7, C, 1, 64)`` to Conv1d's
    ``(64, C, 7)``; dense ``(in, out)`` to Linear's ``(out, in)``."""
    state = {}
    for ours, theirs in tf_variable_names().items():
        value = variables[theirs]
        if ours.startswith("midend.") and ours.endswith("conv.weight"):
            value = value[:, :, 0, :].transpose(2, 1, 0)
        elif ours.endswith("conv.weight"):
            value = value.transpose(3, 2, 1, 0)
        elif ours.startswith(_DENSES) and ours.endswith(".weight"):
            value = value.T
        state[ours] = torch.from_numpy(np.ascontiguousarray(value, dtype=np.float32))
    for module in _BATCH_NORMS:
        state[f"{module}.num_batches_tracked"] = torch.tensor(0)
    return state
