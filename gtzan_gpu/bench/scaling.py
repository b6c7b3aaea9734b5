"""Scale-out measurements: pack throughput per worker count, start-up from a store vs from audio, and DDP
training throughput with 1 and 2 ranks (torchrun, the same code users run)."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from gtzan_gpu.data.sources import scan_corpus
from gtzan_gpu.data.loaders.device import DeviceLoader
from gtzan_gpu.data.segments import SegmentSpec, track_sources
from gtzan_gpu.data.store_pack import pack_corpus
from gtzan_gpu.data.synth import write_synthetic_corpus


def bench_pack(folder: Path, worker_counts: tuple[int, ...], sample_rate: int = 22050) -> list[dict]:
    """Tracks/s and audio seconds/s of ``pack`` from scratch, per number of decoding processes."""
    rows = []
    for workers in worker_counts:
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            done = pack_corpus(folder, Path(out) / "store", workers=workers, shard_gb=0.25, sample_rate=sample_rate)
            elapsed = time.perf_counter() - start
            audio_seconds = sum(t.frames / t.sample_rate for t in scan_corpus(Path(out) / "store").tracks)
        rows.append({"workers": workers, "tracks": done["tracks"], "seconds": elapsed,
                     "tracks_per_s": done["tracks"] / elapsed, "audio_seconds_per_s": audio_seconds / elapsed})
    return rows


def bench_startup(folder: Path, store: Path, device: torch.device, seconds: float = 5.0) -> list[dict]:
    """Seconds from nothing to a DeviceLoader of every track: scan + decode from audio, or open a store."""
    rows = []
    for name, data in (("audio folder (scan decodes every file, then decode again)", folder),
                       ("store (read the index, memory-mapped reads)", store)):
        start = time.perf_counter()
        corpus = scan_corpus(data)
        tracks = track_sources(corpus, [t.track_id for t in corpus.tracks], 22050)
        built = DeviceLoader(tracks, SegmentSpec(seconds), device)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        rows.append({"source": name, "tracks": len(tracks), "segments": len(built),
                     "seconds": time.perf_counter() - start})
    rows.append({"source": "speed-up", "ratio": rows[0]["seconds"] / rows[1]["seconds"]})
    return rows


def bench_ddp(device: torch.device, ranks: tuple[int, ...] = (1, 2), epochs: int = 2, tracks_per_genre: int = 10,
              track_seconds: float = 15.0, segment_seconds: float = 3.0, batch_size: int = 16,
              image_size: int = 64) -> list[dict]:
    """Training segments/s (all ranks together, the last epoch) of a small cnn run under torchrun on a synthetic
    corpus, per rank count; every rank gets one CPU thread on a CPU, so 2 ranks use 2 cores.
    Efficiency = rate / (ranks x rate of 1 rank)."""
    with tempfile.TemporaryDirectory() as corpus:
        write_synthetic_corpus(corpus, tracks_per_genre, track_seconds, seed=0)
        rows = _ddp_rows(Path(corpus), device, ranks, epochs, segment_seconds, batch_size, image_size)
    base = next((r["segments_per_s"] for r in rows if r["ranks"] == 1 and "segments_per_s" in r), None)
    for row in rows:
        if base and "segments_per_s" in row:
            row["efficiency"] = row["segments_per_s"] / (row["ranks"] * base)
    return rows


def _ddp_rows(folder: Path, device: torch.device, ranks: tuple[int, ...], epochs: int, segment_seconds: float,
              batch_size: int, image_size: int) -> list[dict]:
    rows = []
    for count in ranks:
        if device.type == "cuda" and count > torch.cuda.device_count():
            rows.append({"ranks": count, "skipped": f"only {torch.cuda.device_count()} CUDA device(s)"})
            continue
        with tempfile.TemporaryDirectory() as out:
            run = Path(out) / "run"
            command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(count),
                       "-m", "gtzan_gpu", "-q", "train", "--data", str(folder), "--out", str(run), "--model", "cnn",
                       "--segment-seconds", str(segment_seconds), "--epochs", str(epochs), "--batch-size",
                       str(batch_size), "--image-size", str(image_size), "--stft-backend", "torch", "--device",
                       device.type, "--patience", str(epochs)]
            env = {**os.environ, "OMP_NUM_THREADS": "1"} if device.type == "cpu" else dict(os.environ)
            start = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, env=env)
            wall = time.perf_counter() - start
            if done.returncode != 0:
                rows.append({"ranks": count, "skipped": done.stderr.strip().splitlines()[-1][:200]})
                continue
            history = torch.load(run / "last.pt", weights_only=True)["history"]
        rows.append({"ranks": count, "segments_per_s": history[-1]["segments_per_second"],
                     "epoch_s": history[-1]["seconds"], "wall_s": wall, "threads_per_rank": 1
                     if device.type == "cpu" else None})
    return rows
