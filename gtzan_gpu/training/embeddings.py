"""Embeddings of a corpus from a pretrained encoder (``gtzan-gpu embed``), for scikit-learn or any other tool.

One ``.npz`` file holds, for every usable track (the scan's exclusions apply), its id, label, split (from a manifest
or the label table, else empty) and the mean of its segments' embeddings, and for every segment its track, start
time and embedding. Segments are the corpus's windows (``--segment-seconds``, ``--hop-seconds``); a track shorter
than one segment is embedded whole (the encoders pool over time, so any length works).
"""
from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np
import torch

from gtzan_gpu.atomic import atomic_write_bytes
from gtzan_gpu.data.corpus import CorpusSpec
from gtzan_gpu.data.sources import scan_corpus
from gtzan_gpu.data.segments import DEFAULT_SAMPLE_RATE, SegmentSpec, track_sources
from gtzan_gpu.data.splits import SplitManifest
from gtzan_gpu.errors import GtzanError
from gtzan_gpu.models.registry import get_model_spec
from gtzan_gpu.progress import progress
from gtzan_gpu.training.device import resolve_device
from gtzan_gpu.training.tagging import load_pretrained_encoder

log = logging.getLogger(__name__)


class EmbeddingExtractor(torch.nn.Module):
    """``(B, T)`` waveform at ``sample_rate`` -> ``(B, D)`` embedding of a pretrained encoder's ``layer``."""

    def __init__(self, weights_name: str, layer: str | None = None, sample_rate: int = DEFAULT_SAMPLE_RATE,
                 stft_backend: str = "torch"):
        super().__init__()
        from gtzan_gpu.features.config import FeatureConfig
        from gtzan_gpu.features.registry import get_frontend

        self.weights, self.encoder, architecture = load_pretrained_encoder(weights_name)
        layers = dict(get_model_spec(architecture).embeddings)
        self.layer = layer or next(iter(layers))
        if self.layer not in layers:
            raise GtzanError(f"unknown --embedding {self.layer!r} for {architecture} (choose from "
                             f"{', '.join(layers)})")
        self.width = layers[self.layer]
        features = FeatureConfig(frontend=self.weights.frontend, stft_backend=stft_backend)
        self.frontend = get_frontend(self.weights.frontend).build(features, sample_rate, None)
        self.sample_rate = sample_rate
        self.eval()

    @torch.no_grad()
    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        return self.encoder.embed(self.frontend(waveform), self.layer)


def _splits(manifest: str | None, tracks) -> dict[str, str]:
    if manifest:
        loaded = SplitManifest.load(manifest)
        return {track_id: subset for subset, ids in loaded.subsets.items() for track_id in ids}
    return {track.track_id: track.split or "" for track in tracks}


def embed_corpus(spec: CorpusSpec, weights_name: str, out: str | Path, layer: str | None = None,
                 segment_seconds: float = 3.0, hop_seconds: float | None = None, manifest: str | None = None,
                 device: str = "auto", batch_size: int = 32, stft_backend: str = "torch") -> dict:
    """Write ``out`` (an ``.npz``) and return a summary (tracks, segments, width). Everything the user can get
    wrong is checked before the corpus is decoded."""
    out = Path(out)
    if out.suffix != ".npz":
        raise GtzanError(f"--out {out}: name a .npz file")
    if out.exists():  # stricter than gtzan_gpu.outputs' rule: no existing file at all, input or not
        raise GtzanError(f"--out {out} exists; embeddings never overwrite a file (remove it or choose another)")
    if manifest and not Path(manifest).is_file():
        raise GtzanError(f"--manifest not found: {manifest}")
    segments = SegmentSpec(segment_seconds, DEFAULT_SAMPLE_RATE, hop_seconds)
    target = resolve_device(device)
    extractor = EmbeddingExtractor(weights_name, layer, DEFAULT_SAMPLE_RATE, stft_backend).to(target)
    corpus = scan_corpus(spec)
    tracks = corpus.tracks
    if not tracks:
        raise GtzanError(f"{corpus.root} has no usable tracks to embed")
    split_of = _splits(manifest, tracks)
    sources = track_sources(corpus, [t.track_id for t in tracks], DEFAULT_SAMPLE_RATE)
    track_rows, segment_rows, segment_track, segment_start = [], [], [], []
    for index, source in enumerate(progress(sources, len(sources), "embed", "track")):
        waveform = source.read_float(0, source.samples, DEFAULT_SAMPLE_RATE)
        starts = segments.starts(waveform.numel()) or [0]
        length = min(segments.length, waveform.numel())
        windows = torch.stack([waveform[s:s + length] for s in starts])
        embedded = torch.cat([extractor(windows[i:i + batch_size].to(target)).float().cpu()
                              for i in range(0, len(starts), batch_size)])
        track_rows.append(embedded.mean(dim=0))
        segment_rows.append(embedded)
        segment_track += [index] * len(starts)
        segment_start += [s / DEFAULT_SAMPLE_RATE for s in starts]
    arrays = {
        "track_ids": np.array([t.track_id for t in tracks]),
        "labels": np.array([t.genre for t in tracks]),
        "label_index": np.array([corpus.genres.index(t.genre) for t in tracks], dtype=np.int64),
        "label_names": np.array(corpus.genres),
        "split": np.array([split_of.get(t.track_id, "") for t in tracks]),
        "track_embeddings": torch.stack(track_rows).numpy().astype(np.float32),
        "segment_embeddings": torch.cat(segment_rows).numpy().astype(np.float32),
        "segment_track": np.array(segment_track, dtype=np.int64),
        "segment_start_seconds": np.array(segment_start, dtype=np.float64),
        "segment_seconds": np.float64(segment_seconds),
        "weights": np.array(extractor.weights.name),
        "layer": np.array(extractor.layer),
    }
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    atomic_write_bytes(out, buffer.getvalue())
    return {"out": str(out), "tracks": len(tracks), "segments": len(segment_track), "width": extractor.width,
            "weights": extractor.weights.name, "layer": extractor.layer, "excluded": len(corpus.excluded)}
