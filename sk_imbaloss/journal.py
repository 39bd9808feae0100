"""The journal of a comparison, kept in its output folder as ``journal.sqlite``.

It holds every finished fit from the moment it finishes, the settings its results
depend on, and the names of the files written into the folder. So an interrupted run
resumes where it stopped, a run with other settings cannot mix its results with the
journal's, and a file that sk-imbaloss did not write there is never replaced or removed.
SQLite commits each fit atomically; a lock on the folder keeps a second run out while
one is using it, and the operating system releases it when the run ends, however it ends.

A results folder may come from anywhere (shared, downloaded, unpacked), so its journal
is read as untrusted input: a file name it holds is used only when it is a plain name
of the folder's own, one of the names the run writes, and a damaged journal is
refused in one line, never written into.
"""

import functools
import json
import os
import re
import secrets
import sqlite3
import time
from contextlib import closing
from pathlib import Path

from ._results import COLUMNS, KEY

try:
    import fcntl
except ImportError:  # Windows: no folder lock; the rest works the same
    fcntl = None

__all__ = ["JOURNAL_NAME", "Journal", "JournalDamaged", "JournalError", "SettingsMismatch"]

#: The journal's file name in the output folder.
JOURNAL_NAME = "journal.sqlite"

# Marks the SQLite file as a journal (PRAGMA application_id), so that a database of
# another program under the same name is refused rather than written into.
_APPLICATION_ID = 0x736B696D
_SQLITE_MAGIC = b"SQLite format 3\0"


class JournalError(Exception):
    """The output folder cannot be used: another run holds it, it holds a file that
    sk-imbaloss did not write where one would be written, or its journal cannot be
    read or written."""


class JournalDamaged(JournalError):
    """The journal's file is damaged (overwritten in part, or cut short).

    Opening the folder with ``fresh=True`` sets the file aside, under
    ``journal.sqlite.damaged-<time>`` beside it, and starts an empty journal.

    Attributes
    ----------
    path : pathlib.Path
    reason : str
        What SQLite said of it.
    """

    def __init__(self, path, reason):
        self.path, self.reason = path, reason
        super().__init__(f"{path}: a damaged journal ({reason}). Open it with "
                         "fresh=True to set it aside and start afresh, or use another "
                         "folder.")


#: SQLite's message for each primary result code the journal reports in its own words.
_MESSAGES = {"SQLITE_CORRUPT": "database disk image is malformed",
             "SQLITE_NOTADB": "file is not a database",
             "SQLITE_FULL": "database or disk is full",
             "SQLITE_READONLY": "attempt to write a readonly database"}


def _unusable(path, exc):
    """The JournalError that says, in one line, why SQLite could not use ``path``."""
    # The primary code: SQLITE_READONLY of SQLITE_READONLY_DBMOVED, and the like.
    # Python 3.10 has no sqlite_errorname: SQLite's own message for each code then.
    name = "_".join(getattr(exc, "sqlite_errorname", "").split("_")[:2]) or next(
        (code for code, message in _MESSAGES.items() if message in str(exc)), "")
    if name in ("SQLITE_CORRUPT", "SQLITE_NOTADB"):
        return JournalDamaged(path, str(exc))
    if name == "SQLITE_FULL":
        return JournalError(f"{path}: the disk is full; the fits recorded before are "
                            "kept. Free some space and run again: it resumes from them.")
    if name == "SQLITE_READONLY":
        return JournalError(f"{path}: read-only, so no fit could be recorded; make it "
                            "writable or use another folder.")
    return JournalError(f"{path}: cannot be used ({exc}).")


def _sqlite_errors(method):
    """Turn the SQLite errors of a journal's method into JournalError, in one line."""
    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise _unusable(self.path, exc) from exc

    return guarded


def _plain_name(name):
    """Whether ``name`` names a file of the folder itself: not empty, no separator, not
    ``.`` or ``..``, not absolute. A journal from elsewhere may hold anything."""
    return (isinstance(name, str) and name not in ("", ".", "..") and "\0" not in name
            and os.sep not in name and (os.altsep is None or os.altsep not in name))


def _temporary_pattern(name):
    """What :meth:`Journal.replace` names the temporary files of ``name``."""
    return re.compile(rf"\.{re.escape(name)}\.[0-9a-f]{{8}}{re.escape(Path(name).suffix)}")


