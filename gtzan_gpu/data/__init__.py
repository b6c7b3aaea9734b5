"""Corpora (catalogues: folder-per-genre layouts and label tables; packed stores and other corpus sources),
track sources that read themselves, track-level splits, and the segment loaders behind one protocol
(:mod:`gtzan_gpu.data.loaders`: DeviceLoader, StoreLoader, StreamLoader, and the EpochSampler that orders them)."""
from gtzan_gpu.data.corpus import Corpus, ExcludedFile, Track
from gtzan_gpu.data.sources import scan_corpus
from gtzan_gpu.data.dataset import SegmentDataset
from gtzan_gpu.data.loaders.device import DeviceLoader
from gtzan_gpu.data.segments import SegmentIndex, SegmentSpec, TrackSource, track_sources
from gtzan_gpu.data.splits import SplitManifest, make_split

__all__ = ["Corpus", "ExcludedFile", "Track", "scan_corpus", "SegmentDataset", "DeviceLoader", "SegmentIndex",
           "SegmentSpec", "TrackSource", "track_sources", "SplitManifest", "make_split"]
