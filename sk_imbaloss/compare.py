"""The head-to-head: the losses against resampling, threshold tuning and classic baselines.

:data:`METHODS` maps each method's name to a factory ``factory(seed, max_epochs)`` that
returns an unfitted pipeline; :func:`run_comparison` cross-validates them on several
data sets and returns one row of test-fold scores per (data set, method, repeat, fold),
keeping each in a :class:`~sk_imbaloss.journal.Journal` as it finishes when given one.
"""

import asyncio
import hashlib
import os
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from functools import cache, partial
from operator import itemgetter

import numpy as np
import pandas as pd
import torch
from imblearn.combine import SMOTETomek
from imblearn.ensemble import BalancedRandomForestClassifier
from imblearn.metrics import geometric_mean_score
from imblearn.over_sampling import ADASYN, SMOTE, BorderlineSMOTE, RandomOverSampler
from imblearn.pipeline import Pipeline as ImbPipeline
from imblearn.under_sampling import RandomUnderSampler
from joblib import Parallel, delayed, parallel_backend
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    average_precision_score,
    balanced_accuracy_score,
    brier_score_loss,
    f1_score,
    matthews_corrcoef,
    roc_auc_score,
)
from sklearn.model_selection import (
    RepeatedStratifiedKFold,
    StratifiedKFold,
    TunedThresholdClassifierCV,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from . import __version__
from ._process import Interrupted, init_worker, stop_on_signals
from ._results import COLUMNS, DEFAULT_METHODS, KEY, METRICS
from .classifier import ImbalancedNeuralClassifier

__all__ = [
    "BINARY_ONLY",
    "DEFAULT_METHODS",
    "METHODS",
    "METRICS",
    "Interrupted",
    "check_dataset",
    "resolve_methods",
    "run_comparison",
]


# ---------------------------------------------------------------------- methods
def _net(criterion, seed, max_epochs, **params):
    # Every net shares the estimator's default network and training budget, so that
    # the only difference between two net methods is how they handle the imbalance.
    return ImbalancedNeuralClassifier(
        criterion=criterion, max_epochs=max_epochs, random_state=seed, **params
    )


def _loss(criterion, seed, max_epochs, **params):
    return Pipeline([
        ("scale", StandardScaler()),
        ("net", _net(criterion, seed, max_epochs, **params)),
    ])


def _resampled(sampler, seed, max_epochs):
    # imblearn's Pipeline resamples the training fold only; the test fold is untouched.
    return ImbPipeline([
        ("scale", StandardScaler()),
        ("resample", sampler(random_state=seed)),
        ("net", _net("ce", seed, max_epochs)),
    ])


def _threshold(seed, max_epochs):
    # The decision threshold is tuned by an inner stratified CV on the training fold
    # only. The scaler sits outside it: its mean/std carry no label information.
    inner_cv = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
    return Pipeline([
        ("scale", StandardScaler()),
        ("net", TunedThresholdClassifierCV(
            _net("ce", seed, max_epochs),
            scoring="balanced_accuracy",
            cv=inner_cv,
            random_state=seed,
        )),
    ])


def _logreg(seed, max_epochs):
    return Pipeline([
        ("scale", StandardScaler()),
        ("clf", LogisticRegression(class_weight="balanced", max_iter=1000)),
    ])


def _balanced_rf(seed, max_epochs):
    # imblearn >= 0.13 defaults, spelled out: Chen et al.'s balanced random forest.
    return Pipeline([
        ("scale", StandardScaler()),
        ("clf", BalancedRandomForestClassifier(
            n_estimators=200,
            sampling_strategy="all",
            replacement=True,
            bootstrap=False,
            random_state=seed,
            n_jobs=1,
        )),
    ])


def _hgb(seed, max_epochs):
    return Pipeline([
        ("scale", StandardScaler()),
        ("clf", HistGradientBoostingClassifier(class_weight="balanced", random_state=seed)),
    ])


#: Method name -> ``factory(seed, max_epochs)`` returning an unfitted pipeline whose
#: first step is a ``StandardScaler``. The factories are picklable, so that process
#: and Dask workers receive them whatever their own copy of this dict holds.
METHODS = {
    "adaptive": partial(_loss, "adaptive"),
    "adaptive-seed": partial(_loss, "adaptive-seed"),
    "focal": partial(_loss, "focal"),
    "margin": partial(_loss, "margin"),
    "ce": partial(_loss, "ce"),
    "ce-balanced": partial(_loss, "ce", class_weight="balanced"),
    "ce-effective": partial(_loss, "ce", class_weight="effective"),
    "balanced-batches": partial(_loss, "ce", sampling="balanced"),
    "smote": partial(_resampled, SMOTE),
    "borderline-smote": partial(_resampled, BorderlineSMOTE),
    "adasyn": partial(_resampled, ADASYN),
    "random-over": partial(_resampled, RandomOverSampler),
    "random-under": partial(_resampled, RandomUnderSampler),
    "smote-tomek": partial(_resampled, SMOTETomek),
    "ce-threshold": _threshold,
    "logreg-balanced": _logreg,
    "balanced-rf": _balanced_rf,
    "hgb-balanced": _hgb,
}

#: Methods that need exactly two classes; skipped, with the reason, on other data.
BINARY_ONLY = frozenset({"margin", "ce-threshold"})


def resolve_methods(names):
    """Turn method names (or ``"all"``) into a ``{name: factory}`` dict, in order.

    Parameters
    ----------
    names : iterable of str or mapping of str to callable
        Names from :data:`METHODS`, ``"all"`` for every method, or a mapping of
        your own names to ``factory(seed, max_epochs)`` callables.

    Returns
    -------
    methods : dict of str to callable

    Raises
    ------
    ValueError
        For an unknown name; the message lists the valid ones.
    """
    if hasattr(names, "items"):
        return dict(names)
    if isinstance(names, str):
        names = [names]
    resolved = {}
    for name in names:
        if name == "all":
            resolved.update(METHODS)
        elif name in METHODS:
            resolved[name] = METHODS[name]
        else:
            raise ValueError(
                f"Unknown method {name!r}; choose from {', '.join(METHODS)} or 'all'."
            )
    if not resolved:
        raise ValueError("No methods to compare.")
    return resolved


# ---------------------------------------------------------------------- data checks
def _minority_label(y):
    labels, counts = np.unique(y, return_counts=True)
    # ``item`` turns numpy scalars into Python ones, for readable messages.
    return np.asarray(labels[np.argmin(counts)]).item(), int(counts.min()), len(labels)


def check_dataset(name, X, y, folds):
    """Check that a data set can be cross-validated with ``folds`` stratified folds.

    Parameters
    ----------
    name : str
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    folds : int

    Raises
    ------
    ValueError
        Naming the data set, when ``X`` and ``y`` disagree in length, ``y`` has one
        class only, or the minority class has fewer than ``folds`` samples (every test
        fold needs at least one).
    """
    y = np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"Data set {name!r}: X has {len(X)} rows but y has {len(y)}.")
    label, n_minority, n_classes = _minority_label(y)
    if n_classes < 2:
        raise ValueError(f"Data set {name!r}: y has one class only ({label!r}).")
    if n_minority < folds:
        raise ValueError(
            f"Data set {name!r}: the minority class {label!r} has {n_minority} "
            f"sample(s), but {folds}-fold stratified cross-validation needs at least "
            f"{folds} (one per test fold)"
            + ("; use fewer folds." if n_minority >= 2 else "; it cannot be cross-validated.")
        )


