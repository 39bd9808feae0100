"""The methods registry and run_comparison: scores, seeds, n_jobs, failures, the journal,
interruptions and Dask."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pandas as pd
import pytest
from imblearn.pipeline import Pipeline as ImbPipeline
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from skorch.callbacks import Callback

from sk_imbaloss import ImbalancedNeuralClassifier
from sk_imbaloss._results import METHOD_NAMES
from sk_imbaloss.compare import (
    DEFAULT_METHODS,
    METHODS,
    METRICS,
    Interrupted,
    check_dataset,
    resolve_methods,
    run_comparison,
)
from sk_imbaloss.datasets import as_dataset, load_default
from sk_imbaloss.journal import Journal, SettingsMismatch

FAST = dict(folds=2, repeats=1, max_epochs=3, progress=False)
# A net, a resampler, threshold tuning and a tree ensemble: every kind of method.
SUBSET = ["adaptive", "smote", "ce-threshold", "hgb-balanced"]
IDENTITY = ["dataset", "method", "repeat", "fold", "seed"]


@pytest.fixture(scope="module")
def diabetes():
    return as_dataset(load_default())


@pytest.fixture(scope="module")
def baseline(diabetes):
    """The subset, sequentially, with seed 0: what the other runs must reproduce."""
    return run_comparison([diabetes], SUBSET, seed=0, n_jobs=1, **FAST)


def _scores(results):
    return results[IDENTITY + list(METRICS)]


def test_method_names():
    assert list(METHODS) == [
        "adaptive", "adaptive-seed", "focal", "margin", "ce", "ce-balanced",
        "ce-effective", "balanced-batches",
        "smote", "borderline-smote", "adasyn", "random-over", "random-under",
        "smote-tomek", "ce-threshold", "logreg-balanced", "balanced-rf", "hgb-balanced",
    ]
    assert set(DEFAULT_METHODS) <= set(METHODS)
    # The command line offers the names without importing the runner (torch).
    assert tuple(METHODS) == METHOD_NAMES
    assert list(resolve_methods(["all"])) == list(METHODS)
    with pytest.raises(ValueError, match="Unknown method 'nope'; choose from adaptive"):
        resolve_methods(["nope"])


@pytest.mark.parametrize("name", list(METHODS))
def test_every_method_scales_first_and_is_seeded(name):
    model = METHODS[name](7, 3)
    assert isinstance(model, (Pipeline, ImbPipeline))
    assert isinstance(model.steps[0][1], StandardScaler)
    clone(model)  # a valid unfitted estimator
    nets = [v for k, v in model.get_params().items()
            if isinstance(v, ImbalancedNeuralClassifier)]
    for net in nets:  # every net shares the defaults, the budget and the seed
        assert (net.max_epochs, net.random_state) == (3, 7)
        assert net.hidden_units == (64, 64)
    params = model.get_params()
    for key, value in params.items():
        if key.endswith("random_state") and value is not None:
            assert value == 7, key


def test_loss_methods_use_their_criterion():
    expected = {"adaptive": ("adaptive", None), "focal": ("focal", None),
                "margin": ("margin", None), "ce": ("ce", None),
                "ce-balanced": ("ce", "balanced")}
    for name, (criterion, class_weight) in expected.items():
        net = METHODS[name](0, 3).named_steps["net"]
        assert (net.criterion, net.class_weight) == (criterion, class_weight)


def test_all_methods_run_on_the_default_data(diabetes):
    results = run_comparison([diabetes], ["all"], **FAST)
    assert list(results.columns) == [*IDENTITY, *METRICS, "fit_seconds", "status", "error"]
    assert len(results) == len(METHODS) * 2
    assert results["method"].unique().tolist() == list(METHODS)
    assert results["error"].isna().all(), results["error"].dropna().tolist()
    assert (results["status"] == "ok").all()
    for metric in METRICS:
        low = -1 if metric == "mcc" else 0
        assert results[metric].between(low, 1).all(), metric
    assert (results["fit_seconds"] > 0).all()
    # threshold tuning changes decisions, never the probabilities
    by_method = results.set_index(["method", "fold"])["roc_auc"]
    assert np.allclose(by_method["ce-threshold"], by_method["ce"])


def test_same_seed_same_results(diabetes, baseline):
    again = run_comparison([diabetes], SUBSET, seed=0, **FAST)
    pd.testing.assert_frame_equal(_scores(again), _scores(baseline))
    other = run_comparison([diabetes], SUBSET, seed=1, **FAST)
    assert not np.allclose(other["roc_auc"], baseline["roc_auc"])


def test_results_do_not_depend_on_n_jobs(diabetes, baseline):
    parallel = run_comparison([diabetes], SUBSET, seed=0, n_jobs=2, **FAST)
    pd.testing.assert_frame_equal(_scores(parallel), _scores(baseline))


def test_a_journal_keeps_every_fit_and_a_run_again_fits_only_the_missing(
        diabetes, baseline, tmp_path, monkeypatch):
    with Journal(tmp_path) as journal:
        first = run_comparison([diabetes], SUBSET[:2], seed=0, journal=journal, **FAST)
        assert len(journal) == 4
    pd.testing.assert_frame_equal(_scores(first), _scores(baseline[baseline.method.isin(
        SUBSET[:2])].reset_index(drop=True)))

    from sk_imbaloss import compare

    ran, run_job = [], compare._run_job
    monkeypatch.setattr(compare, "_run_job", lambda *args: ran.append(args[0]) or
                        run_job(*args))
    with Journal(tmp_path) as journal:  # two methods added: only their fits run
        again = run_comparison([diabetes], SUBSET, seed=0, journal=journal, **FAST)
        assert len(journal) == 8
    assert sorted({key["method"] for key in ran}) == sorted(SUBSET[2:]) and len(ran) == 4
    pd.testing.assert_frame_equal(_scores(again), _scores(baseline))
    assert list(again.columns) == list(baseline.columns)
    assert (again.dtypes == baseline.dtypes).all()

    with Journal(tmp_path) as journal, pytest.raises(SettingsMismatch) as info:
        run_comparison([diabetes], SUBSET, seed=1, journal=journal, **FAST)
    assert info.value.differences == ["seed: 0 there, 1 now"]
    X, y = diabetes[1].copy(), diabetes[2]
    X[0, 0] += 1
    with Journal(tmp_path) as journal, pytest.raises(SettingsMismatch, match="content: "):
        run_comparison([(diabetes[0], X, y)], SUBSET, seed=0, journal=journal, **FAST)


class _CtrlCAtEpoch(Callback):
    """Sends this process SIGINT at the end of the second epoch, as Ctrl-C would."""

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == 2:
            os.kill(os.getpid(), signal.SIGINT)


def _cut_short(seed, max_epochs):
    return Pipeline([("scale", StandardScaler()), ("net", ImbalancedNeuralClassifier(
        max_epochs=5, random_state=seed, callbacks=[_CtrlCAtEpoch()]))])


def test_ctrl_c_in_a_fit_stops_the_run_and_the_cut_fit_is_never_scored(diabetes, tmp_path):
    # skorch's fit loop catches KeyboardInterrupt and keeps the half-trained model;
    # the comparison must stop instead of scoring it.
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    methods = {"logreg-balanced": METHODS["logreg-balanced"], "cut": _cut_short}
    with Journal(tmp_path) as journal, pytest.raises(Interrupted) as info:
        run_comparison([diabetes], methods, journal=journal, **FAST)
    assert (info.value.signum, info.value.exit_status) == (signal.SIGINT, 130)
    assert str(info.value) == "interrupted by SIGINT"
    with Journal(tmp_path) as journal:  # the first fold of logreg only
        assert journal.keys() == {("diabetes-top10", "logreg-balanced", 0, 0)}
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
    # The estimator on its own keeps skorch's convention: Ctrl-C ends training early.
    _, X, y = diabetes
    net = _cut_short(0, 5).fit(X, y).named_steps["net"]
    assert len(net.history) == 2


@pytest.mark.parametrize("classes, scale", [(["no", "yes"], 0.5), ([3, 5, 7], 1.0)])
def test_brier_is_the_squared_error_of_the_probabilities(classes, scale):
    from sk_imbaloss.compare import _scores

    # Mean over rows of the squared error summed over the classes; halved for two
    # classes, where it is the usual one of the minority probability.
    rng = np.random.default_rng(0)
    y = np.array(classes * 4)
    proba = rng.dirichlet(np.ones(len(classes)), size=len(y))
    onehot = (y[:, None] == np.array(classes)).astype(float)
    scores = _scores(y, y, proba, np.array(classes), classes[-1])
    assert scores["brier"] == pytest.approx(scale * ((onehot - proba) ** 2).sum(1).mean())
    if len(classes) == 2:
        assert scores["brier"] == pytest.approx(((onehot[:, 1] - proba[:, 1]) ** 2).mean())


def test_minority_too_small_is_named():
    X = np.arange(40, dtype=float).reshape(20, 2)
    y = np.array([0] * 17 + [1] * 3)
    with pytest.raises(ValueError, match=r"Data set 'tiny': the minority class 1 has 3 "
                                         r"sample\(s\), but 5-fold .* at least 5"):
        run_comparison([("tiny", X, y)], ["ce"], folds=5, progress=False)
    check_dataset("tiny", X, y, folds=3)  # enough for three folds


def test_duplicate_names_are_refused(diabetes):
    with pytest.raises(ValueError, match="unique"):
        run_comparison([diabetes, diabetes], ["ce"], **FAST)


def _broken(seed, max_epochs):
    # A pipeline whose fit raises: C must be positive.
    return Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(C=-1.0))])


def _no_proba(seed, max_epochs):
    # Fits, then has no predict_proba: a failure after the fit.
    return Pipeline([("scale", StandardScaler()), ("clf", LinearSVC(random_state=seed))])


def test_failures_are_recorded_and_binary_only_methods_skipped_on_multiclass():
    X, y = load_iris(return_X_y=True)
    keep = np.r_[0:100, 100:110]  # three classes, the last a minority of 10
    methods = {"margin": METHODS["margin"], "ce-threshold": METHODS["ce-threshold"],
               "logreg-balanced": METHODS["logreg-balanced"], "broken": _broken,
               "no-proba": _no_proba}
    results = run_comparison([("iris", X[keep], y[keep])], methods, **FAST)
    errors = results.groupby("method", sort=False)["error"].first()
    statuses = results.groupby("method", sort=False)["status"].unique().map(list)
    for method in ("margin", "ce-threshold"):
        assert errors[method] == f"{method} is binary only and iris has 3 classes"
        assert statuses[method] == ["skipped"]
    assert statuses["broken"] == statuses["no-proba"] == ["failed"]
    assert statuses["logreg-balanced"] == ["ok"]
    assert "InvalidParameterError" in errors["broken"] and "'C'" in errors["broken"]
    assert "predict_proba" in errors["no-proba"]
    assert pd.isna(errors["logreg-balanced"])
    failed = results["method"] != "logreg-balanced"
    assert results.loc[failed, [*METRICS, "fit_seconds"]].isna().all().all()
    assert results.loc[~failed, [*METRICS, "fit_seconds"]].notna().all().all()


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    # In-process workers on loopback TCP: a real scheduler address, started quickly.
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, protocol="tcp",
        host="127.0.0.1", dashboard_address=None,
    ) as local:
        yield local


def test_dask_scheduler_gives_the_local_results(diabetes, baseline, cluster, tmp_path):
    with Journal(tmp_path) as journal:
        remote = run_comparison([diabetes], SUBSET, seed=0, journal=journal,
                                scheduler=cluster.scheduler_address, **FAST)
        assert len(journal) == len(baseline)  # each fit journalled as it came back
    pd.testing.assert_frame_equal(_scores(remote), _scores(baseline))


@pytest.fixture
def not_a_scheduler():
    """``not_a_scheduler(answer)``: the address of a TCP server on loopback that is not
    a Dask scheduler; it answers like an HTTP server, or accepts and says nothing."""
    servers = []

    def start(answer):
        server = socket.create_server(("127.0.0.1", 0))
        servers.append(server)
        held = []

        def serve():
            while True:
                try:
                    connection, _ = server.accept()
                except OSError:  # closed at the end of the test
                    return
                held.append(connection)  # kept open: a silent peer
                if answer:
                    connection.recv(1024)
                    connection.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

        threading.Thread(target=serve, daemon=True).start()
        return f"tcp://127.0.0.1:{server.getsockname()[1]}"

    yield start
    for server in servers:
        server.close()


@pytest.mark.parametrize("answer, cause", [
    (True, "what answers there is not a Dask scheduler"),
    (False, "it accepted the connection but did not answer as a Dask scheduler in 2 s"),
])
def test_a_server_that_is_not_a_scheduler_fails_quickly_in_one_line(
        diabetes, not_a_scheduler, answer, cause):
    pytest.importorskip("distributed")
    address = not_a_scheduler(answer)
    start = time.monotonic()
    with pytest.raises(ConnectionError) as info:
        run_comparison([diabetes], ["ce"], scheduler=address, scheduler_timeout=2, **FAST)
    assert time.monotonic() - start < 10
    assert str(info.value).startswith(f"cannot use the Dask scheduler at {address}: {cause}")
    assert "\n" not in str(info.value)


def test_tls_scheduler_with_the_dask_configuration(diabetes, baseline, tmp_path):
    dask = pytest.importorskip("dask")
    distributed = pytest.importorskip("distributed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"no openssl to make a test certificate: {exc}")
    roles = {f"tls_{role}_{kind}": str(path) for role in ("scheduler", "worker", "client")
             for kind, path in (("cert", cert), ("key", key))}
    security = distributed.Security(tls_ca_file=str(cert), require_encryption=True, **roles)
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, protocol="tls",
        host="127.0.0.1", dashboard_address=None, security=security,
    ) as cluster:
        address = cluster.scheduler_address
        with pytest.raises(ConnectionError, match="tls:// needs Dask's TLS configuration"):
            run_comparison([diabetes], ["ce"], scheduler=address, **FAST)
        config = {"distributed.comm.tls.ca-file": str(cert),
                  "distributed.comm.tls.client.cert": str(cert),
                  "distributed.comm.tls.client.key": str(key)}
        with dask.config.set(config):
            remote = run_comparison([diabetes], SUBSET[:1], seed=0, scheduler=address, **FAST)
    pd.testing.assert_frame_equal(_scores(remote), _scores(baseline[:2]))


def test_dask_workers_with_several_threads_are_refused(diabetes):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, protocol="tcp",
        host="127.0.0.1", dashboard_address=None,
    ) as threaded, pytest.raises(ValueError, match="--nthreads 1"):
        run_comparison([diabetes], SUBSET, seed=0, scheduler=threaded.scheduler_address,
                       **FAST)


def test_grid_search_on_dask(diabetes, cluster):
    from distributed import Client
    from joblib import parallel_backend
    from sklearn.model_selection import GridSearchCV

    _, X, y = diabetes
    grid = GridSearchCV(
        ImbalancedNeuralClassifier(max_epochs=3, random_state=0),
        {"criterion": ["ce", "focal"], "class_weight": [None, "balanced"]},
        cv=2, scoring="balanced_accuracy",
    )
    with Client(cluster.scheduler_address), parallel_backend("dask"):
        grid.fit(X, y)
    local = clone(grid).set_params(n_jobs=1).fit(X, y)
    assert len(grid.cv_results_["params"]) == 4
    assert np.isfinite(grid.cv_results_["mean_test_score"]).all()
    np.testing.assert_allclose(grid.cv_results_["mean_test_score"],
                               local.cv_results_["mean_test_score"])


def test_missing_distributed_says_what_to_install(diabetes, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match=r"pip install \"dask\[distributed\]\""):
        run_comparison([diabetes], ["ce"], scheduler="tcp://127.0.0.1:1", **FAST)


def test_the_practitioners_methods_configure_the_estimator():
    effective = METHODS["ce-effective"](7, 3)[-1]
    balanced = METHODS["balanced-batches"](7, 3)[-1]
    assert (effective.criterion, effective.class_weight) == ("ce", "effective")
    assert (balanced.criterion, balanced.sampling, balanced.class_weight) == (
        "ce", "balanced", None)
