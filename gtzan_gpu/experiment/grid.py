"""An experiment grid from TOML: models x segment lengths x split schemes, with shared training settings."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from gtzan_gpu.config import MODEL_NAMES
from gtzan_gpu.errors import GtzanError

DEFAULT_GRID = Path("experiments/configs/seed-grid.toml")
TRAIN_KEYS = {"epochs", "patience", "seed", "loader", "amp", "channels_last", "pretrained", "weights",
              "batch_size", "lr", "image_size", "stft_backend", "device", "max_steps", "workers"}
QUICK_KEYS = TRAIN_KEYS | {"name", "schemes", "tracks_per_genre", "track_seconds", "models", "segment_seconds"}


@dataclass(frozen=True)
class Cell:
    scheme: str
    model: str
    seconds: float

    @property
    def key(self) -> str:
        return f"{self.scheme}/{self.model}-{self.seconds:g}s"


@dataclass
class Grid:
    name: str
    models: list[str]
    segment_seconds: list[float]
    schemes: list[str]
    split_seed: int = 42
    train: dict = field(default_factory=dict)
    tracks_per_genre: int = 5     # --quick synthetic corpus
    track_seconds: float = 10.0

    def cells(self, only: list[str] | None = None) -> list[Cell]:
        """Every (scheme, model, length); ``only`` keeps cells named 'model:seconds' (e.g. 'resnet18:5')."""
        cells = [Cell(s, m, float(t)) for s in self.schemes for m in self.models for t in self.segment_seconds]
        if not only:
            return cells
        wanted = set()
        for item in only:
            model, _, seconds = item.partition(":")
            try:
                wanted.add((model, float(seconds)))
            except ValueError:
                raise GtzanError(f"--only {item!r}: expected MODEL:SECONDS, e.g. resnet18:5") from None
        chosen = [c for c in cells if (c.model, c.seconds) in wanted]
        if not chosen:
            raise GtzanError(f"--only {','.join(only)} matches no cell of grid {self.name!r}")
        return chosen


def load_grid(path: str | Path = DEFAULT_GRID, quick: bool = False) -> Grid:
    path = Path(path)
    if not path.is_file():
        raise GtzanError(f"grid config not found: {path} (run from a gtzan-gpu checkout or pass --config FILE)")
    try:
        document = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise GtzanError(f"{path}: invalid TOML ({error})") from None
    train = dict(document.get("train", {}))
    unknown = set(train) - TRAIN_KEYS
    if unknown:
        raise GtzanError(f"{path}: unknown [train] keys {sorted(unknown)}")
    grid = Grid(name=document.get("name", path.stem), models=list(document.get("models", MODEL_NAMES)),
                segment_seconds=[float(s) for s in document.get("segment_seconds", [5.0])],
                schemes=list(document.get("schemes", ["random"])), split_seed=int(document.get("split_seed", 42)),
                train=train)
    if quick:
        quick_section = dict(document.get("quick", {}))
        unknown = set(quick_section) - QUICK_KEYS
        if unknown:
            raise GtzanError(f"{path}: unknown [quick] keys {sorted(unknown)}")
        for key in ("name", "schemes", "tracks_per_genre", "track_seconds", "models", "segment_seconds"):
            if key in quick_section:
                setattr(grid, key, quick_section.pop(key))
        grid.train.update(quick_section)
    bad = [m for m in grid.models if m not in MODEL_NAMES]
    if bad:
        raise GtzanError(f"{path}: unknown model(s) {bad} (choose from {', '.join(MODEL_NAMES)})")
    return grid
