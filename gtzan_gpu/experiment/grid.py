"""An experiment grid from TOML: models x segment lengths x split schemes, with shared training settings.

The ``[train]`` (and ``[quick]``) keys are ``train``'s option names (``epochs``, ``image_size``,
``stft_backend``, ``weights``, ...; see ``gtzan-gpu train --help``), checked when the grid is loaded. The
built-in grids ship inside the package (``gtzan_gpu/experiment/configs/<name>.toml``), so the installed
command works anywhere; ``--config`` takes a built-in name or a TOML file.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path

from gtzan_gpu.data.catalogue import CorpusSpec
from gtzan_gpu.data.splits import SCHEMES
from gtzan_gpu.errors import GtzanError
from gtzan_gpu.names import check_path_component
from gtzan_gpu.models.registry import get_model_spec, model_names
from gtzan_gpu.options import nest, option_names
from gtzan_gpu.training.config import TrainConfig

DEFAULT_GRID = "seed-grid"
PER_CELL_KEYS = {"model", "segment_seconds", "scheme", "split_seed", "data", "out", "manifest"}
TRAIN_KEYS = set(option_names(TrainConfig)) - PER_CELL_KEYS
GRID_KEYS = {"name", "models", "segment_seconds", "schemes", "split_seed", "train", "quick", "recipes"}
QUICK_GRID_KEYS = {"name", "schemes", "tracks_per_genre", "track_seconds", "models", "segment_seconds", "difficulty"}
RECIPE_KEYS = TRAIN_KEYS | {"model"}
TRAINING_SEED = next(f.default for f in fields(TrainConfig) if f.name == "seed")  # train's --seed default


def builtin_grids() -> list[str]:
    """Names of the grids shipped with the package."""
    folder = resources.files("gtzan_gpu.experiment") / "configs"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


@dataclass(frozen=True)
class Cell:
    """One training run of the grid. ``repeat`` and ``fold`` are set for repeated / k-fold evaluation."""

    scheme: str
    model: str
    seconds: float
    repeat: int | None = None
    fold: int | None = None

    @property
    def split_name(self) -> str:
        """The manifest this cell trains on: one per (scheme, repeat, fold)."""
        return self.scheme + ("" if self.repeat is None else f"-r{self.repeat}") + \
            ("" if self.fold is None else f"-f{self.fold}")

    @property
    def key(self) -> str:
        suffix = "" if self.repeat is None and self.fold is None else "/" + self.split_name.split("-", 1)[1]
        return f"{self.scheme}/{self.model}-{self.seconds:g}s{suffix}"

    @property
    def slug(self) -> str:
        return f"{self.split_name}__{self.model}-{self.seconds:g}s"


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
    difficulty: str = "easy"
    recipes: dict[str, dict] = field(default_factory=dict)  # name -> model + [train] overrides; replace models
    folds: int | None = None      # stratified track-level k-fold (replaces the schemes)
    repeats: int | None = None    # split seeds split_seed, split_seed + 1, ...

    def cells(self, only: list[str] | None = None) -> list[Cell]:
        """Every (scheme, model, length), times repeats and folds when asked; ``only`` keeps cells named
        'model:seconds' (e.g. 'resnet18:5')."""
        repeats = list(range(self.repeats)) if self.repeats else [None]
        if self.folds:
            cells = [Cell("kfold", m, float(t), r if self.repeats else None, f) for r in repeats
                     for f in range(self.folds) for m in self.models for t in self.segment_seconds]
        else:
            cells = [Cell(s, m, float(t), r) for s in self.schemes for r in repeats for m in self.models
                     for t in self.segment_seconds]
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

    def cell_config(self, cell: Cell, data: "str | CorpusSpec | None", manifest: str | None, run_dir: str | None,
                    device: str | None = None) -> TrainConfig:
        """The cell's TrainConfig: the grid's [train] settings, the cell's model, length and scheme, and the
        model's seed hyper-parameters where the grid sets none. ``weights`` applies to models with pretrained
        trunks only. ``data``: DATA, or a CorpusSpec (DATA with its label table)."""
        settings = dict(self.train)
        if isinstance(data, CorpusSpec):
            settings.update(labels=str(data.labels) if data.labels else None, fma_subset=data.fma_subset,
                            label_column=data.label_column, audio_column=data.audio_column,
                            shard_url=data.shard_url)
            data = str(data.data)
        recipe = dict(self.recipes.get(cell.model, {"model": cell.model}))  # a recipe names its model
        model = recipe.pop("model")
        settings.update(recipe)
        if not get_model_spec(model).pretrainable:
            settings.pop("weights", None)
        if device is not None and "device" not in self.train:
            settings["device"] = device
        # a k-fold cell trains on its fold's manifest; the config's scheme is only the fallback, never used
        # repeat r draws both another split and other weights, shuffles and dropout: seeds + r
        settings.update(model=model, segment_seconds=cell.seconds,
                        scheme="random" if cell.scheme == "kfold" else cell.scheme,
                        split_seed=self.split_seed + (cell.repeat or 0), data=data, out=run_dir, manifest=manifest,
                        seed=int(settings.get("seed", TRAINING_SEED)) + (cell.repeat or 0))
        return TrainConfig(**nest(TrainConfig, settings))

    def run_name(self, cell: Cell) -> str:
        """The cell's run folder under ``runs/``, saying what it is: recipe or model, segment length, split (with
        repeat / fold) and training seed, e.g. ``resnet18-5s-random-seed0``; TensorBoard shows it as the run."""
        return self.cell_config(cell, None, None, None).run_name(cell.split_name, cell.model)

    def check(self, source: str) -> None:
        """Every cell's configuration is valid (raises a GtzanError prefixed with ``source``)."""
        bad = [m for m in self.models if m not in model_names() and m not in self.recipes]
        if bad:
            raise GtzanError(f"{source}: unknown model(s) {bad} (choose from {', '.join(model_names())})")
        bad = [s for s in self.schemes if s not in SCHEMES]
        if bad:
            raise GtzanError(f"{source}: unknown scheme(s) {bad} (choose from {', '.join(SCHEMES)})")
        if not self.models or not self.segment_seconds or not self.schemes:
            raise GtzanError(f"{source}: the grid has no cell (models, segment_seconds and schemes must be non-empty)")
        if self.folds is not None:
            if not 2 <= self.folds <= 100:
                raise GtzanError(f"--folds must be in [2, 100], got {self.folds}")
            if "fault-filtered" in self.schemes:
                raise GtzanError(f"{source}: --folds replaces the split; the fault-filtered scheme is a fixed list "
                                 f"and cannot be folded (use schemes = [\"random\"])")
        if self.repeats is not None and not 1 <= self.repeats <= 100:
            raise GtzanError(f"--repeats must be in [1, 100], got {self.repeats}")
        for cell in self.cells():
            try:
                self.cell_config(cell, None, None, None)
            except GtzanError as error:
                raise GtzanError(f"{source}: cell {cell.key}: {error}") from None


