"""The journal: finished fits, settings, the files it wrote, and the lock on its folder."""

import fcntl
import math
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from sk_imbaloss._results import COLUMNS, METRICS
from sk_imbaloss.journal import JOURNAL_NAME, Journal, JournalError, SettingsMismatch

ROOT = Path(__file__).resolve().parents[1]


def _row(method="ce", fold=0, score=0.1 + 0.2):
    row = dict.fromkeys(COLUMNS)
    row.update(dataset="d", method=method, repeat=0, fold=fold, seed=123, fit_seconds=0.5,
               status="ok", **dict.fromkeys(METRICS, score))
    return row


def test_fits_read_back_bit_for_bit(tmp_path):
    failed = dict(_row("focal"), g_mean=math.nan, status="failed", error="ValueError: x")
    with Journal(tmp_path) as journal:
        journal.record(_row())
        journal.record(failed)
        journal.record(_row())  # the same fit again replaces it
    with Journal(tmp_path) as journal:
        assert len(journal) == 2
        assert len(journal.rows()) == 2
        assert journal.keys() == {("d", "ce", 0, 0)}  # a failed fit runs again
        rows = {row["method"]: row for row in journal.rows()}
    assert rows["ce"] == _row()
    assert rows["ce"]["g_mean"] == 0.30000000000000004
    assert rows["focal"]["g_mean"] is None  # SQLite keeps NaN as NULL
    assert rows["focal"]["error"] == "ValueError: x"


def test_settings_that_differ_are_named_and_new_ones_recorded(tmp_path):
    with Journal(tmp_path) as journal:
        journal.check_settings({"a": {"folds": 5, "content": "0123"}})
        journal.record(_row())
    with Journal(tmp_path) as journal:
        # another data set, under other settings (a run on other data): recorded
        journal.check_settings({"b": {"folds": 3, "content": "4567"}})
        with pytest.raises(SettingsMismatch) as info:
            journal.check_settings({"a": {"folds": 2, "content": "89ab"},
                                    "b": {"folds": 2, "content": "4567"}})
    assert info.value.differences == ["folds: 5 there, 2 now (a)", "content: 0123 there, 89ab now (a)",
                                      "folds: 3 there, 2 now (b)"]
    assert info.value.fits == 1
    assert "fresh=True" in str(info.value)
    with Journal(tmp_path, fresh=True) as journal:
        assert len(journal) == 0
        journal.check_settings({"a": {"folds": 2, "content": "89ab"}})


def test_a_second_journal_on_the_folder_is_refused_while_the_first_is_open(tmp_path):
    with Journal(tmp_path):
        with pytest.raises(JournalError, match=f"{tmp_path}: in use by another run"):
            Journal(tmp_path)
    Journal(tmp_path).close()  # released on close


def test_the_lock_goes_with_a_killed_process(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from sk_imbaloss.journal import Journal; "
                               "j = Journal(sys.argv[1]); print('held', flush=True); "
                               "time.sleep(60)", str(tmp_path)],
        stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])},
    )
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(JournalError, match="in use"):
            Journal(tmp_path)
    finally:
        holder.send_signal(signal.SIGKILL)  # no cleanup of its own
        holder.wait()
    Journal(tmp_path).close()


@pytest.mark.parametrize("make", [
    lambda path: path.write_text("not a database"),
    lambda path: sqlite3.connect(path).execute("CREATE TABLE theirs (x)").connection.commit(),
    lambda path: path.symlink_to(path.parent / "elsewhere.sqlite"),
], ids=["text", "other-database", "link"])
def test_a_file_of_the_journal_name_that_is_not_one_is_refused_and_kept(tmp_path, make):
    path = tmp_path / JOURNAL_NAME
    make(path)
    before = path.read_bytes() if path.exists() else None
    with pytest.raises(JournalError, match=f"{path}: "):
        Journal(tmp_path)
    assert (path.read_bytes() if path.exists() else None) == before
    fd = os.open(tmp_path, os.O_RDONLY)  # the failure did not leave the folder locked
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)


def test_files_are_replaced_whole_and_only_the_journals_own(tmp_path):
    (tmp_path / "mine.txt").write_text("the user's")
    (tmp_path / "taken.csv").write_text("the user's")
    with Journal(tmp_path) as journal:
        path = journal.replace("a.csv", lambda p: Path(p).write_text("first"))
        assert path == tmp_path / "a.csv" and path.read_text() == "first"
        assert oct(path.stat().st_mode & 0o777) == oct(0o666 & ~_umask())

        def fails_half_way(p):
            Path(p).write_text("half")
            raise OSError(28, "No space left on device")

        with pytest.raises(OSError, match="No space"):
            journal.replace("a.csv", fails_half_way)
        assert path.read_text() == "first"  # the old file stays whole
        with pytest.raises(JournalError, match="taken.csv: exists and was not written"):
            journal.replace("taken.csv", lambda p: Path(p).write_text("ours"))
        journal.check_owned(["a.csv", "absent.png"])

        journal.replace("b.png", lambda p: Path(p).write_text("b"))
        journal.prune(["a.csv"])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [JOURNAL_NAME, "a.csv", "mine.txt", "taken.csv"])  # no temporaries either
    assert (tmp_path / "taken.csv").read_text() == "the user's"


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_failed_fit_is_run_again_and_its_row_replaced(tmp_path):
    failed = dict(_row(), g_mean=math.nan, status="failed", error="MemoryError: x")
    with Journal(tmp_path) as journal:
        journal.record(failed)
        assert journal.keys() == set()
        journal.record(_row())
        assert journal.keys() == {("d", "ce", 0, 0)} and len(journal) == 1
