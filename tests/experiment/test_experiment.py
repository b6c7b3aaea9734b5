import json
from pathlib import Path

import pytest

from gtzan_gpu.errors import GtzanError
from gtzan_gpu.experiment import Grid, load_grid, run_experiment
from gtzan_gpu.experiment.report import best_cell



def tiny_grid() -> Grid:
    return Grid(name="tiny", models=["cnn"], segment_seconds=[1.0, 2.0], schemes=["random"],
                train={"epochs": 1, "image_size": 32, "batch_size": 16, "stft_backend": "torch", "device": "cpu",
                       "loader": "device", "weights": "none"})


def test_the_seed_grid_config_is_the_seeds_study():
    grid = load_grid("seed-grid")  # built in: shipped as package data
    assert grid.models == ["cnn", "resnet18", "fusion"] and grid.segment_seconds == [3.0, 5.0, 10.0]
    assert grid.schemes == ["random", "fault-filtered"] and grid.train["epochs"] == 20
    assert len(grid.cells()) == 18
    quick = load_grid("seed-grid", quick=True)
    assert quick.schemes == ["random"] and quick.train["weights"] == "none" and len(quick.cells()) == 9
    assert (quick.tracks_per_genre, quick.track_seconds, quick.train["epochs"]) == (8, 15.0, 4)
    assert [c.key for c in grid.cells(["resnet18:5"])] == ["random/resnet18-5s", "fault-filtered/resnet18-5s"]


