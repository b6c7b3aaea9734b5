import os
import stat

import pytest

from gtzan_gpu.atomic import atomic_directory, atomic_write_text, remove_stale_temporaries
from gtzan_gpu.errors import GtzanError


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_written_files_honour_the_umask(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        atomic_write_text(tmp_path / "a.json", "{}")
        with atomic_directory(tmp_path / "folder") as building:
            atomic_write_text(building / "b.txt", "x")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == mode
    assert stat.S_IMODE((tmp_path / "folder" / "b.txt").stat().st_mode) == mode
    assert stat.S_IMODE((tmp_path / "folder").stat().st_mode) == mode | 0o111 & ~umask


def test_unwritable_targets_are_gtzan_errors_naming_the_path(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(GtzanError, match="cannot write .*file/a.json"):
        atomic_write_text(tmp_path / "file" / "a.json", "{}")
    (tmp_path / "dir").mkdir()
    with pytest.raises(GtzanError, match="is a directory"):
        atomic_write_text(tmp_path / "dir", "{}")


def test_a_failed_folder_build_leaves_nothing_and_stale_ones_are_cleared(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_directory(tmp_path / "corpus") as building:
            (building / "half").write_text("x")
            raise RuntimeError
    assert list(tmp_path.iterdir()) == []
    (tmp_path / ".corpus.abc.partial").mkdir()
    (tmp_path / ".corpus.json.x.tmp").write_text("")
    (tmp_path / ".corpus.def.tmp").write_text("")
    assert len(remove_stale_temporaries(tmp_path / "corpus")) == 2
    assert [p.name for p in tmp_path.iterdir()] == [".corpus.json.x.tmp"]


def test_a_dead_writers_leftovers_are_removed_by_the_next_good_write_and_a_live_ones_kept(tmp_path):
    """Issue 31, defect 15: a killed synth left .genres_original.*.partial after a good rerun, a killed evaluate
    left tb/.eval_<split>.<pid>.tmp (TensorBoard showed it as a second run)."""
    import subprocess
    import sys

    from gtzan_gpu.atomic import atomic_directory, remove_dead_temporaries

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        leftover = tmp_path / f".genres_original.p{dead_pid}_abc123.partial"
        working = tmp_path / f".genres_original.p{live.pid}_def456.partial"
        leftover.mkdir()
        working.mkdir()
        with atomic_directory(tmp_path / "genres_original") as building:
            (building / "x").write_text("y")
        assert (tmp_path / "genres_original" / "x").is_file()
        assert not leftover.exists() and working.exists()
        tb = tmp_path / "tb"
        tb.mkdir()
        stale = tb / f".eval_test.p{dead_pid}_tb.tmp"
        stale.mkdir()
        assert remove_dead_temporaries(tb / "eval_test", extra_suffixes=(".old",)) == [stale]
    finally:
        live.kill()
