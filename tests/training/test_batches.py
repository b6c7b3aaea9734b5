from pathlib import Path

import torch

from gtzan_gpu.data.segments import SegmentSpec, TrackSource
from gtzan_gpu.training.batches import SegmentBatches


def test_the_showcase_batch_takes_one_track_per_genre_round_robin():
    """TensorBoard's fixed batch: each track's first segment, genres interleaved (not eight cuts of one track)."""
    labels = [0, 0, 1, 2, 2]  # three 1-s segments per 3-s track: tracks start at segments 0, 3, 6, 9, 12
    tracks = [TrackSource(f"t{i}", label, Path(f"t{i}.wav"), 22050, 3 * 22050) for i, label in enumerate(labels)]
    batches = SegmentBatches(tracks, SegmentSpec(1.0), torch.device("cpu"), "stream", 4)
    assert batches.showcase(4) == [0, 6, 9, 3]
    assert batches.showcase(10) == [0, 6, 9, 3, 12]
    assert batches.labels_of([0, 6, 9, 3]) == [0, 1, 2, 0]
    assert batches.captions([6], ["blues", "jazz", "rock"]) == ["jazz\nt2"]
