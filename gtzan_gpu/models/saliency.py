"""Grad-CAM (Selvaraju et al., "Grad-CAM: visual explanations from deep networks via gradient-based
localization", ICCV 2017) over the spectrogram image: which time-frequency regions drove a decision.

For a class c and the activations ``A`` ``(B, K, h, w)`` of a late convolutional layer, each channel's weight
is the spatial mean of ``d logit_c / d A_k``; the map is ``ReLU(sum_k weight_k A_k)``, upsampled to the image
and scaled to [0, 1] per example. The layer is the model's ``saliency_layer`` (from the registry). This is an
inspection tool: it runs the model in eval mode with gradients on, and leaves parameters, their ``.grad`` and
BatchNorm statistics untouched.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from gtzan_gpu.errors import GtzanError


@dataclass
class GradCam:
    """Grad-CAM of a batch. ``heatmaps``: ``(B, H, W)`` in [0, 1] over the first view's image; ``images``:
    that view's ``(B, C, H, W)`` output; ``classes``: ``(B,)`` the class explained; ``probabilities``:
    ``(B, num_classes)`` softmax of the logits."""

    heatmaps: torch.Tensor
    images: torch.Tensor
    classes: torch.Tensor
    probabilities: torch.Tensor


def grad_cam(model, waveforms: torch.Tensor, classes: torch.Tensor | None = None) -> GradCam:
    """``(B, T)`` waveforms -> Grad-CAM of ``model`` (a GenreClassifier) for ``classes`` ``(B,)`` (default:
    each example's predicted class), at the layer its ``saliency_layer`` names inside the backbone."""
    if not getattr(model, "saliency_layer", None):
        raise GtzanError(f"{type(model.backbone).__name__} names no layer for Grad-CAM (saliency_layer)")
    layer = model.backbone.get_submodule(model.saliency_layer)
    captured: list[torch.Tensor] = []
    handle = layer.register_forward_hook(lambda module, inputs, output: captured.append(output))
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            with torch.no_grad():
                images = model.images(waveforms)
            # the images take a gradient, so the layer's activations do even in a frozen (probed) encoder
            images = [image.detach().requires_grad_(True) for image in images]
            logits = model.backbone(*images)
            if classes is None:
                classes = logits.argmax(dim=1)
            chosen = logits.gather(1, classes.view(-1, 1)).sum()
            (gradient,) = torch.autograd.grad(chosen, captured[-1])
    finally:
        handle.remove()
        model.train(was_training)
    activation = captured[-1].detach().float()
    weights = gradient.float().mean(dim=(2, 3), keepdim=True)                     # (B, K, 1, 1)
    cam = F.relu((weights * activation).sum(dim=1, keepdim=True))                 # (B, 1, h, w)
    cam = F.interpolate(cam, size=images[0].shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    peak = cam.amax(dim=(1, 2), keepdim=True)
    heatmaps = torch.where(peak > 0, cam / peak.clamp_min(1e-12), torch.zeros_like(cam))
    return GradCam(heatmaps.clamp(0.0, 1.0), images[0].detach(), classes.detach(),
                   logits.detach().float().softmax(dim=1))
