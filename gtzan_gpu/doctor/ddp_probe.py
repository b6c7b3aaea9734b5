"""Run by ``doctor`` under torchrun (2 ranks): one DDP training step of the cnn; every rank must end with the
same weights. Exit 0 and print ``ddp-ok <backend> <max difference>`` on rank 0, else a one-line error."""
from __future__ import annotations

import os
import sys

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from gtzan_gpu.config import FeatureConfig, ModelConfig
from gtzan_gpu.models import build_classifier
from gtzan_gpu.training.step import cross_entropy_of, training_step


def main() -> int:
    use_cuda = os.environ.get("GTZAN_DOCTOR_DEVICE", "cpu") == "cuda"
    rank, local_rank = int(os.environ["RANK"]), int(os.environ["LOCAL_RANK"])
    device = torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if use_cuda else "gloo")
    try:
        torch.manual_seed(0)
        model = build_classifier(ModelConfig("cnn"), FeatureConfig(image_size=32, stft_backend="torch"), 10).to(device)
        ddp = DistributedDataParallel(model, device_ids=[local_rank] if use_cuda else None)
        optimizer = torch.optim.Adam(ddp.parameters(), lr=1e-3)
        generator = torch.Generator().manual_seed(rank)  # different data on each rank
        waveforms = (0.3 * torch.randn(4, 22050, generator=generator)).to(device)
        labels = torch.randint(10, (4,), generator=generator).to(device)
        training_step(lambda: ddp(waveforms), cross_entropy_of(labels), optimizer, device, amp=False)
        flat = torch.cat([p.detach().flatten() for p in model.parameters()])
        gathered = [torch.empty_like(flat) for _ in range(dist.get_world_size())]
        dist.all_gather(gathered, flat)
        difference = max(float((g - gathered[0]).abs().max()) for g in gathered)
        if rank == 0:
            print(f"ddp-ok {dist.get_backend()} {difference:.3g}", flush=True)
        return 0 if difference == 0 else 1
    finally:
        dist.barrier()  # both ranks done with every collective before the group goes away
        dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
