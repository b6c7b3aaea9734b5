import numpy as np
import soundfile as sf
import torch
from torch.utils.data import DataLoader

from gtzan_gpu.data.sources import scan_corpus
from gtzan_gpu.data.dataset import SegmentDataset
from gtzan_gpu.data.segments import SegmentSpec, track_sources
from gtzan_gpu.data.splits import make_split
from tests.conftest import write_tone


def subset_dataset(tiny_corpus, subset="train", seconds=2.0):
    corpus = scan_corpus(tiny_corpus)
    manifest = make_split(corpus, "random", 42)
    sources = track_sources(corpus, manifest.subsets[subset], 22050)
    return SegmentDataset(sources, SegmentSpec(seconds)), corpus


def test_items_are_the_exact_segments_of_the_decoded_track(tiny_corpus):
    dataset, corpus = subset_dataset(tiny_corpus)
    assert len(dataset) == len(dataset.index.tracks) * 3  # 6-s tracks, 2-s segments
    waveform, label, track_id = dataset[4]
    track = corpus.tracks_by_id()[track_id]
    full, _ = sf.read(str(corpus.absolute_path(track)), dtype="float32")
    assert waveform.shape == (44100,) and label == corpus.genres.index(track.genre)
    np.testing.assert_array_equal(waveform.numpy(), full[44100:88200])  # item 4 = 2nd segment of 2nd track


def test_works_with_worker_processes(tiny_corpus):
    dataset, _ = subset_dataset(tiny_corpus)
    loader = DataLoader(dataset, batch_size=8, num_workers=2, shuffle=False)
    waveforms, labels, track_ids = next(iter(loader))
    assert waveforms.shape == (8, 44100) and labels.dtype == torch.long and len(track_ids) == 8
    assert torch.equal(waveforms[5], dataset[5][0])
    assert sum(len(batch[1]) for batch in loader) == len(dataset)


def test_a_stereo_file_at_another_rate_is_downmixed_and_resampled(tmp_path):
    write_tone(tmp_path / "x" / "song.wav", 3.0, 44100, channels=2)
    write_tone(tmp_path / "y" / "other.wav", 3.0, 22050)
    corpus = scan_corpus(tmp_path)
    dataset = SegmentDataset(track_sources(corpus, ["song"], 22050), SegmentSpec(1.0))
    assert len(dataset) == 3
    waveform, _, _ = dataset[1]
    assert waveform.shape == (22050,)
    spectrum = torch.fft.rfft(waveform).abs()
    peaks = sorted(spectrum.topk(2).indices.tolist())  # 1-s segment: bin k = k Hz
    assert peaks == [440, 550]
