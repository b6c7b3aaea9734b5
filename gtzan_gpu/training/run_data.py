"""The corpus, split and segment spec a run trains and evaluates on."""
from __future__ import annotations

import functools
import hashlib

import logging
from dataclasses import dataclass

import torch

from gtzan_gpu.data.corpus import Corpus, report_exclusions
from gtzan_gpu.data.sources import scan_corpus
from gtzan_gpu.data.loaders import LOADERS
from gtzan_gpu.data.loaders.sampler import EpochSampler
from gtzan_gpu.data.segments import SegmentSpec, track_sources
from gtzan_gpu.data.splits import SplitManifest, make_split
from gtzan_gpu.errors import GtzanError
from gtzan_gpu.training.batches import SegmentBatches, choose_loader
from gtzan_gpu.training.config import TrainConfig

log = logging.getLogger(__name__)


@dataclass
class RunData:
    corpus: Corpus
    manifest: SplitManifest
    spec: SegmentSpec

    @property
    def genres(self) -> list[str]:
        return self.manifest.genres

    def audio_digest(self, track_ids: list[str], sample_rate: int) -> str:
        """sha256 over the tracks' ids and the crc32 of their int16 samples at ``sample_rate``: equal for a folder and
        the store packed from it, different for two corpora that reuse track ids. A store's tracks give their
        index's crc32 (no read); an audio folder's are decoded once more here."""
        tracks = track_sources(self.corpus, sorted(track_ids), sample_rate, self.genres)
        lines = [f"{track.track_id} {track.samples_crc32(sample_rate):08x}" for track in tracks]
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()

    @functools.cached_property
    def validation_audio_digest(self) -> str:
        """:meth:`audio_digest` of the validation tracks (recorded with a run: a resume on other audio under the
        same ids is refused; the validation subset is small, so a folder's decode stays cheap)."""
        return self.audio_digest(self.manifest.subsets["val"], self.spec.sample_rate)

    def labels_digest(self) -> str:
        """sha256 over every split track's id and label as the corpus gives them now: recorded with a run, so a
        resume or an evaluation against an edited label table (or another corpus reusing the ids) is noticed."""
        genre_of = {track.track_id: track.genre for track in self.corpus.tracks}
        ids = sorted({track_id for ids in self.manifest.subsets.values() for track_id in ids})
        lines = [f"{track_id}\t{genre_of.get(track_id, '')}" for track_id in ids]
        return hashlib.sha256("\n".join(lines).encode()).hexdigest()

    def batches(self, subset: str, config: TrainConfig, device: torch.device, training: bool = False,
                rank: int = 0, world_size: int = 1) -> SegmentBatches:
        """``subset``'s segments (this rank's shard of its tracks under torchrun): the training hop when
        ``training``, else the evaluation windows (the seed's non-overlapping ones unless
        ``--eval-hop-seconds``)."""
        spec = self.spec if training else SegmentSpec(self.spec.seconds, self.spec.sample_rate,
                                                      config.eval_hop_seconds)
        sampler = EpochSampler(0, shuffle=training, seed=config.seed, rank=rank, world_size=world_size)
        genre_of = {t.track_id: t.genre for t in self.corpus.tracks}
        every = track_sources(self.corpus, self.manifest.subsets[subset], spec.sample_rate, self.genres)  # no read
        loader = config.loader
        if loader == "auto" and not any(s.automatic and s.reads(every) for s in LOADERS.values()):
            loader = choose_loader(loader, every, device)  # only a loader auto never picks reads them (--shard-url)
        if loader != "auto" and LOADERS[loader].deals_shards:  # it deals its shard files to ranks itself
            tracks = every
        else:  # this rank's share (the manifest's subsets are sorted, as the share is)
            mine = set(sampler.shard(self.manifest.subsets[subset], genre_of))
            tracks = [track for track in every if track.track_id in mine]
        return SegmentBatches(tracks, spec, device, loader, config.batch_size, config.workers, sampler)


def check_every_label_trains(corpus: Corpus, manifest: SplitManifest, source: str) -> None:
    """Every genre the split scores has training tracks: a label seen only in validation or test (a table's
    ``given`` split with test rows alone) can never be predicted, and would silently cap the accuracy."""
    genre_of = {track.track_id: track.genre for track in corpus.tracks}
    trained = {genre_of.get(track_id) for track_id in manifest.subsets["train"]}
    scored = {genre_of.get(track_id) for name in ("val", "test") for track_id in manifest.subsets[name]}
    untrained = sorted(g for g in scored - trained if g is not None)
    if untrained:
        raise GtzanError(f"{source}: label(s) {', '.join(untrained)} have no training tracks (only validation or "
                         f"test rows); the model could never predict them")


def load_run_data(config: TrainConfig, manifest: SplitManifest | None = None, corpus: Corpus | None = None) -> RunData:
    """Corpus, split and segment spec of ``config``. Pass ``corpus`` when ``config.data`` is already scanned
    (a scan decodes every file), e.g. by a grid that trains and evaluates many runs on one corpus."""
    spec = config.corpus_spec()
    if manifest is None and config.manifest:  # a bad or leaking manifest is refused before the corpus is decoded
        manifest = SplitManifest.load(config.manifest)
    if corpus is None:
        corpus = scan_corpus(spec)
        report_exclusions(corpus, log)
    if manifest is None:
        manifest = make_split(corpus, config.split_scheme, config.split_seed)
    manifest.check_usable(f"the {manifest.scheme} split of {spec.describe()}")
    check_every_label_trains(corpus, manifest, f"the {manifest.scheme} split of {spec.describe()}")
    return RunData(corpus, manifest, SegmentSpec(config.segment_seconds, config.sample_rate, config.hop_seconds))
