"""The pretrained-weights registry, as torchvision's ``Weights``: each entry says what the weights are (architecture,
front end and its sample rate, label vocabulary, licence, source) and how to read them from disk.

``--weights`` names an entry (``musicnn:MTT_musicnn``), or a scheme with a path: ``musicnn:FOLDER`` (a musicnn-layout
TensorFlow checkpoint folder of one's own) or ``panns:FILE`` (a PANNs CNN10 / CNN14 checkpoint the user brings; its
``architecture`` is the family ``panns``, the blocks it holds say which). Nothing is downloaded: weights that are not on disk are a one-line error
naming the install command or the missing path, never a silent random initialisation.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from gtzan_gpu.errors import GtzanError
from gtzan_gpu.models.pretrained.tf_checkpoint import read_checkpoint

MUSICNN_INSTALL = "pip install --no-deps musicnn==0.1.0"
MUSICNN_LICENCE = "ISC (musicnn 0.1.0, Pons & Serra 2019)"

MTT_TAGS = ("guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast", "piano",
            "ambient", "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male", "singing", "vocals",
            "no vocals", "harpsichord", "loud", "quiet", "flute", "woman", "male vocal", "no vocal", "pop", "soft",
            "sitar", "solo", "man", "classic", "choir", "voice", "new age", "dance", "male voice", "female vocal",
            "beats", "harp", "cello", "no voice", "weird", "country", "metal", "female voice", "choral")
MSD_TAGS = ("rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s",
            "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists", "classic rock", "soul",
            "indie rock", "Mellow", "electronica", "80s", "folk", "90s", "chill", "instrumental", "punk", "oldies",
            "blues", "hard rock", "ambient", "acoustic", "experimental", "female vocalist", "guitar", "Hip-Hop",
            "70s", "party", "country", "easy listening", "sexy", "catchy", "funk", "electro", "heavy metal",
            "Progressive rock", "60s", "rnb", "indie pop", "sad", "House", "happy")


@dataclass(frozen=True)
class PretrainedWeights:
    """One set of pretrained weights.

    Attributes:
        name: the ``--weights`` value.
        architecture: the encoder it fits (a model registry name).
        frontend: the front end it was trained on (a front-end registry name).
        sample_rate: the rate that front end works at (audio is resampled to it on the device).
        labels: the pretraining vocabulary (tags), in output order.
        licence, source: where the weights come from and under which terms.
        locate: ``() -> path`` of the checkpoint, or a GtzanError naming the install command / missing path.
        read: ``path -> state_dict`` of the encoder (our parameter names).
    """

    name: str
    architecture: str
    frontend: str
    sample_rate: int
    labels: tuple[str, ...]
    licence: str
    source: str
    locate: Callable[[], Path]
    read: Callable[[Path], dict[str, torch.Tensor]]

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The encoder's state_dict, read from disk (raises GtzanError naming what is missing)."""
        return self.read(self.locate())

    def check_available(self) -> Path:
        """Cheap: the checkpoint exists (run before slow work)."""
        return self.locate()

    def describe(self) -> str:
        return f"{self.name} ({self.source}; {self.licence})"


def musicnn_package_folder() -> Path | None:
    """The installed musicnn wheel's folder, found without importing it (its modules import TensorFlow)."""
    spec = importlib.util.find_spec("musicnn")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _musicnn_locator(checkpoint: str) -> Callable[[], Path]:
    def locate() -> Path:
        package = musicnn_package_folder()
        if package is None:
            raise GtzanError(f"--weights musicnn:{checkpoint} needs the musicnn wheel's checkpoints: run "
                             f"'{MUSICNN_INSTALL}' (never imported; --no-deps keeps TensorFlow out), or pass "
                             f"--weights musicnn:/path/to/{checkpoint}")
        folder = package / checkpoint
        if not (folder / ".index").is_file():
            raise GtzanError(f"--weights musicnn:{checkpoint}: no checkpoint in {folder} (reinstall with "
                             f"'{MUSICNN_INSTALL}')")
        return folder
    return locate


def _folder_locator(folder: Path) -> Callable[[], Path]:
    def locate() -> Path:
        if not folder.exists():
            raise GtzanError(f"--weights musicnn:{folder}: folder not found")
        if not folder.is_dir() or not any(folder.glob("*.index")):
            raise GtzanError(f"--weights musicnn:{folder}: not a TensorFlow checkpoint folder (no .index file)")
        return folder
    return locate


