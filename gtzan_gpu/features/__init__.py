"""GPU feature layers: raw audio ``(B, T)`` -> images ``(B, 3, H, W)``; ``nn.Module``s only."""
from gtzan_gpu.features.display import ImageNetNormalize, to_displayable
from gtzan_gpu.features.spectrogram import SpectrogramImage
from gtzan_gpu.features.stft import MagnitudeSTFT
from gtzan_gpu.features.waveform import WaveformImage

__all__ = ["ImageNetNormalize", "MagnitudeSTFT", "SpectrogramImage", "WaveformImage", "to_displayable"]
