"""A model and a front end from another installed package (entry points) appear everywhere built-in ones do."""
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

PLUGIN = '''
import torch
from torch import nn

from gtzan_gpu.data.corpus import CorpusSource
from gtzan_gpu.features.registry import FrontendSpec
from gtzan_gpu.models.registry import ModelSpec


class Loudness(nn.Module):
    """(B, T) -> (B, 1, S, S): each example's RMS level, broadcast (a toy front end)."""

    def __init__(self, size):
        super().__init__()
        self.size = size

    def forward(self, waveform):
        level = waveform.pow(2).mean(dim=1).sqrt()
        return level.view(-1, 1, 1, 1).expand(-1, 1, self.size, self.size)


class Tiny(nn.Module):
    def __init__(self, classes, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, 4, 3, padding=1)
        self.head = nn.Linear(4, classes)

    def forward(self, image):
        return self.head(self.conv(image).mean(dim=(2, 3)))


LOUDNESS = FrontendSpec("loudness", "RMS level of the segment", Loudness,
                        lambda features, rate, augment: Loudness(features.image_size), 1, "loudness",
                        takes_spec_augment=False)


def tiny():  # an entry point may also be a function returning the spec
    return ModelSpec("tiny", "a one-convolution toy", ("frontend",),
                     lambda classes, features, weights: Tiny(classes, features.channels), lr=1e-3, batch_size=8,
                     frontends=("loudness", "image"), saliency_layer="conv")


BROKEN = 42  # not a spec: reported and skipped


def _open_toy(spec):
    """DATA holding toy.json: the catalogue in its 'inner' folder (a stand-in for a remote or database corpus)."""
    from pathlib import Path

    from gtzan_gpu.data.corpus import scan_folder

    root = Path(spec.data)
    return scan_folder(root / "inner") if (root / "toy.json").is_file() else None


TOY_SOURCE = CorpusSource("toy", "a folder with toy.json", _open_toy)
'''


