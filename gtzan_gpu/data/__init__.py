"""Corpora (folder-per-genre layouts and packed stores, as registered corpus sources), track sources that read
themselves, track-level splits, the segment loaders behind one protocol (DeviceCorpus, StoreLoader, StreamLoader:
``data/loader.py``) and the epoch sampler that orders them (``data/sampler.py``)."""
from gtzan_gpu.data import store as _store  # noqa: F401  registers the store as a corpus source
from gtzan_gpu.data.corpus import Corpus, ExcludedFile, Track, scan_corpus
from gtzan_gpu.data.dataset import SegmentDataset
from gtzan_gpu.data.device_corpus import DeviceCorpus
from gtzan_gpu.data.segments import SegmentIndex, SegmentSpec, TrackSource, track_sources
from gtzan_gpu.data.splits import SplitManifest, make_split

__all__ = ["Corpus", "ExcludedFile", "Track", "scan_corpus", "SegmentDataset", "DeviceCorpus", "SegmentIndex",
           "SegmentSpec", "TrackSource", "track_sources", "SplitManifest", "make_split"]