def _read_grid_text(config: str | Path) -> tuple[str, str]:
    """(TOML text, where it came from) for a built-in grid name or a file path."""
    path = Path(config)
    if path.is_file():
        return path.read_text(), str(path)
    if str(config) in builtin_grids():
        resource = resources.files("gtzan_gpu.experiment") / "configs" / f"{config}.toml"
        return resource.read_text(), f"built-in grid {config}"
    raise GtzanError(f"grid config not found: {config} (a TOML file, or a built-in grid: "
                     f"{', '.join(builtin_grids())})")


def _unknown(section: dict, allowed: set, source: str, where: str) -> None:
    unknown = set(section) - allowed
    if unknown:
        raise GtzanError(f"{source}: unknown {where} key(s) {', '.join(sorted(unknown))} "
                         f"(allowed: {', '.join(sorted(allowed))})")


def load_grid(config: str | Path = DEFAULT_GRID, quick: bool = False, folds: int | None = None,
              repeats: int | None = None, segment_seconds: list[float] | None = None) -> Grid:
    """A grid from a built-in name or a TOML file; with ``quick`` its ``[quick]`` section applied; ``folds``,
    ``repeats`` and ``segment_seconds`` (replacing the grid's lengths) as ``experiment --folds/--repeats/
    --segment-seconds`` set them."""
    text, source = _read_grid_text(config)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise GtzanError(f"{source}: invalid TOML ({error})") from None
    _unknown(document, GRID_KEYS, source, "top-level")
    train = dict(document.get("train", {}))
    _unknown(train, TRAIN_KEYS, source, "[train]")
    recipes = {str(name): dict(values) for name, values in document.get("recipes", {}).items()}
    for name, values in recipes.items():
        _unknown(values, RECIPE_KEYS, source, f"[recipes.{name}]")
        if "model" not in values:
            raise GtzanError(f"{source}: [recipes.{name}] needs a model")
    try:
        grid = Grid(name=str(document.get("name", Path(str(config)).stem)),
                    models=list(recipes) if recipes else list(document.get("models", [
                        name for name in model_names() if train.get("frontend", "image") in
                        get_model_spec(name).front_ends()])),
                    segment_seconds=[float(s) for s in document.get("segment_seconds", [5.0])],
                    schemes=list(document.get("schemes", ["random"])),
                    split_seed=int(document.get("split_seed", 42)), train=train, recipes=recipes)
        if quick:
            quick_section = dict(document.get("quick", {}))
            _unknown(quick_section, TRAIN_KEYS | QUICK_GRID_KEYS, source, "[quick]")
            for key in QUICK_GRID_KEYS & set(quick_section):
                value = quick_section.pop(key)
                setattr(grid, key, [float(v) for v in value] if key == "segment_seconds" else value)
            grid.train.update(quick_section)
    except (TypeError, ValueError) as error:
        raise GtzanError(f"{source}: a value has the wrong type ({error})") from None
    for what, name in [("name", grid.name), *(("recipe name", recipe) for recipe in recipes)]:
        check_path_component(name, f"{source}: the grid's {what}")
    grid.folds, grid.repeats = folds, repeats
    if segment_seconds:
        grid.segment_seconds = [float(s) for s in segment_seconds]
    grid.check(source)
    return grid