# ---------------------------------------------------------------------- one job
def _job_seed(seed, split_index):
    """A seed for one split, derived from the user's seed and the split's index only.

    ``SeedSequence`` mixes the two into well-separated streams, and no global RNG
    state is read, so a job computes the same numbers in any process and any order.
    The shift keeps it below 2**31, valid for numpy, sklearn and torch alike.
    """
    return int(np.random.SeedSequence([seed, split_index]).generate_state(1)[0] >> 1)


@cache
def _warm_up():
    """Fit a tiny net once per process, before any fit is timed.

    The first fit in a process pays torch's lazy imports (over a second, in the
    optimizer's constructor); without this, ``fit_seconds`` would charge them to
    whichever method happens to run first in each worker.
    """
    X = np.linspace(-1, 1, 16, dtype=np.float32).reshape(8, 2)
    ImbalancedNeuralClassifier(max_epochs=1, random_state=0).fit(X, np.arange(8) % 2)


@contextmanager
def _single_threaded():
    # Jobs are the unit of parallelism. One thread per fit avoids oversubscribing the
    # cores when jobs run side by side, and keeps torch's and BLAS's reduction order
    # the same whether the jobs run in this process or in workers, so that results do
    # not depend on n_jobs.
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        torch.set_num_threads(previous)


