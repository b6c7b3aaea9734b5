import torch

from gtzan_gpu.data.sources import scan_corpus
from gtzan_gpu.data.dataset import SegmentDataset
from gtzan_gpu.data.loaders.device import DeviceLoader
from gtzan_gpu.data.segments import SegmentSpec, track_sources
from gtzan_gpu.data.splits import make_split


def both_loaders(tiny_corpus, spec):
    corpus = scan_corpus(tiny_corpus)
    sources = track_sources(corpus, make_split(corpus, "random", 42).subsets["train"], 22050)
    return DeviceLoader(sources, spec, "cpu"), SegmentDataset(sources, spec)


def test_device_batches_equal_the_streamed_segments(tiny_corpus):
    device_corpus, dataset = both_loaders(tiny_corpus, SegmentSpec(2.0))
    assert len(device_corpus) == len(dataset)
    segments = torch.tensor([0, 7, len(dataset) - 1])
    waveforms, labels, tracks = device_corpus.gather(segments)
    for row, i in enumerate(segments.tolist()):
        waveform, label, track_id = dataset[i]
        assert torch.equal(waveforms[row], waveform)  # 16-bit PCM: int16 storage is lossless
        assert labels[row] == label and device_corpus.track_ids[tracks[row]] == track_id


def test_a_shuffled_epoch_yields_every_segment_once(tiny_corpus):
    device_corpus, dataset = both_loaders(tiny_corpus, SegmentSpec(1.5, hop_seconds=1.0))
    generator = torch.Generator().manual_seed(0)
    batches = list(device_corpus.batches(16, shuffle=True, generator=generator))
    assert all(w.shape[1] == 33075 and w.dtype == torch.float32 for w, _, _ in batches)
    seen = torch.cat([w[:, :64] for w, _, _ in batches])
    assert seen.shape[0] == len(dataset)
    expected = torch.stack([dataset[i][0][:64] for i in range(len(dataset))])
    assert torch.equal(seen.sort(dim=0).values, expected.sort(dim=0).values)
    again = list(device_corpus.batches(16, shuffle=True, generator=torch.Generator().manual_seed(0)))
    assert all(torch.equal(a[1], b[1]) for a, b in zip(batches, again))


def test_memory_is_two_bytes_per_sample_plus_the_index(tiny_corpus):
    device_corpus, _ = both_loaders(tiny_corpus, SegmentSpec(2.0))
    samples = device_corpus.samples.numel()
    assert device_corpus.samples.dtype == torch.int16
    assert device_corpus.nbytes == 2 * samples + 3 * 8 * len(device_corpus)
