"""The journal: finished fits, settings, the files it wrote, and the lock on its folder."""

import fcntl
import math
import os
import signal
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from sk_imbaloss._results import COLUMNS, METRICS
from sk_imbaloss.journal import (
    JOURNAL_NAME,
    Journal,
    JournalDamaged,
    JournalError,
    SettingsMismatch,
)

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
        journal.prune(["a.csv"], ["a.csv", "b.png", "mine.txt"])
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


@pytest.mark.parametrize("fresh", [False, True], ids=["resumed", "fresh"])
def test_a_planted_files_table_removes_nothing_outside_the_run_s_own_names(tmp_path, fresh):
    out, victim = tmp_path / "out", tmp_path / "victim.txt"
    victim.write_text("the user's")
    Journal(out).close()
    (out / "notes.txt").write_text("the user's")
    (out / "box_g_mean.png").symlink_to(victim)  # a plain name, but a link
    planted = ["../victim.txt", str(victim), "", ".", "..", "notes.txt", "box_g_mean.png",
               f"sub{os.sep}..{os.sep}..{os.sep}victim.txt"]
    with sqlite3.connect(out / JOURNAL_NAME) as db:
        db.executemany("INSERT INTO files VALUES (?)", [(name,) for name in planted])
    db.close()
    with Journal(out, fresh=fresh) as journal:
        journal.check_owned(["results.csv", "box_g_mean.png"])
        journal.replace("results.csv", lambda p: Path(p).write_text("ours"))
        journal.prune(["results.csv"], ["results.csv", "box_g_mean.png", "cd_g_mean.png"])
        for name in ["../victim.txt", str(victim), ""]:
            with pytest.raises(ValueError, match="not a plain file name"):
                journal.replace(name, lambda p: Path(p).write_text("ours"))
    assert victim.read_text() == "the user's"  # the link went, not what it points to
    assert sorted(p.name for p in out.iterdir()) == [JOURNAL_NAME, "notes.txt", "results.csv"]
    assert (out / "notes.txt").read_text() == "the user's"


def test_temporary_files_a_killed_run_left_are_removed_and_only_those(tmp_path):
    left = [".results.csv.0a1b2c3d.csv", ".box_g_mean.png.ffffffff.png"]
    kept = [".results.csv.0a1b2c3.csv", ".notes.txt.0a1b2c3d.txt", ".results.csv.0A1B2C3D.csv",
            "results.csv.0a1b2c3d.csv", ".results.csv.0a1b2c3d.csv.bak"]
    for name in [*left, *kept]:
        (tmp_path / name).write_text("x")
    (tmp_path / "box").mkdir()
    (tmp_path / ".cd_g_mean.png.01234567.png").mkdir()  # a folder: not ours to remove
    with Journal(tmp_path) as journal:
        journal.prune([], ["results.csv", "box_g_mean.png", "cd_g_mean.png"])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [JOURNAL_NAME, *kept, "box", ".cd_g_mean.png.01234567.png"])


def _journal_with_fits(folder, n=200):
    Journal(folder).close()
    with closing(sqlite3.connect(folder / JOURNAL_NAME)) as db, db:  # one commit
        db.executemany(f"INSERT INTO fits VALUES ({', '.join('?' * len(COLUMNS))})",
                       [[_row(fold=fold)[c] for c in COLUMNS] for fold in range(n)])
    with Journal(folder) as journal:
        assert len(journal) == n
    return folder / JOURNAL_NAME


def _overwrite_a_page(path):
    data = bytearray(path.read_bytes())
    data[2 * 4096:2 * 4096 + 16] = b"\xff" * 16  # the header of the third page
    path.write_bytes(bytes(data))


def _cut_in_half(path):
    path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])


def _cut_in_the_header(path):
    path.write_bytes(path.read_bytes()[:50])


@pytest.mark.parametrize("damage", [_overwrite_a_page, _cut_in_half, _cut_in_the_header],
                         ids=["malformed", "truncated", "truncated-header"])
def test_a_damaged_journal_is_refused_in_one_line_and_set_aside_by_fresh(tmp_path, damage):
    path = _journal_with_fits(tmp_path)
    damage(path)
    damaged = path.read_bytes()
    with pytest.raises(JournalDamaged, match=f"^{path}: a damaged journal \\(.*fresh=True to set it aside") as info:
        Journal(tmp_path)
    assert "\n" not in str(info.value) and info.value.path == path
    assert path.read_bytes() == damaged  # not written into
    with Journal(tmp_path, fresh=True) as journal:
        assert len(journal) == 0
        journal.record(_row())
    aside, = tmp_path.glob(f"{JOURNAL_NAME}.damaged-*")
    assert aside.read_bytes() == damaged
    _cut_in_the_header(path)  # damaged again, within the same second maybe
    again = path.read_bytes()
    Journal(tmp_path, fresh=True).close()
    assert sorted(p.read_bytes() for p in tmp_path.glob(f"{JOURNAL_NAME}.damaged-*")) \
        == sorted([damaged, again])  # the first one set aside is kept whole


def test_a_folder_of_the_journal_name_is_refused_and_kept(tmp_path):
    (tmp_path / JOURNAL_NAME).mkdir()
    for fresh in (False, True):
        with pytest.raises(JournalError, match=f"{tmp_path / JOURNAL_NAME}: not a file"):
            Journal(tmp_path, fresh=fresh)
    assert (tmp_path / JOURNAL_NAME).is_dir()


def _connect_with(monkeypatch, **how):
    """Have the journal's SQLite connection read-only, or its file limited in size."""
    connect = sqlite3.connect

    def limited(path, *args, **kwargs):
        if how.get("read_only"):
            return connect(f"file:{path}?mode=ro", uri=True)
        db = connect(path, *args, **kwargs)
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {pages + how['pages']}")
        return db

    monkeypatch.setattr(sqlite3, "connect", limited)


def test_a_read_only_journal_is_one_line(tmp_path, monkeypatch):
    path = _journal_with_fits(tmp_path, n=3)
    _connect_with(monkeypatch, read_only=True)
    with pytest.raises(JournalError, match=f"^{path}: read-only, so no fit could be "
                                           "recorded; make it writable"):
        Journal(tmp_path)


def test_a_full_disk_keeps_every_fit_recorded_before(tmp_path, monkeypatch):
    path = _journal_with_fits(tmp_path, n=3)
    with monkeypatch.context() as patch:
        _connect_with(patch, pages=2)
        with Journal(tmp_path) as journal:
            with pytest.raises(JournalError, match=f"^{path}: the disk is full; the fits "
                                                   "recorded before are kept") as info:
                for fold in range(3, 1000):
                    journal.record(_row(fold=fold))
            assert "\n" not in str(info.value)
    with Journal(tmp_path) as journal:
        assert len(journal) == fold  # every fit but the one that did not fit


@pytest.mark.parametrize("message, kind", [
    ("file is not a database", "damaged journal"),
    ("database disk image is malformed", "damaged journal"),
    ("database or disk is full", "the disk is full"),
    ("attempt to write a readonly database", "read-only"),
])
def test_sqlite_errors_are_told_apart_without_their_code_names(message, kind):
    # Python 3.10's sqlite3 errors carry no sqlite_errorname: SQLite's message tells.
    from sk_imbaloss.journal import JournalDamaged, _unusable

    error = _unusable(Path("out/journal.sqlite"), sqlite3.DatabaseError(message))
    assert kind in str(error)
    assert isinstance(error, JournalDamaged) == (kind == "damaged journal")
