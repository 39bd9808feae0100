"""The journal of a comparison, kept in its output folder as ``journal.sqlite``.

It holds every finished fit from the moment it finishes, the settings its results
depend on, and the names of the files written into the folder. So an interrupted run
resumes where it stopped, a run with other settings cannot mix its results with the
journal's, and a file that sk-imbaloss did not write there is never replaced or removed.
SQLite commits each fit atomically; a lock on the folder keeps a second run out while
one is using it, and the operating system releases it when the run ends, however it ends.
"""

import json
import os
import secrets
import sqlite3
from pathlib import Path

from ._results import COLUMNS, KEY

try:
    import fcntl
except ImportError:  # Windows: no folder lock; the rest works the same
    fcntl = None

__all__ = ["JOURNAL_NAME", "Journal", "JournalError", "SettingsMismatch"]

#: The journal's file name in the output folder.
JOURNAL_NAME = "journal.sqlite"

# Marks the SQLite file as a journal (PRAGMA application_id), so that a database of
# another program under the same name is refused rather than written into.
_APPLICATION_ID = 0x736B696D



class JournalError(Exception):
    """The output folder cannot be used: another run holds it, or it holds a file that
    sk-imbaloss did not write where one would be written."""


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
        files written there is kept, so that they can still be replaced).

    Raises
    ------
    JournalError
        When another process has the folder open, or ``journal.sqlite`` there is not
        a journal (another program's file, or a symbolic link).

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
            self._db = self._open(fresh)
        except BaseException:
            self._unlock()
            raise

    @property
    def path(self):
        """The journal's file, ``folder / "journal.sqlite"``."""
        return self.folder / JOURNAL_NAME

    def _open(self, fresh):
        if self.path.is_symlink():
            raise JournalError(f"{self.path}: a symbolic link, not a journal; move it "
                               "away or use another folder.")
        db = sqlite3.connect(self.path)
        try:
            application_id, = db.execute("PRAGMA application_id").fetchone()
            tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        except sqlite3.DatabaseError:
            application_id, tables = None, None
        if application_id != _APPLICATION_ID and (application_id != 0 or tables):
            db.close()
            raise JournalError(f"{self.path}: not a journal of sk-imbaloss; move it "
                               "away or use another folder.")
        try:
            _check_columns(db, self.path, fresh)
        except BaseException:
            db.close()
            raise
        columns = ", ".join(f'"{c}"' for c in COLUMNS)
        with db:
            db.execute(f"PRAGMA application_id = {_APPLICATION_ID}")
            # Untyped columns: SQLite keeps each value as given, so scores read back
            # bit for bit (NaN is stored as NULL).
            db.execute(f"CREATE TABLE IF NOT EXISTS fits ({columns}, "
                       f"PRIMARY KEY ({', '.join(KEY)}))")
            db.execute("CREATE TABLE IF NOT EXISTS settings (key PRIMARY KEY, value)")
            db.execute("CREATE TABLE IF NOT EXISTS files (name PRIMARY KEY)")
            if fresh:
                db.execute("DELETE FROM fits")
                db.execute("DELETE FROM settings")
        return db

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
    def __len__(self):
        return self._db.execute("SELECT count(*) FROM fits").fetchone()[0]

    def keys(self):
        """The ``(dataset, method, repeat, fold)`` of every fit that need not run again,
        as a set: a failed fit is tried again by the next run (and replaces its row)."""
        return set(self._db.execute(
            f"SELECT {', '.join(KEY)} FROM fits WHERE status != 'failed'"))

    def record(self, row):
        """Append one finished fit (a dict with the results' columns), committed."""
        with self._db:
            self._db.execute(
                f"INSERT OR REPLACE INTO fits VALUES ({', '.join('?' * len(COLUMNS))})",
                [row[column] for column in COLUMNS],
            )

    def rows(self):
        """Every finished fit, as dicts with the results' columns."""
        columns = ", ".join(f'"{c}"' for c in COLUMNS)
        return [dict(zip(COLUMNS, values))
                for values in self._db.execute(f"SELECT {columns} FROM fits")]

    # ------------------------------------------------------------------ files
    def _owned(self):
        return {name for name, in self._db.execute("SELECT name FROM files")}

    def check_owned(self, names):
        """Raise JournalError naming the first of ``names`` that is in the folder and
        was not written through this journal (a link counts, wherever it points)."""
        owned = self._owned()
        for name in names:
            path = self.folder / name
            if name not in owned and os.path.lexists(path):
                raise JournalError(
                    f"{path}: exists and was not written by sk-imbaloss; it is not "
                    "replaced. Move it away or use another folder."
                )

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

    def prune(self, keep):
        """Remove the files written through this journal whose names are not in ``keep``."""
        for name in sorted(self._owned() - set(keep)):
            (self.folder / name).unlink(missing_ok=True)
            with self._db:
                self._db.execute("DELETE FROM files WHERE name = ?", (name,))