def _read_musicnn(folder: Path) -> dict[str, torch.Tensor]:
    from gtzan_gpu.models.pretrained.musicnn import state_dict_from_tf, tf_variable_names

    return state_dict_from_tf(read_checkpoint(folder, sorted(set(tf_variable_names().values()))))


def _musicnn(checkpoint: str, labels: tuple[str, ...], dataset: str) -> PretrainedWeights:
    return PretrainedWeights(f"musicnn:{checkpoint}", "musicnn", "musicnn", 16000, labels, MUSICNN_LICENCE,
                             f"MusiCNN trained on {dataset} (musicnn wheel, {checkpoint})",
                             _musicnn_locator(checkpoint), _read_musicnn)


def _file_locator(scheme: str, path: Path) -> Callable[[], Path]:
    def locate() -> Path:
        if not path.exists():
            raise GtzanError(f"--weights {scheme}:{path}: file not found")
        if not path.is_file():
            raise GtzanError(f"--weights {scheme}:{path}: not a file")
        return path
    return locate


def _read_panns(path: Path) -> dict[str, torch.Tensor]:
    from gtzan_gpu.models.pretrained.panns import panns_state_dict

    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)  # tensors and plain data, never code
    except Exception as error:
        first = (str(error).strip().splitlines() or [""])[0][:120]
        raise GtzanError(f"cannot read PANNs checkpoint {path} ({type(error).__name__}: {first})") from None
    return panns_state_dict(checkpoint, str(path))


def _panns(path: Path) -> PretrainedWeights:
    return PretrainedWeights(f"panns:{path}", "panns", "panns", 32000, (), "as its owner's (PANNs: MIT code, "
                             "AudioSet-trained weights)", f"PANNs checkpoint {path} (Kong et al. 2020)",
                             _file_locator("panns", path), _read_panns)


WEIGHTS: dict[str, PretrainedWeights] = {w.name: w for w in (
    _musicnn("MTT_musicnn", MTT_TAGS, "MagnaTagATune"),
    _musicnn("MSD_musicnn", MSD_TAGS, "the Million Song Dataset"),
)}
SCHEMES = ("musicnn", "panns")  # "scheme:PATH" forms besides the named entries


def register_weights(weights: PretrainedWeights) -> PretrainedWeights:
    """Add an entry (a name may be registered once); plugins call this at import."""
    if weights.name in WEIGHTS:
        raise GtzanError(f"weights {weights.name!r} are already registered")
    WEIGHTS[weights.name] = weights
    return weights


def is_pretrained_name(text: str) -> bool:
    """Whether ``--weights text`` names this registry (an entry or a ``scheme:PATH``) rather than a file."""
    return text in WEIGHTS or text.split(":", 1)[0] in SCHEMES and ":" in text


def get_weights(text: str) -> PretrainedWeights:
    """The entry ``--weights text`` means: a registered name or ``musicnn:FOLDER``."""
    if text in WEIGHTS:
        return WEIGHTS[text]
    scheme, _, rest = text.partition(":")
    if scheme == "musicnn" and rest:
        folder = Path(rest)
        if "/" not in rest and not folder.exists():
            names = ", ".join(name for name in WEIGHTS if name.startswith("musicnn:"))
            raise GtzanError(f"unknown --weights {text} (choose from {names}, or musicnn:FOLDER)")
        labels = MSD_TAGS if folder.name.startswith("MSD") else MTT_TAGS
        return PretrainedWeights(text, "musicnn", "musicnn", 16000, labels, "as its owner's",
                                 f"MusiCNN checkpoint folder {folder}", _folder_locator(folder), _read_musicnn)
    if scheme == "panns" and rest:
        return _panns(Path(rest))
    raise GtzanError(f"unknown --weights {text} (choose from {', '.join(WEIGHTS)}, musicnn:FOLDER or panns:FILE)")


def absolute_weights(text: str) -> str:
    """``--weights`` with its path made absolute (a FILE, or the folder of ``musicnn:FOLDER``); names unchanged."""
    if text in WEIGHTS:
        return text
    scheme, _, rest = text.partition(":")
    if scheme in SCHEMES and rest and ("/" in rest or Path(rest).exists()):
        return f"{scheme}:{Path(rest).resolve()}"
    return text if is_pretrained_name(text) else str(Path(text).resolve())


def weights_names() -> tuple[str, ...]:
    return tuple(WEIGHTS)
