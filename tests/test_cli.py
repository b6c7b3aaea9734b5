import json

import pytest

from gtzan_gpu.cli import main


def test_every_subcommand_has_help(capsys):
    for command in ("synth", "scan", "split"):
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
        assert "usage: gtzan-gpu " + command in capsys.readouterr().out


def test_synth_scan_split_on_a_fresh_corpus(tmp_path, capsys):
    assert main(["synth", str(tmp_path / "c"), "--tracks-per-genre", "5", "--seconds", "2"]) == 0
    assert main(["scan", str(tmp_path / "c"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert summary["tracks"] == 50 and summary["excluded"][0]["path"] == "jazz/jazz.00054.wav"
    assert main(["split", str(tmp_path / "c"), "--out", str(tmp_path / "m.json")]) == 0
    manifest = json.loads((tmp_path / "m.json").read_text())
    assert [len(manifest["subsets"][k]) for k in ("train", "val", "test")] == [30, 10, 10]


def test_scan_reports_a_hand_damaged_copy_in_text(corpus_copy, capsys):
    (corpus_copy / "genres_original" / "rock" / "rock.00001.wav").write_bytes(b"")
    assert main(["scan", str(corpus_copy)]) == 0
    out = capsys.readouterr().out
    assert "rock/rock.00001.wav: empty file" in out and "excluded: 2" in out


def test_a_missing_corpus_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["split", str(tmp_path / "nope"), "--out", str(tmp_path / "m.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "corpus folder not found" in err and "nope" in err
    assert not (tmp_path / "m.json").exists()


def test_bad_option_values_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["split", "x", "--out", "m.json", "--scheme", "alphabetical"])
    assert exit_info.value.code == 2
