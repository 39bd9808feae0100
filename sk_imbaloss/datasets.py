"""Data sets for ``sk-imbaloss compare``: a demo built from scikit-learn's bundled data,
and CSVs.

:func:`load_default` and :func:`load_csv` return a :class:`pandas.DataFrame` of numeric
features plus a target column, with the data set's name in ``frame.attrs["name"]``;
:func:`as_dataset` turns such a frame into the ``(name, X, y)`` triple that
:func:`sk_imbaloss.compare.run_comparison` takes, and :func:`load_demo` returns a list
of such triples.
"""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import (
    load_breast_cancer,
    load_diabetes,
    load_digits,
    load_wine,
    make_classification,
)

__all__ = [
    "DEFAULT_NAME",
    "DEMO_NAMES",
    "as_dataset",
    "iter_data_paths",
    "load_csv",
    "load_default",
    "load_demo",
]

#: Name of the data set :func:`load_default` returns.
DEFAULT_NAME = "diabetes-top10"

#: Names of the data sets :func:`load_demo` returns, in order.
DEMO_NAMES = (
    DEFAULT_NAME,
    "digits-0-vs-rest",
    "digits-8-vs-rest",
    "wine-3-vs-rest",
    "breast-cancer-1-in-8",
    "synthetic-1-in-20-noise-0.0",
    "synthetic-1-in-20-noise-0.05",
)

# pandas reads the compression from the name; these are the ones it needs nothing extra for.
_CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zip")


def load_default():
    """The default imbalanced binary data set, built from data that ships with scikit-learn.

    :func:`sklearn.datasets.load_diabetes` (442 patients, 10 numeric features) with
    its regression target, disease progression after one year, binarised at its 90th
    percentile: ``target`` is 1 for the top decile (the minority, 44 rows) and 0
    otherwise. No download is involved.

    Returns
    -------
    frame : pandas.DataFrame of shape (442, 11)
        The ten features and an int ``target`` column; ``frame.attrs["name"]`` is
        ``"diabetes-top10"``.

    Examples
    --------
    >>> from sk_imbaloss.datasets import load_default
    >>> frame = load_default()
    >>> frame.attrs["name"], frame.shape, int(frame["target"].sum())
    ('diabetes-top10', (442, 11), 44)
    """
    frame = load_diabetes(as_frame=True).frame
    progression = frame.pop("target")
    # Strictly above the percentile, so that the positives are the top decile.
    frame["target"] = (progression > np.percentile(progression, 90)).astype(np.int64)
    frame.attrs["name"] = DEFAULT_NAME
    return frame