def _scores(y_true, y_pred, proba, classes, minority):
    """The test-fold metrics; the minority class is the positive one."""
    positive = list(classes).index(minority)
    is_minority = y_true == minority
    if len(classes) == 2:
        roc_auc = roc_auc_score(is_minority, proba[:, positive])
    else:
        roc_auc = roc_auc_score(y_true, proba, multi_class="ovr", labels=classes)
    return {
        "balanced_accuracy": balanced_accuracy_score(y_true, y_pred),
        "g_mean": geometric_mean_score(y_true, y_pred, average="multiclass"),
        "roc_auc": roc_auc,
        "average_precision": average_precision_score(is_minority, proba[:, positive]),
        "minority_f1": f1_score(
            y_true, y_pred, labels=[minority], average="macro", zero_division=0.0
        ),
        "mcc": matthews_corrcoef(y_true, y_pred),
        # The multi-class Brier (summed over the classes) for 3 classes or more; halved
        # for 2, where it is the usual one of the minority probability.
        "brier": brier_score_loss(y_true, proba, labels=classes),
    }


def _run_job(key, factory, X, y, train, test, seed, max_epochs, minority):
    """Fit one method on one training fold and score it on the test fold.

    Returns the result row; an exception becomes the row's ``error`` (status
    ``"failed"``) instead of stopping the whole comparison. An interruption is not an
    exception: :class:`Interrupted` passes through, and the cut fit is never scored.
    """
    row = dict(key, seed=seed, **dict.fromkeys(METRICS, np.nan),
               fit_seconds=np.nan, status="failed", error=None)
    try:
        with _single_threaded(), warnings.catch_warnings():
            # Degenerate folds (no predicted positives) are scored, not warned about.
            warnings.filterwarnings("ignore", module="sklearn.metrics")
            _warm_up()
            model = factory(seed, max_epochs)
            start = time.perf_counter()
            model.fit(X[train], y[train])
            seconds = time.perf_counter() - start
            proba = model.predict_proba(X[test])
            y_pred = model.predict(X[test])
            row.update(_scores(y[test], y_pred, proba, model.classes_, minority))
            row.update(fit_seconds=seconds, status="ok")  # only for a scored fold
    except Exception as exc:  # noqa: BLE001 - any failure is recorded, see docstring
        row["error"] = f"{type(exc).__name__}: {exc}"
    return row


# ---------------------------------------------------------------------- the run
def _jobs(datasets, methods, folds, repeats, max_epochs, seed):
    """Yield the job arguments, and the rows of methods skipped without a fit."""
    cv = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    for name, X, y in datasets:
        minority, _, n_classes = _minority_label(y)
        for split, (train, test) in enumerate(cv.split(X, y)):
            repeat, fold = divmod(split, folds)
            job_seed = _job_seed(seed, split)
            for method, factory in methods.items():
                key = dict(dataset=name, method=method, repeat=repeat, fold=fold)
                if method in BINARY_ONLY and n_classes != 2:
                    yield None, dict(
                        key, seed=job_seed, **dict.fromkeys(METRICS, np.nan),
                        fit_seconds=np.nan, status="skipped",
                        error=f"{method} is binary only and {name} has "
                              f"{n_classes} classes",
                    )
                    continue
                yield (key, factory, X, y, train, test, job_seed, max_epochs,
                       minority), None


def _check_scheduler(address, security, timeout):
    """Raise ConnectionError, in one line and within about ``timeout`` seconds, when
    ``address`` is not a Dask scheduler this process can talk to.

    distributed bounds the TCP connection but not the handshake after it: a server
    that accepts and stays silent holds the client until it hangs up, and one that
    answers in another protocol (an HTTP port) has it allocate whatever size its first
    bytes spell. So the handshake is tried here first, under a deadline.
    """
    from distributed.comm import connect
    from distributed.comm.core import CommClosedError

    connection_args = security.get_connection_args("client")
    if address.startswith("tls://") and connection_args.get("ssl_context") is None:
        raise ConnectionError(
            f"cannot use the Dask scheduler at {address}: tls:// needs Dask's TLS "
            "configuration (distributed.comm.tls.ca-file, .client.cert and .client.key, "
            "e.g. DASK_DISTRIBUTED__COMM__TLS__CA_FILE=ca.pem and the like)."
        )

    async def handshake():
        # A second beyond connect's own timeout, so that a port where nothing listens
        # is reported by connect itself.
        comm = await asyncio.wait_for(
            connect(address, timeout=timeout, **connection_args), timeout + 1)
        await comm.close()

    try:
        # A thread with its own event loop, whatever loop the caller may be running.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, handshake()).result()
    except (asyncio.TimeoutError, TimeoutError):
        cause = (f"it accepted the connection but did not answer as a Dask scheduler in "
                 f"{timeout:g} s")
    except CommClosedError:
        cause = "it closed the connection: what listens there is not a Dask scheduler"
    except OSError as exc:
        cause = f"{exc} (is a scheduler running there, at that port?)"
    except Exception as exc:  # noqa: BLE001 - whatever it answered, it is not Dask's
        cause = (f"what answers there is not a Dask scheduler ({type(exc).__name__}); "
                 "a scheduler listens on 8786 by default, its dashboard on 8787")
    else:
        return
    raise ConnectionError(f"cannot use the Dask scheduler at {address}: {cause}.")


