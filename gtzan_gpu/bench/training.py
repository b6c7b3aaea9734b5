"""End-to-end training steps with the on-the-fly front end, and the front end's measured share of a step."""
from __future__ import annotations

import time

import torch

from gtzan_gpu.bench.timing import PeakMemory, synchronize
from gtzan_gpu.data.loaders.device import DeviceLoader
from gtzan_gpu.data.segments import SegmentSpec, TrackSource
from gtzan_gpu.features.config import FeatureConfig
from gtzan_gpu.models import build_classifier
from gtzan_gpu.models.registry import MODELS, ModelConfig
from gtzan_gpu.training.step import cross_entropy_of, training_step

SEED_TRAIN_SEGMENTS_5S = 3829  # the seed's 5-s training segments (NOTES.md), for an epoch-time estimate


def bench_training(tracks: list[TrackSource], device: torch.device, lengths: tuple[float, ...],
                   batch_sizes: dict[str, int], steps: int, amp: bool, channels_last: bool) -> list[dict]:
    """Per model and segment length: steps/s, segments/s and the share of step time in the front end.

    Each step gathers a batch from DeviceLoader, runs the front end (the feature layers) and then the
    backbone forward, backward and Adam step; the device is synchronised at the batch, after the front end
    and after the step, so the two parts are timed exactly (the syncs cost a little overlap; stated).
    """
    rows = []
    for seconds in lengths:
        corpus = DeviceLoader(tracks, SegmentSpec(seconds), device)
        generator = torch.Generator().manual_seed(0)
        for name, batch in batch_sizes.items():
            torch.manual_seed(0)
            features = FeatureConfig(frontend=MODELS[name].front_ends()[0])
            model = build_classifier(ModelConfig(name, "none"), features, 10, channels_last=channels_last).to(device)
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
            use_amp = amp and device.type == "cuda"
            frontend, total = [], []
            with PeakMemory(device) as memory:
                for step in range(steps + 1):  # step 0 is the warm-up
                    indices = torch.randint(len(corpus), (batch,), generator=generator).to(device)
                    waveforms, labels, _ = corpus.gather(indices)
                    synchronize(device)
                    start = time.perf_counter()
                    marks = []

                    def forward(model=model, waveforms=waveforms):  # the front end timed apart from the
                        images = model.images(waveforms)                # backbone, inside training's own step
                        synchronize(device)
                        marks.append(time.perf_counter())
                        return model.backbone(*images)

                    training_step(forward, cross_entropy_of(labels), optimizer, device, use_amp)
                    synchronize(device)
                    end = time.perf_counter()
                    middle = marks[0]
                    if step:
                        frontend.append(middle - start)
                        total.append(end - start)
            step_s = sorted(total)[len(total) // 2]
            frontend_s = sorted(frontend)[len(frontend) // 2]
            row = {"model": name, "seconds": seconds, "batch": batch, "steps": steps, "amp": use_amp,
                   "channels_last": channels_last, "step_s": step_s, "steps_per_s": 1 / step_s,
                   "segments_per_s": batch / step_s, "frontend_s": frontend_s, "frontend_share": frontend_s / step_s,
                   **memory.as_dict()}
            if seconds == 5.0:
                row["seed_5s_train_epoch_s_estimate"] = SEED_TRAIN_SEGMENTS_5S / row["segments_per_s"]
            rows.append(row)
            del model, optimizer
        del corpus
    return rows
