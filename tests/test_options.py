"""One source of truth: the CLI, the config checks and the grids all read the dataclasses and the registry."""
import dataclasses

import pytest

from gtzan_gpu.cli import build_parser
from gtzan_gpu.config import FeatureConfig, ModelConfig, TrainConfig
from gtzan_gpu.errors import GtzanError
from gtzan_gpu.experiment.grid import TRAIN_KEYS, load_grid
from gtzan_gpu.features.stft import STFT_BACKENDS
from gtzan_gpu.models.registry import MODELS
from gtzan_gpu.options import choices_of, flatten, given_options, nest, option_names


def train_parser():
    parser = build_parser()
    return next(a for a in parser._subparsers._group_actions[0].choices.items() if a[0] == "train")[1]


def test_every_option_is_a_train_flag_with_the_dataclass_choices():
    actions = {a.dest: a for a in train_parser()._actions}
    for name, (_, field) in option_names(TrainConfig).items():
        if field.metadata.get("cli", True):
            assert name in actions, name
            assert actions[name].choices == choices_of(field), name
    assert tuple(actions["model"].choices) == tuple(MODELS)
    assert tuple(actions["stft_backend"].choices) == STFT_BACKENDS


def test_command_line_values_round_trip_into_the_config():
    args = train_parser().parse_args(["--data", "d", "--out", "o", "--model", "fusion", "--image-size", "64",
                                      "--no-normalize", "--scheme", "fault-filtered", "--weights", "none"])
    config = TrainConfig(**nest(TrainConfig, given_options(args, TrainConfig)))
    assert (config.model.name, config.features.image_size, config.features.normalize, config.split_scheme) == \
        ("fusion", 64, False, "fault-filtered")
    assert (config.lr, config.batch_size) == (MODELS["fusion"].lr, MODELS["fusion"].batch_size)  # the seed's
    assert TrainConfig(**nest(TrainConfig, flatten(config))) == config


def test_registry_defaults_and_one_weights_setting():
    assert ModelConfig("cnn").weights == "none" and ModelConfig("resnet18").weights == "imagenet"
    with pytest.raises(GtzanError, match="the cnn model has no pretrained weights"):
        ModelConfig("cnn", "imagenet")
    with pytest.raises(GtzanError, match="unknown --model 'vgg'"):
        ModelConfig("vgg")


def test_old_checkpoint_configs_map_pretrained_onto_weights():
    saved = dataclasses.asdict(TrainConfig(data="d", out="o", model=ModelConfig("resnet18", "none")))
    saved["model"] = {"name": "resnet18", "pretrained": "imagenet", "weights": "/w.pth"}
    assert TrainConfig.from_dict(saved).model.weights == "/w.pth"
    saved["model"] = {"name": "resnet18", "pretrained": "none", "weights": None}
    assert TrainConfig.from_dict(saved).model.weights == "none"


def test_config_dataclasses_validate_whatever_the_source():
    with pytest.raises(GtzanError, match="unknown --colormap 'jet'"):
        FeatureConfig(colormap="jet")
    with pytest.raises(GtzanError, match="--epochs must be a whole number"):
        TrainConfig(epochs=2.5)
    with pytest.raises(GtzanError, match="--amp must be true or false"):
        TrainConfig(amp="yes")


def test_grid_keys_are_the_option_names_and_grids_load_from_anywhere(tmp_path, monkeypatch):
    assert {"epochs", "image_size", "stft_backend", "weights", "batch_size"} <= TRAIN_KEYS
    assert not {"model", "segment_seconds", "scheme", "out"} & TRAIN_KEYS  # set per cell
    monkeypatch.chdir(tmp_path)  # outside a checkout: the built-in grid is package data
    grid = load_grid()
    assert grid.name == "seed-grid" and len(grid.cells()) == 18
    cell = grid.cells()[0]
    config = grid.cell_config(cell, "d", "m.json", "r")
    assert (config.model.name, config.segment_seconds, config.epochs) == (cell.model, cell.seconds, 20)