def _check_address(address):
    """Raise ValueError, in one line, for a scheduler address that is not one."""
    if not isinstance(address, str) or not address.strip():
        raise ValueError(f"the Dask scheduler's address must be a non-empty string "
                         f"such as tcp://HOST:8786; got {address!r}.")


@contextmanager
def _dask_backend(address, timeout):
    try:
        from distributed import Client, Security
        from distributed.comm import parse_address
        from distributed.comm.registry import backends
    except ImportError as exc:
        raise ImportError(
            "Running on a Dask scheduler needs the 'distributed' package: "
            "pip install \"dask[distributed]\" (the \"distributed\" extra)"
        ) from exc
    scheme, _ = parse_address(address, strict=False)  # no scheme: tcp
    if scheme not in backends:
        raise ValueError(f"the Dask scheduler's address {address}: unknown scheme "
                         f"{scheme}://; use one of {', '.join(sorted(backends))}.")
    # TLS certificates come from the Dask configuration.
    security = Security()
    _check_scheduler(address, security, timeout)
    # Closing this client leaves the user's cluster running.
    with Client(address, security=security, timeout=timeout) as client:
        threaded = sorted(w for w, n in client.nthreads().items() if n > 1)
        if threaded:
            # Jobs in threads of one process share torch's random generator, its
            # thread count and the warning filters: their results would depend on
            # which jobs happen to run side by side.
            raise ValueError(
                f"the Dask workers {threaded} run several threads each; jobs side by "
                "side in one process share torch's random generator and thread count, "
                "so the results would not be reproducible. Start the workers with one "
                f"thread each: dask worker {address} --nthreads 1 --nworkers N."
            )
        with parallel_backend("dask"):
            yield


def _content_hash(X, y):
    """A short digest of a data set's values, for the journal to tell data apart."""
    digest = hashlib.sha256(repr(X.shape).encode())
    digest.update(np.ascontiguousarray(X).tobytes())
    digest.update("\0".join(map(str, y.tolist())).encode())
    return digest.hexdigest()[:16]


_key = itemgetter(*KEY)


def run_comparison(
    datasets,
    methods=DEFAULT_METHODS,
    folds=5,
    repeats=2,
    max_epochs="auto",
    seed=0,
    n_jobs=1,
    progress=True,
    scheduler=None,
    scheduler_timeout=10,
    journal=None,
):
    """Cross-validate every method on every data set.

    Each data set is split by ``RepeatedStratifiedKFold(folds, repeats, seed)``; every
    method is fitted on each training fold (scaling, resampling and threshold tuning
    included) and scored on the test fold. The minority class (the least frequent)
    is the positive class of average precision, ROC-AUC and minority F1.

    SIGINT (Ctrl-C) and SIGTERM stop the run with :class:`Interrupted`; a fit they cut
    short is never scored, and with a ``journal`` every finished fit is kept there.

    Parameters
    ----------
    datasets : list of (name, X, y)
        Names must be unique; ``X`` numeric without NaN, ``y`` class labels.
    methods : iterable of str or mapping, default=DEFAULT_METHODS
        Names from :data:`METHODS`, ``"all"``, or a ``{name: factory}`` mapping.
    folds : int, default=5
    repeats : int, default=2
    max_epochs : int or 'auto', default='auto'
        Training epochs of every net; ``'auto'`` is the estimator's default (40, or
        enough for 500 gradient steps on small data).
    seed : int, default=0
        Seeds the splits and, through a seed derived from ``(seed, split index)``,
        every estimator; the results depend on nothing else.
    n_jobs : int, default=1
        Jobs run in parallel (joblib); the results do not depend on it.
    progress : bool, default=True
        Show a tqdm progress bar on stderr.
    scheduler : str, default=None
        Address of a Dask scheduler (``"tcp://host:8786"``, or ``"tls://..."`` with
        Dask's TLS configuration); the jobs then run on its workers through joblib's
        ``dask`` backend, as many at once as it has workers, and ``n_jobs`` is not
        used. The cluster runs whatever it is sent (pickled code and data travel
        both ways): use only one you trust. Each worker must run one thread (``dask
        worker ADDRESS --nthreads 1``; a ValueError says so otherwise): torch's random
        generator and thread count are process-wide. Needs ``pip install
        "dask[distributed]"``.
    scheduler_timeout : float, default=10
        Seconds to wait for the scheduler to answer before giving up (a
        ConnectionError), and the time the Dask client is given to connect.
    journal : Journal, default=None
        Where each fit is recorded as it finishes (see
        :class:`~sk_imbaloss.journal.Journal`). Fits it already holds are not run
        again, so a run repeated after an interruption completes the missing ones
        only; the journal must agree on the settings (folds, repeats, max_epochs,
        seed, this package's version and the content of each data set of the same
        name) or :class:`~sk_imbaloss.journal.SettingsMismatch` is raised. Methods
        are known by name: a changed factory under an old name is not noticed.

    Returns
    -------
    results : pandas.DataFrame
        One row per (dataset, method, repeat, fold), in that order, with columns
        ``dataset, method, repeat, fold, seed``, the :data:`METRICS`,
        ``fit_seconds``, ``status`` (``"ok"``, ``"failed"`` or ``"skipped"`` where
        the method does not apply to the data set) and ``error`` (``None``, or why
        the fold failed or was skipped; its scores are then NaN).

    Raises
    ------
    ValueError
        For an unknown method, duplicate data set names, or a data set whose minority
        class has fewer than ``folds`` samples (see :func:`check_dataset`).
    Interrupted
        On SIGINT or SIGTERM.
    """
    methods = resolve_methods(methods)
    if scheduler is not None:
        _check_address(scheduler)
    datasets = [(name, np.asarray(X, dtype=np.float64), np.asarray(y))
                for name, X, y in datasets]
    names = [name for name, _, _ in datasets]
    if len(set(names)) != len(names):
        raise ValueError(f"Data set names must be unique; got {names}.")
    for name, X, y in datasets:
        check_dataset(name, X, y, folds)
    return _run(datasets, methods, folds, repeats, max_epochs, seed, n_jobs, progress,
                scheduler, scheduler_timeout, journal)


