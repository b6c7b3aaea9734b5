from pathlib import Path

import pytest

from gtzan_gpu.data.segments import SegmentIndex, SegmentSpec, TrackSource
from gtzan_gpu.errors import GtzanError


@pytest.mark.parametrize("seconds, count", [(3, 10), (5, 6), (10, 3)])
def test_a_30_s_track_gives_the_seeds_segment_counts(seconds, count):
    spec = SegmentSpec(seconds)
    starts = spec.starts(30 * 22050)
    assert len(starts) == count
    assert starts == [i * seconds * 22050 for i in range(count)]


def test_a_trailing_partial_window_is_dropped():
    assert SegmentSpec(5).starts(5 * 22050 * 2 + 22049) == [0, 5 * 22050]


def test_an_overlapping_hop_gives_more_windows():
    spec = SegmentSpec(5, hop_seconds=2.5)
    assert spec.hop == 55125 and len(spec.starts(30 * 22050)) == 11


def test_any_length_in_seconds():
    assert SegmentSpec(0.5, sample_rate=16000).length == 8000


def test_short_tracks_are_skipped_and_counted(caplog):
    tracks = [TrackSource("long", 0, Path("x"), 22050, 22050 * 12), TrackSource("short", 1, Path("y"), 22050, 22050 * 4)]
    with caplog.at_level("INFO"):
        index = SegmentIndex.build(tracks, SegmentSpec(5))
    assert index.skipped == ["short"] and len(index) == 2
    assert index.labels.tolist() == [0, 0]
    assert "skipped 1 track(s) shorter than one 5-s segment" in caplog.text


@pytest.mark.parametrize("kwargs", [{"seconds": 0}, {"seconds": 3, "hop_seconds": -1}])
def test_nonpositive_lengths_are_errors(kwargs):
    with pytest.raises(GtzanError):
        SegmentSpec(**kwargs)


def test_a_new_kind_of_track_source_is_one_class_every_loader_reads():
    """A source kind is a TrackSource subclass with its own read methods: the device loader and the streaming
    dataset read it with no branch on its kind (here: a sine generated on the fly)."""
    from dataclasses import dataclass

    import torch

    from gtzan_gpu.data.dataset import SegmentDataset
    from gtzan_gpu.data.loaders.device import DeviceLoader

    @dataclass(frozen=True)
    class ToneTrack(TrackSource):
        kind = "tone"

        def wave(self) -> torch.Tensor:
            return 0.5 * torch.sin(torch.arange(self.samples) * 2 * torch.pi * 440 / self.source_rate)

        def read_int16(self, sample_rate):
            return (self.wave() * 32767).round().to(torch.int16)

        def read_float(self, start, length, sample_rate, cache=None):
            out = torch.zeros(length)
            piece = self.read_int16(sample_rate)[start:start + length].float() / 32768
            out[: piece.numel()] = piece
            return out

    tracks = [ToneTrack(f"tone{i}", i, Path("nowhere"), 22050, 22050 * 3) for i in range(2)]
    spec = SegmentSpec(1.0)
    device = DeviceLoader(tracks, spec)
    stream = SegmentDataset(tracks, spec)
    assert len(device) == len(stream) == 6 and not tracks[0].stored
    waveforms, labels, _ = device.gather(torch.arange(6))
    assert torch.equal(labels, torch.tensor([0, 0, 0, 1, 1, 1]))
    for i in range(6):
        assert torch.allclose(waveforms[i], stream[i][0], atol=1e-7)
