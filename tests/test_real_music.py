"""The best built-in recipes on real music: the GTZAN excerpts in ``../shared/data`` (skipped where absent).

The clips are read where they lie, never copied. The split keeps neighbouring ids (often one artist) on one
side: ids 1-17 of each genre train, 18-20 validate, 21-25 test, so the test tracks are further from the
training tracks than a random split's would be.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from gtzan_gpu.data.splits import SplitManifest
from gtzan_gpu.experiment import load_grid
from gtzan_gpu.models.pretrained.registry import musicnn_package_folder
from gtzan_gpu.training import fit
from gtzan_gpu.training.evaluate import evaluate_run

REAL_CLIPS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "gtzan-excerpts-dev"
BEST_RECIPE = "musicnn-probe"  # the README's best recipe on these clips (pretrained: needs the musicnn wheel)
BEST_FROM_SCRATCH = "cnn10-logmel"
PROBE_FLOOR = 0.55  # measured 0.70 with 8 epochs here (0.74 with 20); from scratch: 0.30 floor, 0.5-0.66 at 20
GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")

pytestmark = pytest.mark.skipif(not REAL_CLIPS.is_dir(), reason=f"real clips not present ({REAL_CLIPS})")


def id_block_manifest(path: Path) -> Path:
    def ids(first: int, last: int) -> list[str]:
        return sorted(f"{genre}.{i:05d}" for genre in GENRES for i in range(first, last + 1))

    manifest = SplitManifest(scheme="random", seed=None, test_fraction=None, val_fraction=None, genres=list(GENRES),
                             subsets={"train": ids(1, 17), "val": ids(18, 20), "test": ids(21, 25)})
    manifest.save(path)
    return path


def brief_run(recipe: str, tmp_path: Path) -> float:
    grid = load_grid("recipes", segment_seconds=[2.0])
    grid.train.update(epochs=8, stft_backend="torch", saliency_every=0, device="cpu")  # brief: 8 of its 20 epochs
    config = grid.cell_config(grid.cells([f"{recipe}:2"])[0], str(REAL_CLIPS),
                              str(id_block_manifest(tmp_path / "split.json")), str(tmp_path / "run"))
    fit(config)
    return evaluate_run(tmp_path / "run", "test", device="cpu")["segment"]["accuracy"]


def test_the_best_from_scratch_recipe_learns_real_genres_well_above_chance(tmp_path):
    accuracy = brief_run(BEST_FROM_SCRATCH, tmp_path)
    # 10 genres: chance is 0.10; with all 20 epochs this recipe reached 0.5-0.66 on this split
    assert accuracy >= 0.30, accuracy


@pytest.mark.skipif(musicnn_package_folder() is None, reason="the musicnn wheel is not installed")
def test_the_best_recipe_a_pretrained_probe_learns_real_genres_far_above_chance(tmp_path):
    accuracy = brief_run(BEST_RECIPE, tmp_path)
    assert accuracy >= PROBE_FLOOR, accuracy
