"""Hugging Face datasets as DATA: a dataset written by ``datasets`` itself (``save_to_disk``, a DatasetDict, its
Parquet files) is scanned, split and trained on with its label names (issue 33). No network: the tests write
the datasets; the audio column is built as ``{bytes, path}`` structs and cast to ``Audio(decode=False)``."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from gtzan_gpu.cli import main
from gtzan_gpu.data.sources import scan_corpus

datasets = pytest.importorskip("datasets")
datasets.disable_progress_bars()


def audio_rows(corpus: Path) -> tuple[list[dict], list[str], list[str]]:
    files = sorted((corpus / "genres_original").glob("*/*.wav"))
    return ([{"bytes": f.read_bytes(), "path": f.name} for f in files], [f.parent.name for f in files],
            sorted({f.parent.name for f in files}))


def write_dataset(corpus: Path, out: Path, label_name: str = "genre", audio_name: str = "audio",
                  class_label: bool = True) -> Path:
    audio, labels, genres = audio_rows(corpus)
    dataset = datasets.Dataset.from_dict({audio_name: audio,
                                          label_name: [genres.index(g) for g in labels] if class_label else labels})
    if class_label:
        dataset = dataset.cast_column(label_name, datasets.ClassLabel(names=genres))
    dataset.cast_column(audio_name, datasets.Audio(decode=False)).save_to_disk(str(out))
    return out


@pytest.fixture(scope="module")
def saved_dataset(tiny_corpus, tmp_path_factory) -> Path:
    return write_dataset(tiny_corpus, tmp_path_factory.mktemp("hf") / "gtzan")


def test_a_saved_dataset_is_scanned_with_its_classlabel_names_and_the_folders_tracks(tiny_corpus, saved_dataset):
    folder, dataset = scan_corpus(tiny_corpus), scan_corpus(saved_dataset)
    assert dataset.genres == folder.genres
    assert sorted((t.track_id, t.genre, t.frames) for t in dataset.tracks) == \
        sorted((t.track_id, t.genre, t.frames) for t in folder.tracks)
    assert [e.reason for e in dataset.excluded] == ["not a readable audio file (Format not recognised.)"]


def test_a_dataset_is_split_and_trained_on_from_the_command_line(saved_dataset, tmp_path, capsys):
    assert main(["split", str(saved_dataset), "--out", str(tmp_path / "m.json"), "-q"]) == 0
    manifest = json.loads((tmp_path / "m.json").read_text())
    assert manifest["genres"][0] == "blues" and len(manifest["subsets"]["train"]) == 30
    assert main(["train", "--data", str(saved_dataset), "--manifest", str(tmp_path / "m.json"), "--model", "cnn",
                 "--segment-seconds", "2", "--epochs", "1", "--image-size", "32", "--device", "cpu",
                 "--out", str(tmp_path / "run"), "-q"]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "run"), "--json", "-q"]) == 0
    assert json.loads(capsys.readouterr().out)["track"]["count"] == 10  # the manifest's 10 test tracks, scored


def test_string_labels_other_column_names_and_a_datasetdict(tiny_corpus, tmp_path, capsys):
    odd = write_dataset(tiny_corpus, tmp_path / "odd", label_name="style", audio_name="clip", class_label=False)
    assert main(["scan", str(odd)]) == 2
    assert "no label column 'label' (columns: clip, style); name it with --label-column" in capsys.readouterr().err
    corpus = scan_corpus(datasets_spec(odd, "style", "clip"))
    assert corpus.genres[:2] == ["blues", "classical"] and len(corpus.tracks) == 50
    assert main(["scan", str(odd), "--label-column", "nope", "--audio-column", "clip"]) == 2
    assert "--label-column 'nope' is not a column" in capsys.readouterr().err
    audio, labels, genres = audio_rows(tiny_corpus)
    split = {"train": slice(0, 30), "test": slice(30, None)}
    whole = datasets.DatasetDict({name: datasets.Dataset.from_dict({"audio": audio[part], "label": labels[part]})
                                  .cast_column("audio", datasets.Audio(decode=False)) for name, part in split.items()})
    whole.save_to_disk(str(tmp_path / "dict"))
    corpus = scan_corpus(tmp_path / "dict")
    assert {t.split for t in corpus.tracks} == {"train", "test"}
    assert main(["split", str(tmp_path / "dict"), "--scheme", "given", "--out", str(tmp_path / "g.json"), "-q"]) == 2
    # the given split needs a validation part: the one-line refusal names the empty subset
    assert "val" in capsys.readouterr().err


def datasets_spec(path: Path, label: str, audio: str):
    from gtzan_gpu.data.catalogue import CorpusSpec

    return CorpusSpec(path, label_column=label, audio_column=audio)


def test_parquet_files_are_read_like_the_saved_dataset(saved_dataset, tmp_path):
    loaded = datasets.load_from_disk(str(saved_dataset))
    (tmp_path / "pq" / "data").mkdir(parents=True)
    loaded.to_parquet(str(tmp_path / "pq" / "data" / "train-00000-of-00001.parquet"))
    corpus = scan_corpus(tmp_path / "pq")
    assert corpus.genres == scan_corpus(saved_dataset).genres and len(corpus.tracks) == 50
    assert {t.split for t in corpus.tracks} == {"train"}


def test_column_options_on_other_data_and_a_missing_datasets_package_are_one_line(tiny_corpus, saved_dataset,
                                                                                 tmp_path, capsys, monkeypatch):
    assert main(["scan", str(tiny_corpus), "--label-column", "genre"]) == 2
    assert "name columns of a Hugging Face dataset" in capsys.readouterr().err
    assert main(["scan", str(saved_dataset), "--labels", str(tmp_path / "t.csv")]) == 2
    assert "leave out --labels" in capsys.readouterr().err
    from tests.conftest import hide_package

    hide_package(monkeypatch, "datasets")
    assert main(["scan", str(saved_dataset)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "pip install 'gtzan-gpu[formats]'" in err


def test_pack_reads_a_dataset_into_the_same_samples_as_the_folders(tiny_corpus, saved_dataset, tmp_path):
    from gtzan_gpu.data.store import Store
    from gtzan_gpu.data.store_pack import pack_corpus

    pack_corpus(tiny_corpus, tmp_path / "folder", workers=1)
    pack_corpus(saved_dataset, tmp_path / "dataset", workers=1)
    folder, dataset = Store.open(tmp_path / "folder"), Store.open(tmp_path / "dataset")
    assert {t.track_id: t.crc32 for t in dataset.tracks} == {t.track_id: t.crc32 for t in folder.tracks}
