"""Run configuration as dataclasses, saved with every checkpoint so a run can be resumed or evaluated
with nothing but its RUN_DIR."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from gtzan_gpu.errors import GtzanError

MODEL_NAMES = ("cnn", "resnet18", "fusion")
# The seed's hyper-parameters (shared/seed/NOTES.md): Adam, 20 epochs, per-model lr and batch size.
SEED_HYPERPARAMETERS = {
    "cnn": {"lr": 1e-3, "batch_size": 60, "pretrained": "none"},
    "resnet18": {"lr": 1e-3, "batch_size": 60, "pretrained": "imagenet"},
    "fusion": {"lr": 5e-4, "batch_size": 32, "pretrained": "imagenet"},
}
LOADERS = ("device", "stream")
DEVICES = ("auto", "cpu", "cuda")


@dataclass
class FeatureConfig:
    """How raw audio becomes the model's image(s); see SpectrogramImage / WaveformImage."""

    image_size: int = 128
    frequency_scale: str = "log"
    colormap: str = "magma"
    normalize: bool = True
    stft_backend: str = "nnaudio"
    trainable_stft: bool = False
    waveform_envelope: str = "symmetric"


@dataclass
class ModelConfig:
    name: str = "cnn"
    pretrained: str = "none"        # "none" | "imagenet" (ResNet trunks only)
    weights: str | None = None      # a resnet18 state_dict file standing in for the torchvision download


@dataclass
class TrainConfig:
    data: str
    out: str
    model: ModelConfig = field(default_factory=ModelConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    segment_seconds: float = 5.0
    hop_seconds: float | None = None   # training hop; None = the seed's non-overlapping windows
    sample_rate: int = 22050
    manifest: str | None = None        # made on the fly (and saved in RUN_DIR) when not given
    split_scheme: str = "random"
    split_seed: int = 42
    epochs: int = 20
    lr: float = 1e-3
    batch_size: int = 60
    seed: int = 0
    device: str = "auto"
    loader: str = "device"
    workers: int = 2
    amp: bool = False
    channels_last: bool = False
    compile: bool = False
    max_steps: int | None = None
    patience: int = 5
    log_every: int = 20

    def __post_init__(self):
        if self.model.name not in MODEL_NAMES:
            raise GtzanError(f"unknown --model {self.model.name!r} (choose from {', '.join(MODEL_NAMES)})")
        if self.loader not in LOADERS:
            raise GtzanError(f"unknown --loader {self.loader!r} (choose from {', '.join(LOADERS)})")
        if self.device not in DEVICES:
            raise GtzanError(f"unknown --device {self.device!r} (choose from {', '.join(DEVICES)})")
        for name in ("epochs", "batch_size", "patience", "log_every"):
            if getattr(self, name) < 1:
                raise GtzanError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise GtzanError(f"--lr must be positive, got {self.lr}")
        if self.model.pretrained not in ("none", "imagenet"):
            raise GtzanError(f"unknown --pretrained {self.model.pretrained!r} (choose none or imagenet)")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise GtzanError(f"configuration has unknown keys: {', '.join(sorted(unknown))}")
        values = dict(values)
        values["model"] = ModelConfig(**values.get("model", {}))
        values["features"] = FeatureConfig(**values.get("features", {}))
        return cls(**values)
