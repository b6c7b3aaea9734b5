"""AugmentSettings: which augmentations a run uses and their parameters (the config's ``augment_*`` options)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AugmentSettings:
    names: tuple[str, ...] = ()
    gain_db: float = 6.0
    min_snr_db: float = 10.0
    max_snr_db: float = 40.0
    mixup_alpha: float = 0.4
    spec_masks: int = 2
    spec_mask_width: float = 0.15