def make_plugin(root: Path) -> Path:
    (root / "toy_gtzan_plugin").mkdir(parents=True)
    (root / "toy_gtzan_plugin" / "__init__.py").write_text(PLUGIN)
    info = root / "toy_gtzan_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-gtzan-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent("""\
        [gtzan_gpu.models]
        tiny = toy_gtzan_plugin:tiny
        broken = toy_gtzan_plugin:BROKEN
        [gtzan_gpu.frontends]
        loudness = toy_gtzan_plugin:LOUDNESS
        [gtzan_gpu.corpus_sources]
        toy = toy_gtzan_plugin:TOY_SOURCE
        """))
    return root


def run(root: Path, *argv: str, code: str | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "gtzan_gpu", *argv]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env={
        **__import__("os").environ, "PYTHONPATH": str(root)})


def test_a_plugin_model_and_front_end_are_choices_and_reach_doctor_and_bench(tmp_path):
    root = make_plugin(tmp_path / "site")
    help_text = run(root, "train", "--help")
    assert help_text.returncode == 0
    assert "tiny" in help_text.stdout and "{image,logmel,cqt,musicnn,panns,loudness}" in help_text.stdout
    assert "plugin broken (gtzan_gpu.models) skipped: toy_gtzan_plugin:BROKEN is a int, not a ModelSpec" \
        in help_text.stderr
    probe = run(root, code=textwrap.dedent("""\
        import json, torch
        from gtzan_gpu.plugins import load_all
        load_all()
        from gtzan_gpu.bench.features import feature_methods
        from gtzan_gpu.bench.roofline import frontend_work
        from gtzan_gpu.config import FeatureConfig, ModelConfig
        from gtzan_gpu.doctor.checks import _layers
        from gtzan_gpu.models import MODELS, build_classifier
        model = build_classifier(ModelConfig("tiny"), FeatureConfig(frontend="loudness", image_size=16), 3)
        print(json.dumps({"doctor_layers": list(_layers()), "models": list(MODELS),
                          "bench_rows": list(feature_methods(22050)),
                          "roofline_rows": {k: v for k, v in frontend_work(1.0).items() if k == "loudness"},
                          "logits": list(model.eval()(torch.randn(2, 22050)).shape),
                          "built_in_on_plugin": {name: list(build_classifier(ModelConfig(name, "none"),
                              FeatureConfig(frontend="loudness", image_size=32), 3).eval()(torch.randn(2, 22050)).shape)
                              for name in ("cnn", "resnet18")}}))
        """))
    assert probe.returncode == 0, probe.stderr[-2000:]
    facts = json.loads(probe.stdout)
    assert "loudness" in facts["doctor_layers"] and "loudness" in facts["bench_rows"]
    assert facts["roofline_rows"] == {"loudness": None}  # a roofline row, shown without a bound (no work declared)
    assert "tiny" in facts["models"] and facts["logits"] == [2, 3]  # doctor's training check iterates MODELS
    # issue 32: the seed's CNN and ResNet18 take a plugin front end whose output fits them (a square image)
    assert facts["built_in_on_plugin"] == {"cnn": [2, 3], "resnet18": [2, 3]}


@pytest.mark.parametrize("name", ["../../../x", "a/b", ".hidden", "", "x" * 65, "sp ace"])
def test_a_registry_name_that_could_leave_its_folder_is_refused(name):
    """Issue 31, defect 19: a plugin model named ../../../x made train without --out write outside runs/."""
    from gtzan_gpu.data.corpus import CorpusSource
    from gtzan_gpu.errors import GtzanError
    from gtzan_gpu.features.registry import FrontendSpec, register_frontend
    from gtzan_gpu.models.registry import ModelSpec, register_model

    with pytest.raises(GtzanError, match="model name .* is not allowed"):
        register_model(ModelSpec(name, "x", ("frontend",), lambda *a: None, 1e-3, 8))
    with pytest.raises(GtzanError, match="front end name .* is not allowed"):
        register_frontend(FrontendSpec(name, "x", torch.nn.Identity, lambda *a: None, 1, "x"))
    with pytest.raises(GtzanError, match="corpus source name .* is not allowed"):
        CorpusSource(name, "x", lambda spec: None)


def test_a_plugin_that_exits_or_fails_when_built_never_stops_other_commands(tiny_corpus, tmp_path):
    """Issue 31, defect 12: sys.exit() or KeyboardInterrupt at a plugin's import ended every command (exit 3, no
    message); a builder that raised printed a traceback."""
    root = tmp_path / "site"
    for name, body in (("exiting_plugin", "import sys\nsys.exit(3)\n"),
                       ("interrupting_plugin", "raise KeyboardInterrupt\n"),
                       ("failing_plugin", textwrap.dedent("""\
                           from gtzan_gpu.models.registry import ModelSpec
                           def _build(classes, features, weights):
                               raise RuntimeError("no GPU kernels for this toy")
                           FAILS = ModelSpec("fails", "builds nothing", ("frontend",), _build, 1e-3, 8)
                           """))):
        (root / name).mkdir(parents=True)
        (root / name / "__init__.py").write_text(body)
    info = root / "bad_plugins-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: bad-plugins\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[gtzan_gpu.models]\nexits = exiting_plugin:X\n"
                                           "interrupts = interrupting_plugin:X\nfails = failing_plugin:FAILS\n")
    help_text = run(root, "train", "--help")
    assert help_text.returncode == 0 and "fails" in help_text.stdout
    assert "plugin exits (gtzan_gpu.models) skipped: 3" in help_text.stderr
    assert "plugin interrupts (gtzan_gpu.models) skipped: KeyboardInterrupt" in help_text.stderr
    used = run(root, "train", "--data", str(tiny_corpus), "--model", "fails", "--out", str(tmp_path / "run"),
               "--segment-seconds", "2", "--epochs", "1", "--stft-backend", "torch", "--image-size", "32")
    assert used.returncode == 2 and "Traceback" not in used.stderr
    assert "building --model fails failed: RuntimeError: no GPU kernels for this toy" in used.stderr


def test_a_plugin_corpus_source_opens_its_kind_of_data_for_every_command(tiny_corpus, tmp_path):
    """Issue 32: corpus sources are open to plugins (``gtzan_gpu.corpus_sources``), asked after the built-in ones."""
    import shutil

    root = make_plugin(tmp_path / "site")
    data = tmp_path / "toy-data"
    shutil.copytree(tiny_corpus, data / "inner")
    without_marker = run(root, "scan", str(data), "--json")
    assert without_marker.returncode == 2  # not the toy's kind: the catalogue fallback finds no genre folders
    (data / "toy.json").write_text("{}")
    scanned = run(root, "scan", str(data), "--json")
    assert scanned.returncode == 0, scanned.stderr
    assert json.loads(scanned.stdout)["root"] == str(data / "inner" / "genres_original")


def test_the_built_in_corpus_sources_are_registered_in_one_place_and_names_are_unique():
    from gtzan_gpu.data.corpus import CorpusSource
    from gtzan_gpu.data.sources import CORPUS_SOURCES, register_corpus_source
    from gtzan_gpu.errors import GtzanError

    assert list(CORPUS_SOURCES)[:1] == ["store"]
    with pytest.raises(GtzanError, match="already registered"):
        register_corpus_source(CorpusSource("store", "again", lambda spec: None))
    with pytest.raises(GtzanError, match="must be a CorpusSource"):
        register_corpus_source(lambda spec: None)