class SettingsMismatch(JournalError):
    """The journal was made with other settings than the run's.

    Attributes
    ----------
    differences : list of str
        One ``"setting: <journal's value> there, <run's value> now"`` per setting and
        pair of values, followed by the data sets it concerns when not all the run's.
    fits : int
        The finished fits the journal holds.
    """

    def __init__(self, path, differences, fits):
        self.differences, self.fits = differences, fits
        super().__init__(
            f"{path} was made with other settings ({'; '.join(differences)}); its "
            f"{fits} finished fits do not hold for this run. Open it with fresh=True "
            "to drop them, or use another folder."
        )


def _check_columns(db, path, fresh):
    """Refuse fits recorded with other columns (by another version of sk-imbaloss)
    rather than mix them with this run's; ``fresh`` drops them with their table."""
    held = [row[1] for row in db.execute("PRAGMA table_info(fits)")]
    if not held or held == list(COLUMNS):
        return
    if fresh:
        with db:
            db.execute("DROP TABLE fits")
        return
    missing = [c for c in COLUMNS if c not in held]
    raise JournalError(
        f"{path}: its fits were recorded by another version of sk-imbaloss, "
        f"{'without ' + ', '.join(missing) if missing else 'with other columns'}; start "
        "afresh (--fresh) to run them again, or use another folder."
    )


def _lock(folder):
    """Lock the folder for this process, or raise JournalError when another holds it.

    ``flock`` on the folder itself: no lock file to leave behind, and the lock goes
    with the process, so a run that crashed or was killed never leaves it stuck.
    """
    if fcntl is None:
        return None
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise JournalError(
            f"{folder}: in use by another run, which holds it until it ends; wait for "
            "it, or use another folder."
        ) from None
    return fd


