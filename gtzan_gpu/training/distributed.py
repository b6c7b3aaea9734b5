"""Data parallelism through torchrun: the process group, each rank's shard of tracks, and the few collectives
the engine needs.

torchrun sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; a plain process is world size 1 and every
collective here is then the identity, so there is one code path. nccl on CUDA, gloo on CPU.
"""
from __future__ import annotations

import datetime
import logging
import os
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

import torch
import torch.distributed as dist

from gtzan_gpu.errors import GtzanError
from gtzan_gpu.training.device import resolve_device

log = logging.getLogger(__name__)
Result = TypeVar("Result")
TIMEOUT_SECONDS = 300  # a collective waiting longer than this on a dead peer fails instead of hanging


@dataclass(frozen=True)
class Distributed:
    """This process's place in the job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @classmethod
    def from_environment(cls, device: str) -> tuple["Distributed", torch.device]:
        """The job torchrun describes in the environment (world size 1 without torchrun) and this rank's device;
        joins the process group when there is more than one rank."""
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        if world_size <= 1:
            return cls(), resolve_device(device)
        rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
        target = resolve_device(device)
        if target.type == "cuda":
            if local_rank >= torch.cuda.device_count():
                raise GtzanError(f"LOCAL_RANK {local_rank} but only {torch.cuda.device_count()} CUDA device(s)")
            target = torch.device("cuda", local_rank)
            torch.cuda.set_device(target)
        if not dist.is_initialized():
            dist.init_process_group("nccl" if target.type == "cuda" else "gloo",
                                    timeout=datetime.timedelta(seconds=TIMEOUT_SECONDS))
        if rank > 0:  # the console log is rank 0's
            logging.getLogger("gtzan_gpu").setLevel(logging.WARNING)
        return cls(rank, world_size, local_rank), target

    def finish(self) -> None:
        """Leave the process group after a successful run: a barrier first (tearing gloo down while a peer is
        still in a collective can hang), then destroy it. After a failure do not call this: the process exits,
        and torchrun stops the other ranks."""
        if self.active and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()

    def on_main(self, work: Callable[[], Result]) -> Result:
        """Run ``work`` on rank 0 only and hand its result (or its GtzanError) to every rank."""
        if not self.active:
            return work()
        outcome: list[Any] = [None]
        if self.is_main:
            try:
                outcome[0] = ("ok", work())
            except GtzanError as error:
                outcome[0] = ("error", str(error))
        dist.broadcast_object_list(outcome, src=0)
        status, value = outcome[0]
        if status == "error":
            raise GtzanError(value)
        return value

    def minimum(self, value: int) -> int:
        """The smallest ``value`` over all ranks."""
        if not self.active:
            return value
        gathered: list[Any] = [None] * self.world_size
        dist.all_gather_object(gathered, value)
        return min(gathered)

    def gather(self, value: Any) -> list[Any]:
        """Every rank's ``value``, in rank order, on every rank (picklable CPU objects)."""
        if not self.active:
            return [value]
        gathered: list[Any] = [None] * self.world_size
        dist.all_gather_object(gathered, value)
        return gathered


def lost_peer(error: RuntimeError) -> bool:
    """Whether ``error`` is a collective that failed because a peer process went away (gloo, nccl, the store)."""
    text = str(error)
    return type(error).__name__ in ("DistBackendError", "DistNetworkError", "DistStoreError") or any(
        sign in text for sign in ("Connection reset by peer", "Connection closed by peer", "Broken pipe",
                                  "NCCL communicator was aborted", "Socket Timeout"))
