"""A run's configuration from the options a user gave: a new run's (its folder named for what it is when ``--out``
is not given) or a resumed run's (the saved configuration with the options that may change applied)."""
from __future__ import annotations

from pathlib import Path

from gtzan_gpu.data.splits import SplitManifest
from gtzan_gpu.errors import GtzanError
from gtzan_gpu.options import nest
from gtzan_gpu.training.checkpoint import load_checkpoint
from gtzan_gpu.training.config import TrainConfig, resumed_config
from gtzan_gpu.training.run_dir import DEFAULT_RUNS, LAST, check_resumable


def new_run_config(given: dict) -> tuple[TrainConfig, SplitManifest | None]:
    """A new run's configuration from ``given`` options (flat names, as :func:`gtzan_gpu.options.given_options`
    returns them) and its split manifest, loaded once here when ``manifest`` is given (a bad one is refused before
    any audio is read). Without ``out`` the run goes to ``runs/<run name>`` (so ``tensorboard --logdir runs``
    compares runs by name)."""
    if "data" not in given:
        raise GtzanError("train needs --data DATA (or --resume RUN_DIR)")
    config = TrainConfig(**nest(TrainConfig, given))
    manifest = SplitManifest.load(config.manifest) if config.manifest else None
    if not config.out:
        config.out = str(Path(DEFAULT_RUNS) / config.run_name(manifest.scheme if manifest else None))
    return config, manifest


def resume_config(run_dir: str, given: dict, overwrite: bool = False) -> TrainConfig:
    """The configuration of the run in ``run_dir`` with ``given`` options applied; refused in one line when the
    run cannot be resumed, when ``--out`` names another folder, or with ``--overwrite``."""
    if overwrite:
        raise GtzanError("--resume continues a run and --overwrite replaces it: choose one")
    given = dict(given)
    if "out" in given and Path(given.pop("out")).resolve() != Path(run_dir).resolve():
        raise GtzanError("--resume RUN_DIR names the run directory; leave out --out")
    check_resumable(Path(run_dir))
    saved = load_checkpoint(Path(run_dir) / LAST)
    return resumed_config(TrainConfig.from_dict(saved["config"], source=str(Path(run_dir) / LAST)), given, run_dir)
