"""gtzan-gpu: music-genre classification with spectrogram and waveform images computed on the GPU."""

__version__ = "0.1.0"
