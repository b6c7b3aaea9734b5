"""Corpus scanning and validation, track-level splits, and the two segment loaders."""
from gtzan_gpu.data.corpus import Corpus, ExcludedFile, Track, scan_corpus
from gtzan_gpu.data.dataset import SegmentDataset
from gtzan_gpu.data.device_corpus import DeviceCorpus
from gtzan_gpu.data.segments import SegmentIndex, SegmentSpec, TrackSource, track_sources
from gtzan_gpu.data.splits import SplitManifest, make_split

__all__ = ["Corpus", "ExcludedFile", "Track", "scan_corpus", "SegmentDataset", "DeviceCorpus", "SegmentIndex",
           "SegmentSpec", "TrackSource", "track_sources", "SplitManifest", "make_split"]
