"""The epoch sampler: an order that is a function of (seed, epoch, rank), saved and restored as plain state."""
import torch

from gtzan_gpu.data.loaders import LOADERS
from gtzan_gpu.data.loaders.sampler import EpochSampler


def test_the_order_depends_on_seed_epoch_and_rank_only_and_survives_a_state_round_trip():
    sampler = EpochSampler(50, shuffle=True, seed=3, rank=1)
    sampler.set_epoch(4)
    order = sampler.order()
    assert sorted(order.tolist()) == list(range(50))
    again = EpochSampler(50, shuffle=True)
    again.load_state_dict(sampler.state_dict())  # what a checkpoint would carry
    assert torch.equal(again.order(), order)
    sampler.set_epoch(5)
    assert not torch.equal(sampler.order(), order)
    assert not torch.equal(EpochSampler(50, True, seed=3, rank=0, epoch=4).order(), order)
    assert torch.equal(EpochSampler(7).order(), torch.arange(7))  # evaluation: index order


def test_every_loader_name_builds_a_loader_with_the_protocol(tiny_corpus):
    from gtzan_gpu.data.sources import scan_corpus
    from gtzan_gpu.data.segments import SegmentSpec, track_sources

    corpus = scan_corpus(tiny_corpus)
    tracks = track_sources(corpus, [t.track_id for t in corpus.tracks][:4], 22050)
    sampler = EpochSampler(0, shuffle=True, seed=1)
    batches = {}
    for name, spec in LOADERS.items():
        if name in ("store", "webdataset"):
            continue  # they need a packed store or shards: tests/data/test_store.py and loaders/test_webdataset.py
        loader = spec.build(tracks, SegmentSpec(2.0), torch.device("cpu"), 0, 0, 1)
        sampler.num_segments = len(loader)
        batches[name] = list(loader.batches(4, sampler.shuffle, sampler.generator()))
        assert len(loader) == len(loader.index) and loader.track_ids == [t.track_id for t in tracks]
        assert torch.equal(loader.gather(torch.tensor([0, 1]))[1], loader.index.labels[:2])
    for a, b in zip(batches["device"], batches["stream"], strict=True):
        assert all(torch.allclose(x.float(), y.float()) for x, y in zip(a, b))
