"""PANNs' CNN10 and CNN14 (Kong et al. 2020, "PANNs: large-scale pretrained audio neural networks for audio pattern
recognition") as encoders, with PANNs' exact parameter names, so a checkpoint the user brings (``ckpt["model"]`` of
``Cnn14_mAP=0.431.pth`` / ``Cnn10_mAP=0.380.pth``) loads as it is, its feature-extractor and AudioSet-head keys
dropped. No PANNs weights can be downloaded here, so no accuracy is claimed for them.

Input ``(B, 1, 64, N)`` dB log-mel (:class:`gtzan_gpu.features.panns_logmel.PannsLogMel`). Inside, PANNs' own time x
mel layout: ``bn0`` normalises each mel bin; blocks of two 3x3 convolutions (BatchNorm, ReLU) and 2x2 average pooling
(CNN14's last block: none), dropout 0.2 after each; the map is averaged over frequency, max + mean pooled over time
(``pooled``), then dropout 0.5 and ``fc1`` + ReLU (``embedding``, PANNs' own).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gtzan_gpu.errors import GtzanError

CNN10_WIDTHS = (64, 128, 256, 512)
CNN14_WIDTHS = (64, 128, 256, 512, 1024, 2048)
DROPPED_PREFIXES = ("spectrogram_extractor.", "logmel_extractor.", "fc_audioset.")


class ConvBlock(nn.Module):
    """PANNs' ConvBlock: ``(B, C, T, F) -> (B, C', T / p, F / p)``."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.bn2 = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor, pool: int) -> torch.Tensor:
        x = F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))))
        return F.avg_pool2d(x, pool) if pool > 1 else x


class PannsCNN(nn.Module):
    """``(B, 1, 64, N)`` -> embeddings (:meth:`embed`); ``widths`` CNN10's or CNN14's."""

    def __init__(self, widths: tuple[int, ...] = CNN14_WIDTHS, mel_bins: int = 64):
        super().__init__()
        self.widths = widths
        self.bn0 = nn.BatchNorm2d(mel_bins)
        channels = (1, *widths)
        for index, (a, b) in enumerate(zip(channels, channels[1:]), start=1):
            self.add_module(f"conv_block{index}", ConvBlock(a, b))
        self.fc1 = nn.Linear(widths[-1], widths[-1])
        self.feature_map = nn.Identity()  # the last block's map as mel x time (where Grad-CAM looks)

    def pooled(self, mel: torch.Tensor) -> torch.Tensor:
        """``(B, 1, 64, N) -> (B, C)``: max + mean over time of the frequency-averaged last map."""
        x = mel.transpose(2, 3)  # (B, 1, N, 64): PANNs' layout
        x = self.bn0(x.transpose(1, 3)).transpose(1, 3)
        last = len(self.widths)
        for index in range(1, last + 1):
            pool = 1 if index == last and last == 6 else 2  # CNN14's sixth block does not pool
            x = F.dropout(getattr(self, f"conv_block{index}")(x, pool), 0.2, self.training)
        x = self.feature_map(x.transpose(2, 3)).mean(dim=2)  # (B, C, N')
        return x.amax(dim=2) + x.mean(dim=2)

    def embed(self, mel: torch.Tensor, layer: str = "embedding") -> torch.Tensor:
        """``layer`` ``embedding`` (PANNs' fc1 output) or ``pooled``."""
        pooled = self.pooled(mel)
        return pooled if layer == "pooled" else F.relu(self.fc1(F.dropout(pooled, 0.5, self.training)))


def panns_state_dict(checkpoint: object, source: str) -> dict[str, torch.Tensor]:
    """PANNs' checkpoint (``{"model": state_dict, ...}`` or a plain state_dict) without the feature-extractor and
    AudioSet-head keys."""
    state = checkpoint.get("model", checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise GtzanError(f"{source} holds no PANNs state_dict (expected ckpt['model'] of tensors)")
    return {key: value for key, value in state.items() if not key.startswith(DROPPED_PREFIXES)}


def panns_architecture(state: dict[str, torch.Tensor]) -> str:
    """``panns-cnn14`` or ``panns-cnn10``, from the blocks a state_dict holds."""
    return "panns-cnn14" if "conv_block6.conv1.weight" in state else "panns-cnn10"
