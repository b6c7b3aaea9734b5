"""Label tables: FMA's tracks.csv (subsets, top genre, artists, official split) and plain CSV / TSV catalogues."""
import csv
import json

import pytest

from gtzan_gpu.cli import main
from gtzan_gpu.data.catalogue import CorpusSpec
from gtzan_gpu.data.sources import scan_corpus
from gtzan_gpu.data.label_table import read_label_table
from gtzan_gpu.data.splits import kfold_split, make_split
from gtzan_gpu.data.store import Store
from gtzan_gpu.data.store_pack import pack_corpus
from gtzan_gpu.data.synth_fma import FMA_SMALL_GENRES, MEDIUM_ONLY_GENRE
from gtzan_gpu.errors import GtzanError
from tests.conftest import write_tone

EMPTY_MP3 = "000011"  # the first genre's last track of the fixture (6 per genre), written empty on purpose


def fma_spec(fma_corpus, subset="small"):
    return CorpusSpec(fma_corpus / "fma_small", fma_corpus / "fma_metadata" / "tracks.csv", subset)


def tracks_csv_rows(fma_corpus):
    """tracks.csv read independently of the project: (track id, subset, split, genre_top, artist id) per row."""
    with open(fma_corpus / "fma_metadata" / "tracks.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    column = {(group, field): i for i, (group, field) in enumerate(zip(rows[0], rows[1]))}
    return [{"id": f"{int(row[0]):06d}", "subset": row[column["set", "subset"]], "split": row[column["set", "split"]],
             "genre": row[column["track", "genre_top"]], "artist": row[column["artist", "id"]]} for row in rows[3:]]


def test_fma_small_has_its_8_genres_and_excludes_the_empty_mp3(fma_corpus):
    corpus = scan_corpus(fma_spec(fma_corpus))
    assert corpus.genres == sorted(FMA_SMALL_GENRES) and "Hip-Hop" in corpus.genres
    assert [(e.path, e.reason) for e in corpus.excluded] == [(f"000/{EMPTY_MP3}.mp3", "empty file")]
    small = [r for r in tracks_csv_rows(fma_corpus) if r["subset"] == "small"]
    assert sorted(t.track_id for t in corpus.tracks) == sorted(r["id"] for r in small if r["id"] != EMPTY_MP3)
    assert corpus.left_out == {"rows of a bigger FMA subset": 13}
    assert {t.artist for t in corpus.tracks} == {r["artist"] for r in small}
    summary = corpus.summary()
    assert summary["artists"] == 24 and summary["labels"]["fma_subset"] == "small"


def test_rows_of_the_medium_subset_are_not_used_with_small(fma_corpus):
    rows = tracks_csv_rows(fma_corpus)
    medium = {r["id"] for r in rows if r["subset"] == "medium"}
    small = scan_corpus(fma_spec(fma_corpus))
    assert medium and not medium & {t.track_id for t in small.tracks}
    assert not medium & {e.path.split("/")[1][:6] for e in small.excluded}
    bigger = read_label_table(fma_corpus / "fma_small", fma_corpus / "fma_metadata" / "tracks.csv", "medium")
    missing = [e for e in bigger.excluded if "file not found" in e.reason]
    assert {e.path.split("/")[1][:6] for e in missing} == medium  # listed, their audio is not in fma_small
    assert bigger.left_out == {"rows of a bigger FMA subset": 3}
    everything = read_label_table(fma_corpus / "fma_small", fma_corpus / "fma_metadata" / "tracks.csv", "large")
    assert everything.left_out == {"rows without a top genre": 3}
    assert MEDIUM_ONLY_GENRE not in everything.genres  # a label with no file is no class


def test_given_split_reproduces_fma_test_rows_exactly(fma_corpus, tmp_path, capsys):
    table = fma_corpus / "fma_metadata" / "tracks.csv"
    assert main(["-q", "split", str(fma_corpus / "fma_small"), "--labels", str(table), "--fma-subset", "small",
                 "--scheme", "given", "--out", str(tmp_path / "given.json")]) == 0
    manifest = json.loads((tmp_path / "given.json").read_text())
    rows = [r for r in tracks_csv_rows(fma_corpus) if r["subset"] == "small" and r["id"] != EMPTY_MP3]
    for fma_name, ours in (("test", "test"), ("validation", "val"), ("training", "train")):
        assert manifest["subsets"][ours] == sorted(r["id"] for r in rows if r["split"] == fma_name)
    assert manifest["scheme"] == "given" and len(manifest["genres"]) == 8
    assert main(["-q", "split", str(fma_corpus / "fma_small"), "--labels", str(table), "--fma-subset", "small",
                 "--scheme", "given", "--out", str(tmp_path / "again.json")]) == 0
    assert (tmp_path / "again.json").read_bytes() == (tmp_path / "given.json").read_bytes()


def artists_by_subset(manifest, corpus):
    artist_of = {t.track_id: t.artist for t in corpus.tracks}
    return {name: {artist_of[i] for i in ids} for name, ids in manifest.subsets.items()}


def test_artist_split_puts_no_artist_on_two_sides(fma_corpus):
    corpus = scan_corpus(fma_spec(fma_corpus))
    for seed in (0, 1, 2):
        manifest = make_split(corpus, "artist", seed)
        sides = artists_by_subset(manifest, corpus)
        assert not sides["train"] & sides["val"] and not sides["train"] & sides["test"]
        assert not sides["val"] & sides["test"]
        assert sorted(sum(manifest.subsets.values(), [])) == sorted(t.track_id for t in corpus.tracks)
        genre_of = {t.track_id: t.genre for t in corpus.tracks}
        assert {genre_of[i] for i in manifest.subsets["test"]} == set(corpus.genres)  # each label tested
    assert make_split(corpus, "artist", 5).to_json() == make_split(corpus, "artist", 5).to_json()
    assert make_split(corpus, "artist", 5).to_json() != make_split(corpus, "artist", 6).to_json()


def test_kfold_groups_by_artist_when_artists_are_known(fma_corpus):
    corpus = scan_corpus(fma_spec(fma_corpus))
    tested = []
    for fold in range(3):
        manifest = kfold_split(corpus, 3, fold, seed=1)
        sides = artists_by_subset(manifest, corpus)
        assert not sides["test"] & (sides["train"] | sides["val"]) and not sides["train"] & sides["val"]
        assert manifest.grouped_by == "artist" and '"grouped_by": "artist"' in manifest.to_json()
        tested += manifest.subsets["test"]
    assert sorted(tested) == sorted(t.track_id for t in corpus.tracks)  # every track in test exactly once


def test_given_and_artist_schemes_need_their_columns(tiny_corpus):
    corpus = scan_corpus(tiny_corpus)
    with pytest.raises(GtzanError, match="needs a split column"):
        make_split(corpus, "given")
    with pytest.raises(GtzanError, match="needs artists"):
        make_split(corpus, "artist")


def write_catalogue(tmp_path, delimiter=","):
    """Audio in no genre folders; a table naming path (relative and absolute), label, split and artist."""
    data = tmp_path / "audio"
    outside = tmp_path / "elsewhere" / "x.flac"
    for i in range(4):
        write_tone(data / "mix" / f"a{i}.wav", 1.0, 22050, frequency=220 + 50 * i)
        write_tone(data / "other" / f"a{i}.wav", 1.0, 22050, frequency=660 + 50 * i)
    write_tone(outside, 1.0, 22050)
    rows = [["Path", "Label", "Split", "Artist"]]
    rows += [[f"mix/a{i}.wav", "Old-Time / Historic", "training" if i < 2 else "test", f"ann{i // 2}"]
             for i in range(4)]
    rows += [[f"other/a{i}.wav", "Hip-Hop", "train" if i < 2 else "val", f"bob{i // 2}"] for i in range(4)]
    rows += [[str(outside), "Hip-Hop", "", ""], ["missing.wav", "Hip-Hop", "test", "cy"], ["mix/a0.wav", "", "", ""]]
    table = tmp_path / ("labels.tsv" if delimiter == "\t" else "labels.csv")
    with open(table, "w", newline="") as handle:
        csv.writer(handle, delimiter=delimiter).writerows(rows)
    return data, table


@pytest.mark.parametrize("delimiter", [",", "\t"])
def test_a_plain_table_labels_files_anywhere(tmp_path, delimiter):
    data, table = write_catalogue(tmp_path, delimiter)
    corpus = scan_corpus(data, labels=table)
    assert corpus.genres == ["Hip-Hop", "Old-Time / Historic"]
    assert len(corpus.tracks) == 9 and corpus.label_table["format"] == ("tsv" if delimiter == "\t" else "csv")
    by_id = corpus.tracks_by_id()
    assert by_id["mix/a0"].genre == "Old-Time / Historic" and by_id["mix/a0"].artist == "ann0"
    assert by_id["other/a3"].split == "val" and by_id["mix/a3"].split == "test"
    assert any(t.path.endswith("elsewhere/x.flac") and t.split is None for t in corpus.tracks)
    assert [(e.path, e.reason) for e in corpus.excluded] == [
        ("missing.wav", "file not found (listed on line 11 of the label table)")]
    assert corpus.left_out == {"rows without a label": 1}
    given = make_split(corpus, "given")
    assert given.subsets["test"] == ["mix/a2", "mix/a3"] and len(given.not_used) == 1


def test_bad_tables_are_one_line_errors_naming_the_table(tmp_path):
    data, _ = write_catalogue(tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text("file,genre\nmix/a0.wav,x\n")
    with pytest.raises(GtzanError, match="bad.csv: the header row has no path or label column"):
        read_label_table(data, bad)
    bad.write_text("path,label,split\nmix/a0.wav,x,holdout\n")
    with pytest.raises(GtzanError, match="bad.csv line 2: split 'holdout'"):
        read_label_table(data, bad)
    with pytest.raises(GtzanError, match="no such file"):
        read_label_table(data, tmp_path / "nope.csv")
    with pytest.raises(GtzanError, match="is for FMA's tracks.csv"):
        read_label_table(data, tmp_path / "labels.csv", "small")
    with pytest.raises(GtzanError, match="give it with --labels"):
        CorpusSpec(data, None, "small")


def test_table_errors_name_the_line_a_row_ends_on_and_unreadable_text_is_one_line(tmp_path):
    data, _ = write_catalogue(tmp_path)
    table = tmp_path / "quoted.csv"
    table.write_text('path,label,note\nmix/a0.wav,x,"a note\nover two lines"\nmix/a1.wav,\x01bad,\n')
    with pytest.raises(GtzanError, match="quoted.csv line 4: label"):  # the row after the two-line field
        read_label_table(data, table)
    table.write_bytes(b"path,label\nmix/a0.wav,\xff\xfe\n")
    with pytest.raises(GtzanError, match="quoted.csv.*UTF-8 text"):
        read_label_table(data, table)


def test_cli_refuses_fma_table_without_subset_and_labels_on_a_store(fma_corpus, tmp_path, capsys):
    table = str(fma_corpus / "fma_metadata" / "tracks.csv")
    assert main(["scan", str(fma_corpus / "fma_small"), "--labels", table]) == 2
    assert "choose its rows with --fma-subset" in capsys.readouterr().err
    assert main(["scan", str(fma_corpus / "fma_small"), "--fma-subset", "small"]) == 2
    assert "give it with --labels" in capsys.readouterr().err
    store = tmp_path / "store"
    assert main(["-q", "pack", str(fma_corpus / "fma_small"), "--labels", table, "--fma-subset", "small",
                 "--out", str(store), "--workers", "1"]) == 0
    assert main(["scan", str(store), "--labels", table]) == 2
    assert "keeps the labels it was packed with" in capsys.readouterr().err


def test_a_store_packed_from_a_table_keeps_labels_artists_and_split(tmp_path):
    data, table = write_catalogue(tmp_path)
    store = tmp_path / "store"
    pack_corpus(CorpusSpec(data, table), store)
    scanned, packed = scan_corpus(data, labels=table), scan_corpus(store)
    assert [(t.track_id, t.genre, t.artist, t.split) for t in packed.tracks] == \
        [(t.track_id, t.genre, t.artist, t.split) for t in scanned.tracks]
    assert packed.excluded == scanned.excluded and packed.left_out == scanned.left_out
    for scheme in ("given", "artist"):
        assert make_split(packed, scheme, 3).to_json() == make_split(scanned, scheme, 3).to_json()
    table.write_text(table.read_text().replace("Hip-Hop", "Rap"))  # relabelled: nothing decoded again
    done = pack_corpus(CorpusSpec(data, table), store)
    assert done["packed"] == 0 and done["changed"]
    assert Store.open(store).genres == ["Old-Time / Historic", "Rap"]


def test_an_unclosed_quote_names_the_line_where_it_opens(tiny_corpus, tmp_path):
    """Issue 31, defect 4: the lenient reader swallowed 31 of 50 rows into one field and said '1 row without a
    label'."""
    rows = [f"genres_original/blues/blues.{i:05d}.wav,blues\n" for i in range(5)]
    rows[2] = 'genres_original/blues/blues.00002.wav,"blues\n'
    table = tmp_path / "t.csv"
    table.write_text("path,label\n" + "".join(rows))
    with pytest.raises(GtzanError, match=r"line 4: a quoted field opens in this row and never closes"):
        read_label_table(tiny_corpus, table)


def test_a_non_utf8_byte_is_named_by_its_own_line(tiny_corpus, tmp_path):
    """Issue 31, defect 17: the decoder reads ahead of the CSV reader, so its line was early (1166 for 1502)."""
    lines = [b"path,label\n"] + [f"genres_original/blues/blues.{i % 5:05d}.wav,blues\n".encode()
                                  for i in range(3000)]
    lines[1502 - 1] = b"genres_original/blues/blues.00001.wav,bl\xffues\n"
    table = tmp_path / "t.csv"
    table.write_bytes(b"".join(lines))
    with pytest.raises(GtzanError, match=r"line 1502: not UTF-8 text"):
        read_label_table(tiny_corpus, table)


def test_an_fma_table_missing_a_column_says_which(fma_corpus, tmp_path):
    """Issue 31, defect 17: a tracks.csv without set.split was taken for a plain table."""
    with open(fma_corpus / "fma_metadata" / "tracks.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    drop = next(i for i, (group, name) in enumerate(zip(rows[0], rows[1])) if (group, name) == ("set", "split"))
    table = tmp_path / "tracks.csv"
    with open(table, "w", newline="") as handle:
        csv.writer(handle).writerows([row[:drop] + row[drop + 1:] for row in rows])
    with pytest.raises(GtzanError, match=r"FMA's tracks.csv without column\(s\) set.split"):
        read_label_table(fma_corpus / "fma_small", table, "small")


def test_a_table_with_a_header_and_no_rows_is_refused_like_an_empty_folder(tiny_corpus, tmp_path, capsys):
    """Issue 31, defect 18: scan exited 0 with 0 tracks and pack wrote an empty store."""
    table = tmp_path / "t.csv"
    table.write_text("path,label\n")
    for command in (["scan", str(tiny_corpus)], ["pack", str(tiny_corpus), "--out", str(tmp_path / "store")]):
        assert main([*command, "--labels", str(table)]) == 2
        assert "lists no tracks" in capsys.readouterr().err
    assert not (tmp_path / "store").exists()


def test_a_file_listed_twice_is_excluded_with_all_its_rows_in_scan_pack_and_split(tiny_corpus, tmp_path, capsys):
    """Issue 31, defect 2: pack gave both rows the last row's id and label; blues/../blues/x.wav counted twice."""
    table = tmp_path / "t.csv"
    rows = ["path,label,id", "genres_original/blues/blues.00000.wav,blues,a",
            "genres_original/blues/blues.00000.wav,rock,b",
            "genres_original/blues/../blues/blues.00001.wav,blues,c", "genres_original/blues/blues.00001.wav,blues,d"]
    rows += [f"genres_original/{g}/{g}.0000{i}.wav,{g},{g}{i}" for g in ("blues", "rock") for i in (2, 3, 4)]
    table.write_text("\n".join(rows) + "\n")
    corpus = scan_corpus(CorpusSpec(tiny_corpus, table))
    assert sorted(t.track_id for t in corpus.tracks) == ["blues2", "blues3", "blues4", "rock2", "rock3", "rock4"]
    reasons = [e.reason for e in corpus.excluded]
    assert reasons == ["listed 2 times (lines 2, 3 of the label table)",
                       "listed 2 times (lines 4, 5 of the label table)"]
    store = tmp_path / "store"
    pack_corpus(CorpusSpec(tiny_corpus, table), store, workers=1)
    assert sorted(t.track_id for t in scan_corpus(store).tracks) == sorted(t.track_id for t in corpus.tracks)


def test_a_given_split_with_a_label_only_in_test_is_refused(tiny_corpus, tmp_path, capsys):
    """Issue 31, defect 8: --scheme given trained with a label that had test rows only, without a word."""
    rows = ["path,label,split"]
    for genre in ("blues", "rock", "pop"):
        for i in range(5):
            split = "test" if genre == "pop" or i == 4 else "val" if i == 3 else "train"
            rows.append(f"genres_original/{genre}/{genre}.0000{i}.wav,{genre},{split}")
    table = tmp_path / "t.csv"
    table.write_text("\n".join(rows) + "\n")
    run = tmp_path / "run"
    assert main(["train", "--data", str(tiny_corpus), "--labels", str(table), "--scheme", "given", "--out", str(run),
                 "--segment-seconds", "2", "--epochs", "1", "--stft-backend", "torch", "--image-size", "32"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "label(s) pop have no training tracks" in err and not run.exists()
