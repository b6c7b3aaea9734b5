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