def test_a_tiny_grid_runs_reports_and_skips_finished_cells(tiny_corpus, tmp_path, caplog):
    out = tmp_path / "exp"
    result = run_experiment(tiny_grid(), out, str(tiny_corpus))
    assert [c["cell"] for c in result["cells"]] == ["random/cnn-1s", "random/cnn-2s"]  # grid order
    for cell in result["cells"]:
        assert set(cell) >= {"test_accuracy", "test_track_accuracy", "test_macro_f1", "epochs_run", "wall_seconds",
                             "device"}
        assert (Path(cell["run_dir"]) / "tb").is_dir()
    # run folders say what they are, so TensorBoard's run list compares them by name
    assert [Path(c["run_dir"]) for c in result["cells"]] == [out / "runs" / "cnn-1s-random-seed0",
                                                            out / "runs" / "cnn-2s-random-seed0"]
    manifest = json.loads((out / "manifests" / "random.json").read_text())
    assert manifest["seed"] == 42
    table = (out / "results.md").read_text()
    assert "| cnn | " in table and "1 s | 2 s" in table
    assert f"On the corpus {tiny_corpus}." in table  # which corpus, so synthetic figures are never unlabelled
    assert json.loads((out / "results.json").read_text())["cells"] == result["cells"]
    for name in ("accuracy_random.png", "confusion_best.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    with caplog.at_level("INFO"):
        again = run_experiment(tiny_grid(), out, str(tiny_corpus))
    assert "random/cnn-1s: finished, skipping" in caplog.text
    assert [c["wall_seconds"] for c in again["cells"]] == [c["wall_seconds"] for c in result["cells"]]


def test_only_runs_the_named_cells(tiny_corpus, tmp_path):
    result = run_experiment(tiny_grid(), tmp_path / "exp", str(tiny_corpus), only=["cnn:2"])
    assert [c["cell"] for c in result["cells"]] == ["random/cnn-2s"]
    with pytest.raises(GtzanError, match="matches no cell"):
        tiny_grid().cells(["fusion:7"])
    with pytest.raises(GtzanError, match="MODEL:SECONDS"):
        tiny_grid().cells(["cnn"])


def test_the_best_cell_is_chosen_on_validation_not_test():
    cells = [{"val_accuracy": 0.9, "test_accuracy": 0.5, "seconds": 5.0},
             {"val_accuracy": 0.7, "test_accuracy": 0.99, "seconds": 3.0}]
    assert best_cell(cells)["val_accuracy"] == 0.9


def test_bad_grid_configs_are_clear_errors(tmp_path):
    with pytest.raises(GtzanError, match="grid config not found"):
        load_grid(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text('models = ["vgg"]\n')
    with pytest.raises(GtzanError, match="unknown model"):
        load_grid(bad)
    bad.write_text('[train]\nepochz = 3\n')
    with pytest.raises(GtzanError, match="unknown \\[train\\] key\\(s\\) epochz"):
        load_grid(bad)


def test_a_grid_scans_its_corpus_once(tiny_corpus, tmp_path, monkeypatch):
    import gtzan_gpu.experiment.runner as runner

    calls = []
    real_scan = runner.scan_corpus
    monkeypatch.setattr(runner, "scan_corpus", lambda data: calls.append(data) or real_scan(data))
    import gtzan_gpu.training.run_data as run_data
    monkeypatch.setattr(run_data, "scan_corpus", lambda data: calls.append(("engine", data)) or real_scan(data))
    run_experiment(tiny_grid(), tmp_path / "exp", str(tiny_corpus))
    assert len(calls) == 1  # manifests, both cells' training and evaluation share one scan


def test_kfold_runs_every_fold_and_reports_mean_and_interval(tiny_corpus, tmp_path):
    from gtzan_gpu.data.splits import SplitManifest

    grid = tiny_grid()
    grid.segment_seconds, grid.folds, grid.repeats = [2.0], 3, None
    result = run_experiment(grid, tmp_path / "exp", str(tiny_corpus))
    assert [c["cell"] for c in result["cells"]] == ["kfold/cnn-2s/f0", "kfold/cnn-2s/f1", "kfold/cnn-2s/f2"]
    tests = [t for f in range(3) for t in SplitManifest.load(tmp_path / "exp" / "manifests" / f"kfold-f{f}.json")
             .subsets["test"]]
    assert len(tests) == len(set(tests)) == 50  # every track in test exactly once
    summary = json.loads((tmp_path / "exp" / "results.json").read_text())["over_folds_and_repeats"]
    accuracies = [c["test_accuracy"] for c in result["cells"]]
    assert summary[0]["n"] == 3 and summary[0]["segment"]["mean"] == pytest.approx(sum(accuracies) / 3)
    assert summary[0]["segment"]["ci95"] >= 0
    assert "## Over folds x repeats" in (tmp_path / "exp" / "results.md").read_text()


def test_folds_are_refused_with_the_fault_filtered_scheme_and_checked():
    with pytest.raises(GtzanError, match="fault-filtered scheme is a fixed list"):
        load_grid("seed-grid", folds=5)
    with pytest.raises(GtzanError, match="--folds must be in"):
        load_grid("seed-grid", quick=True, folds=1)
    quick = load_grid("seed-grid", quick=True, folds=5, repeats=2)
    assert len(quick.cells()) == 5 * 2 * 9 and quick.cells()[0].key == "kfold/cnn-3s/r0-f0"


def test_run_names_say_model_length_split_and_seed_and_repeats_change_both_seeds():
    quick = load_grid("seed-grid", quick=True, folds=3, repeats=2)
    cell = quick.cells(["resnet18:5"])[3]  # repeat 1, fold 0
    assert quick.run_name(cell) == "resnet18-5s-kfold-r1-f0-seed1"
    config = quick.cell_config(cell, "d", "m", "r")
    assert (config.seed, config.split_seed) == (1, quick.split_seed + 1)
    names = [quick.run_name(c) for c in quick.cells()]
    assert len(set(names)) == len(names)  # no two cells share a run folder
    recipes = load_grid("recipes", quick=True)
    assert recipes.run_name(recipes.cells(["cnn10-logmel:3"])[0]) == "cnn10-logmel-3s-random-seed0"


def test_a_grid_on_a_labelled_catalogue_passes_the_table_to_every_cell(fma_corpus, tmp_path, capsys):
    from gtzan_gpu.cli import main
    from gtzan_gpu.data.catalogue import CorpusSpec

    grid = load_grid("seed-grid", quick=True)
    spec = CorpusSpec(fma_corpus / "fma_small", fma_corpus / "fma_metadata" / "tracks.csv", "small")
    config = grid.cell_config(grid.cells(["cnn:3"])[0], spec, "m", "r")
    assert (config.data, config.labels, config.fma_subset) == (str(spec.data), str(spec.labels), "small")
    assert config.corpus_spec() == spec
    assert main(["experiment", "--quick", "--labels", str(spec.labels), "--out", str(tmp_path / "x")]) == 2
    assert "give --data too" in capsys.readouterr().err


def test_recipes_are_models_with_overrides_and_the_builtin_recipes_grid_checks(tiny_corpus, tmp_path):
    grid = load_grid("recipes")
    assert grid.models == ["seed", "cnn10-logmel", "musicnn-probe", "musicnn-finetune"]
    assert grid.segment_seconds == [2.0]
    assert grid.schemes == ["random"]
    seed = grid.cell_config(grid.cells(["seed:2"])[0], "d", "m", "r")
    assert (seed.model.name, seed.features.frontend, seed.lr, seed.batch_size, seed.optimizer, seed.schedule) == \
        ("cnn", "image", 1e-3, 60, "adam", "constant")  # the seed study's recipe, unchanged
    probe = grid.cell_config(grid.cells(["musicnn-probe:2"])[0], "d", "m", "r")
    assert (probe.model.name, probe.model.weights, probe.model.freeze_backbone, probe.features.frontend) == \
        ("musicnn", "musicnn:MSD_musicnn", True, "musicnn")
    tuned = grid.cell_config(grid.cells(["musicnn-finetune:2"])[0], "d", "m", "r")
    assert (tuned.model.freeze_backbone, tuned.backbone_lr_scale, tuned.model.head) == (False, 0.1, "mlp")
    quick = load_grid("recipes", quick=True)
    assert quick.difficulty == "hard" and quick.schemes == ["random"] and quick.segment_seconds == [3.0]
    config = quick.cell_config(quick.cells(["cnn10-logmel:3"])[0], "d", "m", "r")
    assert (config.model.name, config.features.frontend, config.optimizer, config.schedule, config.batch_size) == \
        ("cnn10", "logmel", "adamw", "cosine", 16)  # the recipe's own options win over [quick]'s
    dropped = load_grid(Path(__file__).parents[2] / "experiments" / "configs" / "dropped-recipes.toml")
    assert dropped.models == ["seed-augmented", "logmel", "cqt", "shortchunk", "cnn10-cqt"]
    tiny = Grid(name="tiny", models=["plain", "mel"], segment_seconds=[2.0], schemes=["random"],
                train=tiny_grid().train, recipes={"plain": {"model": "cnn"},
                                                  "mel": {"model": "cnn", "frontend": "logmel"}})
    result = run_experiment(tiny, tmp_path / "exp", str(tiny_corpus))
    assert [c["cell"] for c in result["cells"]] == ["random/plain-2s", "random/mel-2s"]
    assert result["cells"][1]["recipe"] == {"model": "cnn", "frontend": "logmel"}


def test_a_recipe_with_an_unknown_key_or_no_model_is_refused(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[recipes.x]\nmodel = "cnn"\nfrontends = "logmel"\n')
    with pytest.raises(GtzanError, match=r"unknown \[recipes.x\] key\(s\) frontends"):
        load_grid(bad)
    bad.write_text('[recipes.x]\nfrontend = "logmel"\n')
    with pytest.raises(GtzanError, match=r"\[recipes.x\] needs a model"):
        load_grid(bad)


@pytest.mark.parametrize("text, what", [('name = "../../escape"\nmodels = ["cnn"]\n', "name"),
                                        ('name = "ok"\n[recipes."../up"]\nmodel = "cnn"\n', "recipe name"),
                                        ('name = ".hidden"\nmodels = ["cnn"]\n', "name")])
def test_a_grid_or_recipe_name_is_one_folder_name(tmp_path, text, what):
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    with pytest.raises(GtzanError, match=f"the grid's {what} .* must be one folder name"):
        load_grid(bad)


def test_experiment_segment_seconds_replaces_the_grids_lengths(capsys):
    from gtzan_gpu.cli import main

    grid = load_grid("recipes", segment_seconds=[2.0])
    assert grid.segment_seconds == [2.0] and {c.seconds for c in grid.cells()} == {2.0}
    with pytest.raises(SystemExit) as stopped:
        main(["experiment", "--config", "recipes", "--segment-seconds", "0", "--data", "x"])
    assert stopped.value.code == 2
    assert "argument --segment-seconds: must be in [0.1, 3600]" in capsys.readouterr().err


def test_missing_pretrained_weights_fail_before_any_cell_runs(tmp_path, monkeypatch):
    from gtzan_gpu.errors import GtzanError
    from gtzan_gpu.experiment.runner import run_experiment
    from gtzan_gpu.models.pretrained import registry

    monkeypatch.setattr(registry, "musicnn_package_folder", lambda: None)
    grid = load_grid("recipes")
    with pytest.raises(GtzanError, match=r"cell .*musicnn-probe.*pip install --no-deps musicnn==0\.1\.0"):
        run_experiment(grid, tmp_path / "out", only=["musicnn-probe:2"], device="cpu")
    assert not (tmp_path / "out" / "corpus").exists()  # nothing was synthesised or trained
