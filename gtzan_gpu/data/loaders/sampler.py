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


def shard_tracks(track_ids: list[str], genre_of: dict[str, str], rank: int, world_size: int) -> list[str]:
    """This rank's share of ``track_ids``, balanced per genre: the ids sorted by (genre, id) and dealt
    round-robin, so every rank's count of each genre, and in all, is within one of the others'. The shards of
    all ranks are disjoint and together hold every id."""
    ordered = sorted(track_ids, key=lambda track_id: (genre_of[track_id], track_id))
    return sorted(ordered[rank::world_size])


@dataclass
class EpochSampler:
    """What one rank visits in an epoch, in which order: its shard of the tracks (:meth:`shard`, chosen before
    the loader is built, so a rank holds only its own tracks' samples) and its segments shuffled from
    (seed, epoch, rank), or in index order (evaluation)."""

    num_segments: int
    shuffle: bool = False
    seed: int = 0
    rank: int = 0
    epoch: int = 0
    world_size: int = 1

    def shard(self, track_ids: list[str], genre_of: dict[str, str]) -> list[str]:
        """This rank's tracks of a subset (all of them in one process): :func:`shard_tracks`."""
        return track_ids if self.world_size == 1 else shard_tracks(track_ids, genre_of, self.rank, self.world_size)

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
