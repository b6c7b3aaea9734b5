"""A pretrained tagger's tags of whole audio files (``gtzan-gpu tag``), computed as the musicnn reference does.

The reference (``musicnn.extractor``) takes the log-mel of the whole file at 16 kHz, cuts it into patches of 187
frames (3 s) without overlap (a trailing partial patch is dropped), runs the tagger on each, applies a sigmoid and
averages the patches' probabilities. We do the same on the batch's device (the resampler and the mel are
:class:`MusicnnMel`), without TensorFlow. A file shorter than one patch is tagged from its whole map as one
shorter patch (the reference would fail on it; MusiCNN takes any length).
"""
from __future__ import annotations

from pathlib import Path

import soundfile as sf
import torch
from torch import nn

from gtzan_gpu.data.audio import describe_decode_error, read_track
from gtzan_gpu.errors import GtzanError
from gtzan_gpu.features.musicnn_mel import MusicnnMel, frames_of
from gtzan_gpu.models.pretrained.registry import PretrainedWeights, get_weights, is_pretrained_name
from gtzan_gpu.models.pretrained.transfer import load_encoder_weights
from gtzan_gpu.models.registry import get_model_spec
from gtzan_gpu.training.device import resolve_device
from gtzan_gpu.training.predict import unusable_file

REFERENCE_PATCH_SECONDS = 3.0
MAX_TOP = 1000


def load_pretrained_encoder(name: str) -> tuple[PretrainedWeights, nn.Module, str]:
    """The pretrained entry ``name``, its encoder with those weights (eval mode) and the encoder's model name (a
    family's weights say which member they are: PANNs' blocks); a clear error when the name is unknown or the weights
    are not installed."""
    if not is_pretrained_name(name):
        raise GtzanError(f"--weights {name}: name a pretrained tagger (e.g. musicnn:MTT_musicnn)")
    weights = get_weights(name)
    state = weights.state_dict()
    architecture = weights.architecture
    if architecture == "panns":
        from gtzan_gpu.models.pretrained.panns import panns_architecture

        architecture = panns_architecture(state)
    encoder = get_model_spec(architecture).encoder()
    load_encoder_weights(encoder, state, weights.name, architecture)
    return weights, encoder.eval(), architecture


def patches_of(mel: torch.Tensor, frames: int) -> torch.Tensor:
    """``(1, 1, F, N)`` map -> ``(P, 1, F, frames)`` patches without overlap (a trailing partial patch dropped; a
    map shorter than one patch is one patch of its own length)."""
    if mel.shape[-1] < frames:
        return mel
    return mel.unfold(-1, frames, frames)[0].permute(2, 0, 1, 3).contiguous()


class Tagger:
    """Tags files with a pretrained encoder's own head: ``tag(file) -> (P, tags)`` patch probabilities."""

    def __init__(self, weights_name: str, device: str = "auto", patch_seconds: float = REFERENCE_PATCH_SECONDS,
                 stft_backend: str = "torch"):
        if not 0.1 <= patch_seconds <= 3600:
            raise GtzanError(f"--patch-seconds must be in [0.1, 3600], got {patch_seconds:g}")
        self.weights, self.encoder, _ = load_pretrained_encoder(weights_name)
        if not self.weights.labels or self.weights.frontend != "musicnn":
            raise GtzanError(f"--weights {weights_name}: no tag vocabulary here (PANNs' AudioSet head is dropped); "
                             f"use gtzan-gpu embed")
        self.device = resolve_device(device)
        self.encoder.to(self.device)
        self.frames = frames_of(patch_seconds)
        self.stft_backend = stft_backend
        self._frontends: dict[int, nn.Module] = {}

    def frontend(self, sample_rate: int) -> nn.Module:
        """The front end for audio at ``sample_rate`` (built once per rate: its resampler's kernel is a buffer)."""
        if sample_rate not in self._frontends:
            self._frontends[sample_rate] = MusicnnMel(sample_rate, backend=self.stft_backend).to(self.device)
        return self._frontends[sample_rate]

    @torch.no_grad()
    def probabilities(self, waveform: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """``(T,)`` waveform -> ``(P, tags)`` sigmoid probabilities of its patches."""
        mel = self.frontend(sample_rate)(waveform.to(self.device).unsqueeze(0))
        return torch.sigmoid(self.encoder(patches_of(mel, self.frames))).cpu()

    def tag_file(self, path: str, top: int) -> dict:
        """``{"path", "top": [{"tag", "probability"}, ...]}`` or ``{"path", "error"}``."""
        problem = unusable_file(Path(path))
        if problem:
            return {"path": path, "error": problem}
        try:
            rate = sf.info(path).samplerate
            waveform = read_track(path, rate)
        except Exception as error:
            return {"path": path, "error": f"cannot decode ({describe_decode_error(error)})"}
        if waveform.numel() == 0 or not torch.isfinite(waveform).all():
            return {"path": path, "error": "no usable samples (empty or NaN)"}
        mean = self.probabilities(waveform, rate).mean(dim=0)
        order = mean.argsort(descending=True)[:top].tolist()
        return {"path": path, "top": [{"tag": self.weights.labels[i], "probability": round(float(mean[i]), 6)}
                                      for i in order]}


def tag_files(files: list[str], weights_name: str, top: int = 3, device: str = "auto",
              patch_seconds: float = REFERENCE_PATCH_SECONDS, stft_backend: str = "torch") -> dict:
    """``{"weights": name, "files": [per file: {"path", "top"} or {"path", "error"}]}``."""
    if not 1 <= top <= MAX_TOP:
        raise GtzanError(f"--top must be in [1, {MAX_TOP}], got {top}")
    tagger = Tagger(weights_name, device, patch_seconds, stft_backend)
    return {"weights": tagger.weights.name, "files": [tagger.tag_file(file, top) for file in files]}


def format_tags(result: dict) -> str:
    if "error" in result:
        return f"{result['path']}: error: {result['error']}"
    return f"{result['path']}: " + ", ".join(f"{t['tag']} {t['probability']:.3f}" for t in result["top"])