def load_demo():
    """The demo of ``sk-imbaloss compare``: seven imbalanced binary data sets.

    Built from data that ships with scikit-learn (no download), the minority labelled 1:

    - ``diabetes-top10``: :func:`load_default`, 44 of 442;
    - ``digits-0-vs-rest`` and ``digits-8-vs-rest``: one digit of
      :func:`~sklearn.datasets.load_digits` against the nine others, about 1:9;
    - ``wine-3-vs-rest``: the third cultivar of :func:`~sklearn.datasets.load_wine`,
      48 of 178;
    - ``breast-cancer-1-in-8``: :func:`~sklearn.datasets.load_breast_cancer` with the
      malignant class thinned to one per eight benign (a fixed random subset, 44 of 401);
    - ``synthetic-1-in-20-noise-0.0`` and ``synthetic-1-in-20-noise-0.05``:
      :func:`~sklearn.datasets.make_classification`, 2000 rows, 20 features (6
      informative), weights 19:1 (100 minority); the second with 5 % of the labels
      drawn at random (``flip_y``; 144 minority).

    The collection was fixed before any method was run on it, and none of it was used
    to choose the estimator's defaults (those came from the KEEL files).

    Returns
    -------
    datasets : list of (name, X, y)
        In the order of :data:`DEMO_NAMES`; ``X`` float64, ``y`` int64 of 0 and 1.

    Examples
    --------
    >>> from sk_imbaloss.datasets import load_demo
    >>> [(name, X.shape, int(y.sum())) for name, X, y in load_demo()][:2]
    [('diabetes-top10', (442, 10), 44), ('digits-0-vs-rest', (1797, 64), 178)]
    """
    datasets = [as_dataset(load_default())]
    digits = load_digits()
    for digit in (0, 8):
        datasets.append((f"digits-{digit}-vs-rest", digits.data,
                         (digits.target == digit).astype(np.int64)))
    wine = load_wine()
    datasets.append(("wine-3-vs-rest", wine.data, (wine.target == 2).astype(np.int64)))
    cancer = load_breast_cancer()
    malignant = np.flatnonzero(cancer.target == 0)
    benign = np.flatnonzero(cancer.target == 1)
    keep = np.random.default_rng(0).choice(malignant, size=len(benign) // 8, replace=False)
    rows = np.sort(np.concatenate([benign, keep]))
    datasets.append(("breast-cancer-1-in-8", cancer.data[rows],
                     (cancer.target[rows] == 0).astype(np.int64)))
    for noise in (0.0, 0.05):
        X, y = make_classification(n_samples=2000, n_features=20, n_informative=6,
                                   weights=[0.95], flip_y=noise, random_state=0)
        datasets.append((f"synthetic-1-in-20-noise-{noise}", X, y.astype(np.int64)))
    return [(name, np.asarray(X, dtype=np.float64), y) for name, X, y in datasets]


def _dataset_name(path):
    name = path.name
    for suffix in sorted(_CSV_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def load_csv(path, target="target"):
    """Read a CSV or gzipped CSV file of numeric features and a class column.

    Parameters
    ----------
    path : str or path-like
        A ``.csv`` file, or one compressed as ``.csv.gz``, ``.csv.bz2``, ``.csv.xz``
        or ``.csv.zip`` (compression is inferred from the name).
    target : str, default="target"
        The column holding the class labels; every other column is a feature.

    Returns
    -------
    frame : pandas.DataFrame
        The file's columns; ``frame.attrs["name"]`` is the file name without its
        ``.csv`` (and compression) suffix and ``frame.attrs["target"]`` the target
        column.

    Raises
    ------
    ValueError
        Naming the file, when it is missing or cannot be read whatever the reason
        (a corrupt or truncated archive, text that is not UTF-8, a file that
        vanished, ...; the message gives the reason), has no ``target`` column
        (the message lists the columns it has), repeats a column name or has one
        without a name, has no rows, has a target that is not class labels
        (non-integer numbers, or more distinct values than half the rows), has
        non-numeric,
        missing or infinite feature values (the message names the columns), or fewer
        than two classes.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file.")
    try:
        with warnings.catch_warnings():
            # Rows with more fields than the header: by default pandas would take the
            # first ones as an index and drop them; index_col=False warns instead.
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(path, index_col=False)
        header = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False)
    except pd.errors.ParserWarning:
        raise ValueError(
            f"{path}: its rows have more fields than its header names; name every column."
        ) from None
    except Exception as exc:  # noqa: BLE001
        # Each decompressor fails its own way (zlib.error, LZMAError, BadZipFile,
        # EOFError on a truncated file, OSError, UnicodeDecodeError...): whatever it
        # is, this file cannot be used and the others can.
        raise ValueError(
            f"{path}: cannot be read as CSV ({type(exc).__name__}: {exc})."
        ) from exc
    header = [name.strip() for name in header.iloc[0]]
    if len(header) > 1 and not header[-1] and frame.iloc[:, -1].isna().all():
        # A comma at the end of every line (some exports write one): no column there.
        frame, header = frame.iloc[:, :-1], header[:-1]
    unnamed = [i + 1 for i, name in enumerate(header) if not name]
    if unnamed:
        # pandas would call it "Unnamed: 0" and keep it as a feature; an index column
        # of a file sorted by class would hand the label to the model.
        raise ValueError(
            f"{path}: column(s) {unnamed} have no name (an index written with the data?); "
            "drop them or name them."
        )
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        # pandas would rename the second to "name.1" and keep it: a repeated target
        # column would become a feature that holds the label.
        raise ValueError(f"{path}: repeated column names {repeated}; name every column once.")
    # Column names as the header spells them but for surrounding spaces ("a, b, target").
    frame.columns = header
    target = target.strip()

    if target not in frame.columns:
        raise ValueError(
            f"{path}: no target column {target!r}; the columns are "
            f"{list(map(str, frame.columns))}. Name the class column with --target."
        )
    if len(frame) == 0:
        raise ValueError(f"{path}: has a header but no rows.")
    features = frame.drop(columns=target)
    if features.shape[1] == 0:
        raise ValueError(f"{path}: has no feature columns besides {target!r}.")
    non_numeric = [str(c) for c, dt in features.dtypes.items() if dt.kind not in "biuf"]
    if non_numeric:
        raise ValueError(
            f"{path}: non-numeric feature columns {non_numeric}; encode them as numbers "
            "first (e.g. one-hot)."
        )
    with_nan = [str(c) for c in features.columns[features.isna().any()]]
    if with_nan:
        raise ValueError(
            f"{path}: missing values (NaN) in feature columns {with_nan}; impute or "
            "drop them first."
        )
    infinite = [str(c) for c in features.columns
                if features[c].dtype.kind == "f" and np.isinf(features[c]).any()]
    if infinite:
        raise ValueError(
            f"{path}: infinite values in feature columns {infinite}; replace or drop "
            "them first."
        )
    if frame[target].isna().any():
        raise ValueError(f"{path}: missing values in the target column {target!r}.")
    n_classes = frame[target].nunique()
    continuous = frame[target].dtype.kind == "f" and (frame[target] % 1 != 0).any()
    if continuous or n_classes > max(2, len(frame) / 2):
        detail = ", not all whole numbers" if continuous else ""
        raise ValueError(
            f"{path}: the target column {target!r} holds {n_classes} distinct values in "
            f"{len(frame)} rows{detail}: continuous values or an identifier, not class "
            "labels (or too few rows per class). Name the class column with --target."
        )
    if n_classes < 2:
        raise ValueError(
            f"{path}: the target column {target!r} has {n_classes} class(es); a "
            "comparison needs at least two."
        )
    frame.attrs["name"] = _dataset_name(path)
    frame.attrs["target"] = target
    return frame


def as_dataset(frame, target=None, name=None):
    """Split a loaded frame into the ``(name, X, y)`` triple the comparison takes.

    Parameters
    ----------
    frame : pandas.DataFrame
        As returned by :func:`load_default` or :func:`load_csv`.
    target : str, default=None
        The class column; ``None`` uses ``frame.attrs["target"]``, else ``"target"``.
    name : str, default=None
        The data set's name; ``None`` uses ``frame.attrs["name"]``.

    Returns
    -------
    name : str
    X : ndarray of shape (n_samples, n_features), float64
    y : ndarray of shape (n_samples,)
    """
    target = target or frame.attrs.get("target", "target")
    name = name or frame.attrs.get("name", "data")
    X = frame.drop(columns=target).to_numpy(dtype=np.float64)
    y = frame[target].to_numpy()
    return name, X, y


def iter_data_paths(paths):
    """Expand folders into their CSV files.

    Parameters
    ----------
    paths : iterable of str or path-like
        Files and folders, in the order given.

    Yields
    ------
    path : pathlib.Path
        Each file as given (whether or not it exists, so that the loader reports a
        missing one), and for each folder its ``*.csv`` files, compressed or not (see
        :func:`load_csv`), sorted by name.
    """
    for path in map(Path, paths):
        if path.is_dir():
            yield from sorted(
                p for p in path.iterdir()
                if p.is_file() and p.name.lower().endswith(_CSV_SUFFIXES)
            )
        else:
            yield path
