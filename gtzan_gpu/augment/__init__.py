"""Training-only augmentations as batched GPU modules: waveform gain and noise, SpecAugment masks on the
time-frequency values (before the colormap), plus the engine's mixup and the loaders' random crops.

Every module is a no-op in ``eval()``; each draws from its own generator on the batch's device, reseeded from
(seed, epoch, rank) at every epoch start, so a resumed run (which restarts at an epoch boundary) draws exactly
what an uninterrupted one draws, with nothing more to checkpoint.
"""
from gtzan_gpu.augment.modules import (AUGMENTATIONS, Gain, Noise, SeededAugment, SpecAugment, augment_seed,
                                       reseed_augmentations)

__all__ = ["AUGMENTATIONS", "Gain", "Noise", "SeededAugment", "SpecAugment", "augment_seed", "reseed_augmentations"]