def _run(datasets, methods, folds, repeats, max_epochs, seed, n_jobs, progress,
         scheduler, scheduler_timeout, journal):
    """:func:`run_comparison` on data sets already checked, with methods resolved."""
    with stop_on_signals():
        done = set()
        if journal is not None:
            # Per data set: a run on other data (the demo, then a user's files) into the
            # same --out adds its fits; the same data under other settings is refused.
            journal.check_settings({
                name: {"sk_imbaloss": __version__, "folds": folds, "repeats": repeats,
                       "max_epochs": max_epochs, "seed": seed,
                       "content": _content_hash(X, y)}
                for name, X, y in datasets})
            done = journal.keys()

        planned, jobs, rows = set(), [], []
        for args, skipped in _jobs(datasets, methods, folds, repeats, max_epochs, seed):
            key = _key(skipped or args[0])
            planned.add(key)
            if key in done:
                continue
            if skipped is None:
                jobs.append(args)
            else:
                rows.append(skipped)
                if journal is not None:
                    journal.record(skipped)
        resumed = planned & done

        backend = (nullcontext() if scheduler is None
                   else _dask_backend(scheduler, scheduler_timeout))
        with backend, tqdm(total=len(planned), initial=len(resumed), disable=not progress,
                           desc=f"compare ({len(resumed)} done before)" if resumed
                           else "compare", unit="fit") as bar:
            parallel = Parallel(n_jobs=-1 if scheduler else n_jobs,
                                return_as="generator_unordered", initializer=init_worker,
                                initargs=(os.getpid(),))
            for row in parallel(delayed(_run_job)(*args) for args in jobs):
                if journal is not None:
                    journal.record(row)
                rows.append(row)
                bar.update()

        if resumed:
            rows += [row for row in journal.rows() if _key(row) in resumed]
    return _as_frame(rows, [name for name, _, _ in datasets], list(methods))


def _as_frame(rows, dataset_order, method_order):
    """Rows in a fixed order, whatever order the jobs finished in."""
    results = pd.DataFrame(rows, columns=list(COLUMNS))
    order = pd.DataFrame({
        "d": results["dataset"].map({n: i for i, n in enumerate(dataset_order)}),
        "m": results["method"].map({n: i for i, n in enumerate(method_order)}),
        "r": results["repeat"],
        "f": results["fold"],
    }).sort_values(["d", "m", "r", "f"]).index
    results = results.loc[order].reset_index(drop=True)
    # A journal gives back None for NaN, and numbers as Python's.
    return results.astype({"repeat": "int64", "fold": "int64", "seed": "int64",
                           **dict.fromkeys([*METRICS, "fit_seconds"], "float64")})
