import shutil

import pytest

from gtzan_gpu.data.sources import scan_corpus
from gtzan_gpu.data.layout import find_genre_root
from gtzan_gpu.errors import GtzanError
from tests.conftest import TINY_TRACKS_PER_GENRE, write_tone


def test_scan_of_the_synthetic_kaggle_layout(tiny_corpus):
    corpus = scan_corpus(tiny_corpus)
    assert corpus.root == tiny_corpus / "genres_original"
    assert len(corpus.genres) == 10 and corpus.genres == sorted(corpus.genres)
    assert len(corpus.tracks) == 10 * TINY_TRACKS_PER_GENRE
    assert [e.path for e in corpus.excluded] == ["jazz/jazz.00054.wav"]
    assert "jazz.00054" not in corpus.tracks_by_id()
    summary = corpus.summary()
    assert summary["per_genre"]["blues"] == {"tracks": TINY_TRACKS_PER_GENRE, "seconds": 6.0 * TINY_TRACKS_PER_GENRE}
    assert summary["sample_rates"] == {"22050": 50} and summary["channels"] == {"1": 50}


@pytest.mark.parametrize("layout", ["genres_original", "Data/genres_original", "genres", "."])
def test_every_accepted_layout_is_found(tmp_path, layout):
    parent = tmp_path if layout == "." else tmp_path / layout
    for genre in ("rock", "pop"):
        write_tone(parent / genre / f"{genre}.00000.au", 0.2, 22050, fmt="AU", subtype="PCM_16")
    assert find_genre_root(tmp_path) == parent
    assert scan_corpus(tmp_path).genres == ["pop", "rock"]


def test_any_folder_per_label_corpus_of_soundfile_formats(tmp_path):
    write_tone(tmp_path / "speech" / "a.flac", 0.3, 16000)
    write_tone(tmp_path / "speech" / "b.ogg", 0.3, 16000, fmt="OGG", subtype="VORBIS")
    write_tone(tmp_path / "music" / "c.wav", 0.3, 44100, channels=2)
    (tmp_path / "music" / "notes.txt").write_text("ignored: not an audio extension")
    corpus = scan_corpus(tmp_path)
    assert corpus.genres == ["music", "speech"]
    assert sorted(t.track_id for t in corpus.tracks) == ["a", "b", "c"]
    assert {t.track_id: t.channels for t in corpus.tracks}["c"] == 2


def test_hand_damaged_corpus_lists_each_bad_file_with_its_reason(corpus_copy):
    genres = corpus_copy / "genres_original"
    (genres / "rock" / "rock.00001.wav").write_bytes(b"")
    truncated = genres / "pop" / "pop.00002.wav"
    truncated.write_bytes(truncated.read_bytes()[:5000])
    (genres / "metal" / "metal.00003.wav").write_text("just text with a .wav name\n")
    corpus = scan_corpus(corpus_copy)
    reasons = {e.path: e.reason for e in corpus.excluded}
    assert reasons["rock/rock.00001.wav"] == "empty file"
    assert reasons["pop/pop.00002.wav"].startswith("truncated")
    assert reasons["metal/metal.00003.wav"].startswith("not a readable audio file")
    assert reasons["jazz/jazz.00054.wav"].startswith("not a readable audio file")
    assert len(corpus.tracks) == 10 * TINY_TRACKS_PER_GENRE - 3


def test_duplicate_track_ids_keep_the_first_and_report_the_second(corpus_copy):
    genres = corpus_copy / "genres_original"
    shutil.copy(genres / "rock" / "rock.00000.wav", genres / "pop" / "rock.00000.wav")
    corpus = scan_corpus(corpus_copy)
    assert any("duplicate track id 'rock.00000'" in e.reason for e in corpus.excluded)
    assert [t.genre for t in corpus.tracks if t.track_id == "rock.00000"] == ["pop"]


@pytest.mark.parametrize("make", ["missing", "file", "empty"])
def test_unusable_data_paths_are_one_line_errors(tmp_path, make):
    data = tmp_path / "data"
    if make == "file":
        data.write_text("x")
    elif make == "empty":
        data.mkdir()
    with pytest.raises(GtzanError, match=str(data)):
        scan_corpus(data)


def test_symlinks_that_lead_nowhere_are_listed_not_skipped_silently(corpus_copy):
    import os

    root = corpus_copy / "genres_original"
    os.symlink("loop.wav", root / "rock" / "loop.wav")          # a loop
    os.symlink("gone.wav", root / "pop" / "dangling.wav")       # broken
    os.symlink("self", root / "self")                           # a genre-level loop
    excluded = {e.path: e.reason for e in scan_corpus(corpus_copy).excluded}
    for path in ("rock/loop.wav", "pop/dangling.wav", "self"):
        assert "leads nowhere" in excluded[path]