class Journal:
    """The journal in an output folder, open and locked for one run.

    Parameters
    ----------
    folder : str or path-like
        The output folder; created if missing.
    fresh : bool, default=False
        Drop the finished fits and the settings the journal holds (the record of the
        files written there is kept, so that they can still be replaced); a damaged
        journal is set aside as ``journal.sqlite.damaged-<time>`` and a new one begun.

    Raises
    ------
    JournalError
        When another process has the folder open, ``journal.sqlite`` there is not a
        journal (another program's file, a folder, a symbolic link), or it cannot be
        read or written (read-only, a full disk); :class:`JournalDamaged` when it is
        damaged and ``fresh`` is false.

    Examples
    --------
    >>> with Journal(out) as journal:  # doctest: +SKIP
    ...     results = run_comparison(datasets, journal=journal)
    ...     write_report(results, journal)
    """

    def __init__(self, folder, fresh=False):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock = _lock(self.folder)
        try:
            try:
                self._db = self._open(fresh)
            except JournalDamaged:
                if not fresh:
                    raise
                self._db = self._open(fresh, files=self._set_aside())
        except BaseException:
            self._unlock()
            raise

    @property
    def path(self):
        """The journal's file, ``folder / "journal.sqlite"``."""
        return self.folder / JOURNAL_NAME

    def _open(self, fresh, files=()):
        if os.path.lexists(self.path) and (self.path.is_symlink()
                                           or not self.path.is_file()):
            raise JournalError(f"{self.path}: not a file (a link, a folder, ...), so not "
                               "a journal; move it away or use another folder.")
        self._check_header()
        try:
            db = sqlite3.connect(self.path)
        except sqlite3.Error as exc:
            raise _unusable(self.path, exc) from exc
        try:
            self._check_database(db)
            _check_columns(db, self.path, fresh)
            columns = ", ".join(f'"{c}"' for c in COLUMNS)
            with db:
                db.execute(f"PRAGMA application_id = {_APPLICATION_ID}")
                # Untyped columns: SQLite keeps each value as given, so scores read
                # back bit for bit (NaN is stored as NULL).
                db.execute(f"CREATE TABLE IF NOT EXISTS fits ({columns}, "
                           f"PRIMARY KEY ({', '.join(KEY)}))")
                db.execute("CREATE TABLE IF NOT EXISTS settings (key PRIMARY KEY, value)")
                db.execute("CREATE TABLE IF NOT EXISTS files (name PRIMARY KEY)")
                if fresh:
                    db.execute("DELETE FROM fits")
                    db.execute("DELETE FROM settings")
                db.executemany("INSERT OR IGNORE INTO files VALUES (?)",
                               [(name,) for name in files])
        except BaseException as exc:
            db.close()
            if isinstance(exc, sqlite3.Error):
                raise _unusable(self.path, exc) from exc
            raise
        return db

    def _check_header(self):
        """Refuse another program's file; one of ours whose header is cut short is
        damaged, not someone else's."""
        try:
            with open(self.path, "rb") as file:
                header = file.read(100)  # SQLite's file header
        except FileNotFoundError:
            return
        except OSError as exc:
            raise JournalError(f"{self.path}: cannot be read ({exc.strerror}).") from exc
        if not header:
            return  # empty: SQLite starts a database in it
        application_id = int.from_bytes(header[68:72], "big")  # 0 in a new database
        if (not header.startswith(_SQLITE_MAGIC[:len(header)])
                or application_id not in (0, _APPLICATION_ID)):
            raise JournalError(f"{self.path}: not a journal of sk-imbaloss; move it "
                               "away or use another folder.")
        if len(header) < 100:
            raise JournalDamaged(self.path, f"cut short at {len(header)} bytes")

    def _check_database(self, db):
        application_id, = db.execute("PRAGMA application_id").fetchone()
        tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if application_id != _APPLICATION_ID and (application_id != 0 or tables):
            raise JournalError(f"{self.path}: not a journal of sk-imbaloss; move it "
                               "away or use another folder.")
        # Damage found now is reported before the run, not after its first hour.
        problems = [problem for problem, in db.execute("PRAGMA quick_check")]
        if problems != ["ok"]:  # the first, without its "*** in database main ***"
            raise JournalDamaged(self.path, problems[0].splitlines()[-1])

    def _set_aside(self):
        """Rename the damaged journal (and SQLite's rollback file of it, which belongs
        to it alone) to ``<name>.damaged-<time>``, where its fits may be recovered;
        return the names of the files it wrote, where they can still be read, so that
        the new journal can replace them."""
        try:
            uri = f"{self.path.resolve().as_uri()}?mode=ro"  # read, never written
            with closing(sqlite3.connect(uri, uri=True)) as db:
                names = [name for name, in db.execute("SELECT name FROM files")
                         if _plain_name(name)]
        except sqlite3.Error:
            names = []
        stamp = aside = time.strftime("%Y%m%dT%H%M%S")
        k = 1
        while os.path.lexists(self.folder / f"{JOURNAL_NAME}.damaged-{aside}"):
            k += 1  # never over one set aside before
            aside = f"{stamp}-{k}"
        for suffix in ("", "-journal"):
            path = self.folder / f"{JOURNAL_NAME}{suffix}"
            if os.path.lexists(path):
                os.replace(path, self.folder / f"{JOURNAL_NAME}.damaged-{aside}{suffix}")
        return names

    def _unlock(self):
        if self._lock is not None:
            os.close(self._lock)  # closing the descriptor releases the flock
            self._lock = None

    def close(self):
        """Close the journal and release the folder."""
        self._db.close()
        self._unlock()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    # ------------------------------------------------------------------ settings
    @_sqlite_errors
    def check_settings(self, settings):
        """Check the run's settings against the journal's, and record new ones.

        Parameters
        ----------
        settings : dict of str to dict of str to JSON-serialisable value
            Per data set, what its results depend on. A data set the journal holds
            must have the same values; one it does not (a data set added to the run,
            or another run's into the same folder) is recorded.

        Raises
        ------
        SettingsMismatch
            Naming every setting whose value differs, and for which data sets.
        """
        held = dict(self._db.execute("SELECT key, value FROM settings"))
        now = {json.dumps([name, setting]): json.dumps(value)
               for name, values in settings.items() for setting, value in values.items()}
        names = {}  # (setting, there, now) -> the data sets where it differs
        for key, value in now.items():
            if key in held and held[key] != value:
                name, setting = json.loads(key)
                names.setdefault((setting, json.loads(held[key]), json.loads(value)),
                                 []).append(name)
        # The data sets are named where a difference concerns only some of the run's.
        differences = [f"{setting}: {there} there, {here} now"
                       + ("" if len(sets) == len(settings) else f" ({', '.join(sets)})")
                       for (setting, there, here), sets in names.items()]
        if differences:
            raise SettingsMismatch(self.path, differences, len(self))
        with self._db:
            self._db.executemany("INSERT OR IGNORE INTO settings VALUES (?, ?)", now.items())

    # ------------------------------------------------------------------ fits
    @_sqlite_errors
    def __len__(self):
        return self._db.execute("SELECT count(*) FROM fits").fetchone()[0]

    @_sqlite_errors
    def keys(self):
        """The ``(dataset, method, repeat, fold)`` of every fit that need not run again,
        as a set: a failed fit is tried again by the next run (and replaces its row)."""
        return set(self._db.execute(
            f"SELECT {', '.join(KEY)} FROM fits WHERE status != 'failed'"))

    @_sqlite_errors
    def record(self, row):
        """Append one finished fit (a dict with the results' columns), committed."""
        with self._db:
            self._db.execute(
                f"INSERT OR REPLACE INTO fits VALUES ({', '.join('?' * len(COLUMNS))})",
                [row[column] for column in COLUMNS],
            )

    @_sqlite_errors
    def rows(self):
        """Every finished fit, as dicts with the results' columns."""
        columns = ", ".join(f'"{c}"' for c in COLUMNS)
        return [dict(zip(COLUMNS, values))
                for values in self._db.execute(f"SELECT {columns} FROM fits")]

    # ------------------------------------------------------------------ files
    @_sqlite_errors
    def _owned(self):
        # Whatever the table holds, only plain names of the folder's own count.
        return {name for name, in self._db.execute("SELECT name FROM files")
                if _plain_name(name)}

    def check_owned(self, names):
        """Raise JournalError naming the first of ``names`` that is in the folder and
        was not written through this journal (a link counts, wherever it points)."""
        owned = self._owned()
        for name in names:
            if not _plain_name(name):
                raise ValueError(f"{name!r}: not a plain file name; the journal writes "
                                 "only in its own folder.")
            path = self.folder / name
            if name not in owned and os.path.lexists(path):
                raise JournalError(
                    f"{path}: exists and was not written by sk-imbaloss; it is not "
                    "replaced. Move it away or use another folder."
                )

    @_sqlite_errors
    def replace(self, name, write):
        """Write the folder's file ``name`` through ``write(path)``, atomically.

        ``write`` fills a temporary file in the folder, which is then renamed over
        ``name``: the old file stays whole until the new one is complete, and a link
        of that name is replaced, never written through. Refuses a file that exists
        and was not written through this journal (:meth:`check_owned`).
        """
        self.check_owned([name])
        # Recorded first: a crash right after the rename must not leave a file of ours
        # that the next run would refuse as someone else's.
        with self._db:
            self._db.execute("INSERT OR IGNORE INTO files VALUES (?)", (name,))
        # Created anew ("x"), so with the usual permissions, and with the name's suffix
        # for writers that read the format from it (savefig).
        temporary = self.folder / f".{name}.{secrets.token_hex(4)}{Path(name).suffix}"
        open(temporary, "xb").close()
        try:
            write(temporary)
            with open(temporary, "rb") as written:
                os.fsync(written.fileno())
            os.replace(temporary, self.folder / name)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return self.folder / name

    @_sqlite_errors
    def prune(self, keep, names):
        """Remove the files of ``names`` written through this journal that are not in
        ``keep``, and the temporary files of ``names`` that a killed run left.

        Parameters
        ----------
        keep : iterable of str
            The names just written.
        names : iterable of str
            Every name the caller writes, for any outcome: nothing else is removed,
            whatever the journal holds. A link is removed, never what it points to.
        """
        names, keep = set(names), set(keep)
        for name in sorted((self._owned() & names) - keep):
            path = self.folder / name
            if path.is_symlink() or path.is_file() or not os.path.lexists(path):
                path.unlink(missing_ok=True)
                with self._db:
                    self._db.execute("DELETE FROM files WHERE name = ?", (name,))
        patterns = [_temporary_pattern(name) for name in names if _plain_name(name)]
        for entry in os.scandir(self.folder):
            if (entry.is_file(follow_symlinks=False)
                    and any(p.fullmatch(entry.name) for p in patterns)):
                os.unlink(entry.path)
