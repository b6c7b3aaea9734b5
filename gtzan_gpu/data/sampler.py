"""The visiting order of a loader's segments: one sampler object, as lhotse's samplers (``set_epoch``,
``state_dict``), used by every loader.

The order of an epoch is a function of (seed, epoch, rank) alone, so a resumed run (which restarts at an epoch
boundary) draws exactly what an uninterrupted one draws, and the state to save is three integers.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from gtzan_gpu.data.segments import epoch_order


def epoch_generator(seed: int, epoch: int, rank: int = 0) -> torch.Generator:
    """The shuffling generator of one epoch (of one rank's shard)."""
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch + rank * 7_919)


@dataclass
class EpochSampler:
    """Which order an epoch visits ``num_segments`` segments in: shuffled from (seed, epoch, rank), or in index
    order (evaluation). The rank's shard of the tracks is chosen before the loader is built
    (:func:`gtzan_gpu.training.distributed.shard_tracks`); the sampler orders that shard's segments."""

    num_segments: int
    shuffle: bool = False
    seed: int = 0
    rank: int = 0
    epoch: int = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def generator(self) -> torch.Generator | None:
        """The epoch's CPU generator (None when not shuffling)."""
        return epoch_generator(self.seed, self.epoch, self.rank) if self.shuffle else None

    def order(self) -> torch.Tensor:
        """``(num_segments,)`` int64 on the CPU: the epoch's visiting order."""
        return epoch_order(self.num_segments, self.shuffle, self.generator())

    def state_dict(self) -> dict:
        return asdict(self)

    def load_state_dict(self, state: dict) -> None:
        for key, value in state.items():
            setattr(self, key, value)
