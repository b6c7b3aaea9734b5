"""TrainConfig: every setting of a training run, validated on construction and saved with every checkpoint,
so a run can be resumed or evaluated with nothing but its RUN_DIR.

The fields are the command line's ``train`` options and a grid TOML's keys (see :mod:`gtzan_gpu.options`).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from gtzan_gpu.augment import AUGMENTATIONS
from gtzan_gpu.augment.settings import AugmentSettings
from gtzan_gpu.data.catalogue import CorpusSpec, check_label_options
from gtzan_gpu.data.label_table import FMA_SUBSETS
from gtzan_gpu.data.splits import SCHEMES
from gtzan_gpu.errors import GtzanError
from gtzan_gpu.features.config import FeatureConfig
from gtzan_gpu.models.registry import ModelConfig
from gtzan_gpu.options import check_options, flag_of, flatten, nest, nested, option, option_names
from gtzan_gpu.data.loaders import LOADER_CHOICES, LOADERS
from gtzan_gpu.training.device import DEVICES
from gtzan_gpu.training.optimization import ADAMW_WEIGHT_DECAY, OPTIMIZERS, SCHEDULES

MIN_SEGMENT_SECONDS = 0.1    # one 2048-sample STFT frame at 22,050 Hz
MAX_SEGMENT_SECONDS = 3600.0
MIN_HOP_SECONDS = 0.01


@dataclass
class TrainConfig:
    """A training run. ``lr`` and ``batch_size`` left as None take the model's seed values from the registry."""

    data: str | None = option(None, help="corpus folder (may move between runs: the manifest pins the tracks)",
                              kind=str, resumable=True)
    labels: str | None = option(None, help="label table of DATA: a CSV or TSV with a header naming path and label "
                                           "(optional split, artist, id), or FMA's tracks.csv with --fma-subset; "
                                           "DATA is then the audio root", kind=str, resumable=True)
    fma_subset: str | None = option(None, help="rows of FMA's tracks.csv to use (nested: small is in medium is in "
                                               "large)", choices=FMA_SUBSETS, kind=str)
    label_column: str | None = option(None, help="a Hugging Face dataset's label column (default: its only "
                                                 "ClassLabel column, else label or genre)", kind=str)
    audio_column: str | None = option(None, help="a Hugging Face dataset's audio column (default: its only Audio "
                                                 "column, else audio)", kind=str)
    shard_url: str | None = option(None, help="where DATA's shards are when not beside its shards.json: a prefix "
                                              "webdataset opens with each shard's name appended (https://host/dir/, "
                                              "pipe:curl -s https://host/dir/); streamed by --loader webdataset",
                                   kind=str, resumable=True)
    out: str | None = option(None, help="run directory (checkpoints, TensorBoard logs, reports); default "
                                        "runs/<model>-<seconds>s-<scheme>-seed<seed>", kind=str)
    model: ModelConfig = nested(ModelConfig)
    features: FeatureConfig = nested(FeatureConfig)
    segment_seconds: float = option(5.0, help="segment length in seconds (seed: 3, 5 or 10)",
                                    minimum=MIN_SEGMENT_SECONDS, maximum=MAX_SEGMENT_SECONDS)
    hop_seconds: float | None = option(None, help="training hop in seconds (overlap)",
                                       kind=float, minimum=MIN_HOP_SECONDS, maximum=MAX_SEGMENT_SECONDS)
    eval_hop_seconds: float | None = option(None, help="hop of the validation and evaluation windows: overlapping "
                                                       "windows, averaged per track (default: the seed's "
                                                       "non-overlapping windows, so figures compare with the seed)",
                                            kind=float, minimum=MIN_HOP_SECONDS, maximum=MAX_SEGMENT_SECONDS,
                                            resumable=True)
    sample_rate: int = option(22050, help="corpus sample rate", cli=False, minimum=1000, maximum=384000)
    manifest: str | None = option(None, help="split manifest JSON (default: made on the fly, saved in RUN_DIR)",
                                  kind=str)
    split_scheme: str = option("random", help="track-level split", choices=SCHEMES, flag="--scheme")
    split_seed: int = option(42, help="seed of the random split")
    epochs: int = option(20, help="epochs (seed: 20)", minimum=1, resumable=True)
    lr: float | None = option(None, help="peak learning rate (default: the model's, from the registry)", kind=float,
                              above=0)
    optimizer: str = option("adam", help="adam (the seed's) or adamw (decoupled weight decay on conv and linear "
                                         "weights)", choices=OPTIMIZERS)
    weight_decay: float | None = option(None, help=f"weight decay (default: {ADAMW_WEIGHT_DECAY:g} with adamw, 0 "
                                                   "with adam)", kind=float, minimum=0, maximum=10)
    schedule: str = option("constant", help="learning rate after the warm-up: constant (the seed's) or cosine "
                                            "(half cosine to 0 at the last step)", choices=SCHEDULES)
    warmup_epochs: float = option(0.0, help="linear learning-rate warm-up over this many epochs (fractions allowed)",
                                  minimum=0, maximum=1000)
    backbone_lr_scale: float = option(1.0, help="pretrained encoders, fine-tuned: the encoder's learning rate as a "
                                                "share of --lr (discriminative fine-tuning; the head takes --lr)",
                                      above=0, maximum=1)
    label_smoothing: float = option(0.0, help="cross-entropy label smoothing (0: the seed's hard targets)",
                                    minimum=0, maximum=0.5)
    batch_size: int | None = option(None, help="segments per step", kind=int, minimum=1, maximum=1 << 20)
    seed: int = option(0, help="seed of the weights, shuffling and dropout")
    device: str = option("auto", help="where to train", choices=DEVICES, resumable=True)
    loader: str = option("auto", help="; ".join(f"{name}: {spec.description}" for name, spec in LOADERS.items()) +
                         "; auto: device when the split fits in half the free device memory, else store (or stream)",
                         choices=LOADER_CHOICES, resumable=True)
    workers: int = option(2, help="DataLoader workers for --loader stream and webdataset", minimum=0, maximum=256,
                          resumable=True)
    amp: bool = option(False, help="bf16 autocast on CUDA (the STFT stays fp32)")
    channels_last: bool = option(False, help="channels-last images and weights")
    compile: bool = option(False, help="torch.compile the model", resumable=True)
    sync_bn: bool = option(False, help="under torchrun: synchronise BatchNorm statistics across ranks (CUDA)")
    max_steps: int | None = option(None, help="stop after this many optimiser steps in all (smoke runs)", kind=int,
                                   minimum=1, resumable=True)
    patience: int = option(5, help="early stop after this many epochs without a validation improvement",
                           minimum=1, resumable=True)
    log_every: int = option(20, help="progress line every N steps", minimum=1, resumable=True)
    saliency_every: int = option(5, help="TensorBoard: a Grad-CAM heat map over the spectrogram image of a fixed "
                                         "validation batch every K epochs and at the last (0: never)",
                                 minimum=0, maximum=1_000_000, resumable=True)
    augment: str = option("", help="training augmentations, comma-separated: " + ", ".join(AUGMENTATIONS) +
                          ". crop: a random start inside the track each epoch (any front end; on a clip barely "
                          "longer than a segment it moves the window a fraction of a second); gain: a random "
                          "level in dB on the waveform (changes only logmel/cqt with --db-reference fixed; "
                          "refused elsewhere, where each example is scaled to its own maximum); noise: white "
                          "noise at a random SNR on the waveform (every view); mixup: two segments mixed on the "
                          "waveform with soft targets (every view); specaugment: time and frequency masks, the "
                          "floor colour in the image, each example's mean in logmel/cqt (not the waveform view)")
    augment_gain_db: float = option(6.0, help="gain: largest boost or cut in dB", minimum=0, maximum=40)
    augment_snr_db: float = option(10.0, help="noise: lowest SNR in dB (drawn up to 30 dB above)", minimum=-20,
                                   maximum=80)
    augment_mixup_alpha: float = option(0.4, help="mixup: Beta(alpha, alpha) mixing weights", above=0, maximum=10)
    augment_masks: int = option(2, help="specaugment: masks per axis", minimum=1, maximum=10)
    augment_mask_width: float = option(0.15, help="specaugment: widest mask as a share of the axis", above=0,
                                       maximum=1)

    def __post_init__(self):
        if isinstance(self.model, dict):
            self.model = ModelConfig(**self.model)
        spec = self.model.spec
        if isinstance(self.features, dict):  # a front end not given is the model's first
            self.features = FeatureConfig(**{"frontend": spec.front_ends()[0], **self.features})
        elif self.features == FeatureConfig() and self.features.frontend not in spec.front_ends():
            self.features = FeatureConfig(frontend=spec.front_ends()[0])
        check_options(self)
        check_label_options(self.labels, self.fma_subset)
        if self.features.frontend not in spec.front_ends():
            raise GtzanError(f"--model {self.model.name} takes --frontend {' or '.join(spec.front_ends())}, not "
                             f"{self.features.frontend}")
        self._check_transfer()
        if self.lr is None:
            self.lr = spec.lr
        if self.batch_size is None:
            self.batch_size = spec.batch_size
        if self.weight_decay is None:
            self.weight_decay = ADAMW_WEIGHT_DECAY if self.optimizer == "adamw" else 0.0
        unknown = [name for name in self.augmentations if name not in AUGMENTATIONS]
        if unknown:
            raise GtzanError(f"unknown --augment {', '.join(unknown)} (choose from {', '.join(AUGMENTATIONS)})")
        if "gain" in self.augmentations and self.features.db_reference != "fixed":
            raise GtzanError("--augment gain changes nothing here: every view is scaled to each example's own "
                             "maximum; use it with --frontend logmel or cqt and --db-reference fixed")
        if "crop" in self.augmentations and self.loader != "auto" and not LOADERS[self.loader].supports_crop:
            croppers = " or ".join(name for name, spec in LOADERS.items() if spec.supports_crop)
            raise GtzanError(f"--augment crop draws segment starts in the {croppers} loader, not --loader "
                             f"{self.loader}")
        if self.eval_hop_seconds is not None and self.eval_hop_seconds > self.segment_seconds:
            raise GtzanError(f"--eval-hop-seconds {self.eval_hop_seconds:g} is longer than --segment-seconds "
                             f"{self.segment_seconds:g} (windows would skip audio)")
        if self.hop_seconds is not None and self.hop_seconds > self.segment_seconds:
            raise GtzanError(f"--hop-seconds {self.hop_seconds:g} is longer than --segment-seconds "
                             f"{self.segment_seconds:g} (segments would skip audio)")

    def _check_transfer(self) -> None:
        """Model, front end and weights fit together; the fine-tuning rate scale needs a trained encoder."""
        pretrained = self.model.pretrained
        if pretrained is not None and pretrained.frontend != self.features.frontend:
            raise GtzanError(f"--weights {pretrained.name} were trained on the {pretrained.frontend} front end, not "
                             f"--frontend {self.features.frontend}")
        if self.model.freeze_backbone and self.model.weights == "none":
            raise GtzanError("--freeze-backbone with --weights none would train a head on a random encoder")
        if self.backbone_lr_scale != 1.0:
            if self.model.spec.encoder is None:
                raise GtzanError(f"--backbone-lr-scale applies to the pretrained encoders, not --model "
                                 f"{self.model.name}")
            if self.model.freeze_backbone:
                raise GtzanError("--backbone-lr-scale with --freeze-backbone: a frozen encoder is not trained")

    def corpus_spec(self) -> CorpusSpec:
        """The run's DATA with its label table, as every corpus reader takes it."""
        if not self.data:
            raise GtzanError("no corpus: pass --data DATA")
        return CorpusSpec(self.data, self.labels, self.fma_subset, self.label_column, self.audio_column,
                          self.shard_url)

    @property
    def augmentations(self) -> tuple[str, ...]:
        return tuple(name.strip() for name in self.augment.split(",") if name.strip())

    def run_name(self, scheme: str | None = None, label: str | None = None) -> str:
        """What the run is, in one folder-safe name for TensorBoard and experiment folders: the model (with its
        front end when not the seed's image), segment length, split scheme and seed, e.g.
        ``resnet18-5s-random-seed0``. ``scheme`` / ``label`` override the split's and the model's names (a
        manifest's scheme, a grid's recipe name)."""
        frontend = "" if self.features.frontend == "image" else f"-{self.features.frontend}"
        model = label or f"{self.model.name}{frontend}"
        return f"{model}-{self.segment_seconds:g}s-{scheme or self.split_scheme}-seed{self.seed}"

    def augment_settings(self) -> AugmentSettings:
        return AugmentSettings(self.augmentations, self.augment_gain_db, self.augment_snr_db,
                               self.augment_snr_db + 30.0, self.augment_mixup_alpha, self.augment_masks,
                               self.augment_mask_width)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict, source: str = "configuration") -> "TrainConfig":
        """From ``to_dict()``'s output (a checkpoint's ``config``); older checkpoints' ``pretrained`` is mapped
        onto ``weights``."""
        if not isinstance(values, dict):
            raise GtzanError(f"{source}: the configuration is not a mapping")
        values = dict(values)
        model = dict(values.get("model") or {})
        if "pretrained" in model:  # checkpoints before weights= became one setting
            pretrained, weights = model.pop("pretrained"), model.get("weights")
            model["weights"] = weights or pretrained
        values["model"] = model
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise GtzanError(f"{source} has unknown keys: {', '.join(sorted(unknown))}")
        for part, config_class in (("model", ModelConfig), ("features", FeatureConfig)):
            part_unknown = set(values.get(part) or {}) - {f.name for f in fields(config_class)}
            if part_unknown:
                raise GtzanError(f"{source} has unknown {part} keys: {', '.join(sorted(part_unknown))}")
        return cls(**values)


def resumed_config(saved: TrainConfig, overrides: dict, run_dir: str) -> TrainConfig:
    """The saved run's configuration with the options given on ``train --resume`` applied.

    Options that may change on resume (more epochs, another device or corpus location, ...) are honoured;
    any other option given with a value other than the run's is refused with one line, never ignored.
    """
    names = option_names(TrainConfig)
    current = flatten(saved)
    refused = [f"{flag_of(names[name][1])} {value} (the run's is {current[name]})"
               for name, value in overrides.items()
               if not names[name][1].metadata.get("resumable") and value != current[name]]
    if refused:
        raise GtzanError(f"cannot change {'; '.join(refused)} when resuming {run_dir}; start a new run "
                         f"(--out) instead")
    values = {**current, **overrides, "out": run_dir}
    return TrainConfig(**nest(TrainConfig, values))
