"""``sk-imbaloss compare`` end to end, on the KEEL files beside the repository."""

import errno
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sk_imbaloss.cli import main
from sk_imbaloss.compare import METRICS
from sk_imbaloss.journal import Journal

ROOT = Path(__file__).resolve().parents[1]
KEEL_DIR = ROOT.parent / "shared" / "data" / "imbalanced"
FAST = ["--max-epochs", "3", "--folds", "2", "--repeats", "1", "--no-progress"]
KEY = ["dataset", "method", "repeat", "fold"]


@pytest.fixture(scope="module")
def keel():
    """``keel(name)``: the path of a KEEL file, or skip when the folder is absent."""
    if not KEEL_DIR.is_dir():
        pytest.skip(f"KEEL data folder not found at {KEEL_DIR} (../shared/data/imbalanced "
                    "seen from the repository root)")
    return lambda name: KEEL_DIR / f"{name}.csv.gz"


def test_compare_two_keel_files(keel, tmp_path, capsys):
    out = tmp_path / "out"
    status = main(["compare", str(keel("glass2")), str(keel("ecoli1")),
                   "--methods", "logreg-balanced", "ce-balanced", "smote",
                   "--out", str(out), *FAST])
    stdout = capsys.readouterr().out
    assert status == 0
    assert "glass2: 214 rows, 9 features, 17 minority" in stdout
    assert "ecoli1: 336 rows, 7 features, 77 minority" in stdout
    assert "G-mean" in stdout and "logreg-balanced" in stdout
    assert "Average rank over 2 data sets" in stdout
    assert str(out / "summary.md") in stdout and str(out / "results.csv") in stdout
    # The Brier score of the probabilities: a column of every table and of the results.
    table = stdout.split("glass2: ")[1].split("\n\n")[0]
    assert table.splitlines()[1].split() == ["G-mean", "AP", "bal-acc", "ROC-AUC", "F1-min",
                                             "MCC", "Brier", "fit-s"]
    ranks = stdout.split("Average rank over 2 data sets")[1].splitlines()[1].split()
    assert ranks == ["G-mean", "AP", "bal-acc", "ROC-AUC", "F1-min", "Brier"]
    # summary.md holds the tables printed: per data set, every metric and the fit time.
    summary = (out / "summary.md").read_text()
    for heading in ["## minority F1", "## MCC", "## Brier score", "## Fit time",
                    "## Average ranks"]:
        assert heading in summary
    assert "| glass2 | 214 | 9 | 2 | 17 |" in summary  # rows, features, classes, minority
    results = pd.read_csv(out / "results.csv")
    assert results["dataset"].unique().tolist() == ["glass2", "ecoli1"]
    assert results["method"].unique().tolist() == ["logreg-balanced", "ce-balanced", "smote"]
    assert len(results) == 2 * 3 * 2 and results["error"].isna().all()
    assert results["brier"].between(0, 1).all()
    assert (out / "box_g_mean.png").exists()


def test_bad_file_is_reported_and_the_others_run(keel, tmp_path, capsys):
    folder = tmp_path / "data"
    folder.mkdir()
    shutil.copy(keel("glass2"), folder / "glass2.csv.gz")
    (folder / "broken.csv").write_text("a,b,target\n1,x,0\n2,y,1\n")
    # A corrupt gzip, a truncated one and a corrupt zip, beside the good file.
    (folder / "corrupt.csv.gz").write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03garbage")
    (folder / "cut.csv.gz").write_bytes(keel("glass2").read_bytes()[:300])
    (folder / "corrupt.csv.zip").write_bytes(b"PK\x03\x04 not a zip")
    missing = tmp_path / "missing.csv"
    status = main(["compare", str(folder), str(missing), "--methods", "logreg-balanced",
                   "--out", str(tmp_path / "out"), *FAST])
    captured = capsys.readouterr()
    assert status == 0
    assert "broken.csv: non-numeric feature columns ['b']" in captured.err
    assert "missing.csv: no such file" in captured.err
    # The run goes on without them: skipped, not errors.
    assert "sk-imbaloss: error:" not in captured.err
    assert captured.err.count("sk-imbaloss: skipped: ") == 5
    for name, reason in [("corrupt.csv.gz", "error"), ("cut.csv.gz", "EOFError"),
                         ("corrupt.csv.zip", "BadZipFile")]:
        assert f"{folder / name}: cannot be read as CSV ({reason}: " in captured.err
    assert "glass2:" in captured.out
    results = pd.read_csv(tmp_path / "out" / "results.csv")
    assert results["dataset"].unique().tolist() == ["glass2"]


def test_nothing_usable_exits_non_zero(keel, tmp_path, capsys):
    # glass2 has 17 minority samples: too few for 18 folds
    status = main(["compare", str(keel("glass2")), str(tmp_path / "missing.csv"),
                   "--folds", "18", "--methods", "ce", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 1
    assert "Data set 'glass2': the minority class 1 has 17 sample(s)" in err
    assert "nothing to run" in err
    assert not (tmp_path / "out").exists()


def test_without_data_the_demo_runs_and_says_what_it_runs(tmp_path, capsys):
    from sk_imbaloss.datasets import DEMO_NAMES

    status = main(["compare", "--methods", "logreg-balanced", "--out", str(tmp_path),
                   "--no-progress"])
    stdout = capsys.readouterr().out
    assert status == 0
    assert stdout.startswith(
        f"built-in demo: 7 data sets ({', '.join(DEMO_NAMES)}), 3-fold CV x 1 repeat, "
        "methods logreg-balanced.")
    assert "diabetes-top10: 442 rows, 10 features, 44 minority" in stdout
    assert "wine-3-vs-rest: 178 rows, 13 features, 48 minority" in stdout
    assert "Average rank over 7 data sets" in stdout
    words = stdout.split("\nIn plain words:\n")[1]  # the end of the output
    assert " ".join(words.split()).startswith(
        "Average rank over 7 data sets (1 = best of 1): logreg-balanced leads on G-mean "
        "(1.00)")
    assert "Significance: not tested (the Friedman test needs at least 3 data sets and 3 " \
           "methods" in " ".join(words.split())
    results = pd.read_csv(tmp_path / "results.csv")
    assert results["dataset"].unique().tolist() == list(DEMO_NAMES)
    assert sorted(results["fold"].unique()) == [0, 1, 2] and set(results["repeat"]) == {0}


def test_the_demo_and_data_run_the_default_methods(tmp_path, capsys, monkeypatch):
    from sk_imbaloss import compare
    from sk_imbaloss._results import DEFAULT_METHODS

    runs = []

    def record(datasets, methods, **settings):
        runs.append((list(methods), settings["folds"], settings["repeats"]))
        raise ValueError("recorded")

    monkeypatch.setattr(compare, "run_comparison", record)
    assert main(["compare", "--out", str(tmp_path / "demo"), "--no-progress"]) == 1
    assert ("3-fold CV x 1 repeat, methods adaptive focal margin ce ce-balanced "
            "balanced-batches smote ce-threshold logreg-balanced balanced-rf. Give DATA "
            "(CSV files) to compare on your own data.") in capsys.readouterr().out
    frame = pd.DataFrame({"a": np.arange(40.0), "target": [0] * 30 + [1] * 10})
    frame.to_csv(tmp_path / "mine.csv", index=False)
    assert main(["compare", str(tmp_path / "mine.csv"), "--out", str(tmp_path / "out"),
                 "--no-progress"]) == 1
    assert runs == [(list(DEFAULT_METHODS), 3, 1), (list(DEFAULT_METHODS), 5, 2)]


def test_the_demo_takes_the_folds_given_and_data_gets_five_by_two(tmp_path, capsys):
    assert main(["compare", "--methods", "logreg-balanced", "--folds", "2", "--repeats",
                 "2", "--out", str(tmp_path / "demo"), "--no-progress"]) == 0
    assert "2-fold CV x 2 repeats" in capsys.readouterr().out
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=40), "target": [0] * 30 + [1] * 10})
    frame.to_csv(tmp_path / "mine.csv", index=False)
    assert main(["compare", str(tmp_path / "mine.csv"), "--methods", "logreg-balanced",
                 "--out", str(tmp_path / "out"), "--no-progress"]) == 0
    assert "built-in demo" not in capsys.readouterr().out
    results = pd.read_csv(tmp_path / "out" / "results.csv")
    assert results["fold"].nunique() == 5 and results["repeat"].nunique() == 2


def test_unknown_method_lists_the_valid_ones(capsys):
    with pytest.raises(SystemExit) as info:
        main(["compare", "--methods", "ce", "nope"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'nope'" in err
    assert "adaptive" in err and "hgb-balanced" in err and "all" in err


def test_missing_distributed_is_reported(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    status = main(["compare", "--methods", "ce", "--scheduler", "tcp://127.0.0.1:1",
                   "--out", str(tmp_path), *FAST])
    assert status == 1
    assert 'pip install "dask[distributed]"' in capsys.readouterr().err


def test_python_dash_m():
    done = subprocess.run([sys.executable, "-m", "sk_imbaloss", "compare", "--help"],
                          capture_output=True, text=True, check=True, env=_ENV)
    assert "--scheduler ADDRESS" in done.stdout and "--methods" in done.stdout
    text = " ".join(done.stdout.split())
    assert "The cluster runs what it is sent (pickled code and data, both ways): use only " \
           "one you trust." in text
    assert "--scheduler-file FILE" in text and "--fresh" in text


def test_the_command_line_starts_without_torch_pandas_or_sklearn():
    # --help and usage errors answer at once: the heavy imports wait for a command.
    code = ("import sys, sk_imbaloss, sk_imbaloss.cli; "
            "sk_imbaloss.cli.build_parser(); "
            "print(sorted(m for m in ('torch', 'pandas', 'sklearn', 'skorch') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, env=_ENV)
    assert done.stdout.strip() == "[]"


def test_the_package_imports_its_estimator_on_first_use():
    code = ("import sys, sk_imbaloss; before = 'torch' in sys.modules; "
            "from sk_imbaloss import ImbalancedNeuralClassifier, FocalLoss; "
            "import sk_imbaloss.classifier as c; "
            "assert ImbalancedNeuralClassifier is c.ImbalancedNeuralClassifier; "
            "assert set(sk_imbaloss.__all__) <= set(dir(sk_imbaloss)); "
            "assert all(getattr(sk_imbaloss, n) is not None for n in sk_imbaloss.__all__); "
            "print(before, 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, env=_ENV)
    assert done.stdout.split() == ["False", "True"]
    import sk_imbaloss

    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        sk_imbaloss.nope  # noqa: B018


# The subprocesses import this checkout, whatever is installed.
_ENV = {**os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
# A run long enough to interrupt: 8 fits of a net and a linear model.
_RUN = ["--methods", "ce", "logreg-balanced", "--max-epochs", "20", "--folds", "2",
        "--repeats", "2"]


def _fits(out):
    """How many fits the journal in ``out`` holds (0 before there is one)."""
    try:
        uri = f"file:{out / 'journal.sqlite'}?mode=ro"  # never creates the file
        with closing(sqlite3.connect(uri, uri=True)) as db:
            return db.execute("SELECT count(*) FROM fits").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.fixture(scope="module")
def uninterrupted(keel, tmp_path_factory):
    out = tmp_path_factory.mktemp("uninterrupted")
    assert main(["compare", str(keel("glass2")), *_RUN, "--no-progress", "--out", str(out)]) == 0
    return pd.read_csv(out / "results.csv").drop(columns="fit_seconds")


@pytest.mark.parametrize("signum, to_group, n_jobs", [
    (signal.SIGINT, True, "2"),  # Ctrl-C in a terminal: to the workers as well
    (signal.SIGTERM, False, "1"),
], ids=["ctrl-c-two-jobs", "sigterm-one-job"])
def test_an_interrupted_run_keeps_its_fits_and_resumes_to_the_same_results(
        keel, tmp_path, capsys, uninterrupted, signum, to_group, n_jobs):
    out = tmp_path / "out"
    args = ["compare", str(keel("glass2")), *_RUN, "--out", str(out)]
    run = subprocess.Popen([sys.executable, "-m", "sk_imbaloss", *args, "--n-jobs", n_jobs,
                            "--no-progress"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=_ENV, start_new_session=True)
    deadline = time.monotonic() + 120
    while _fits(out) < 2:
        assert run.poll() is None, run.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    (os.killpg if to_group else os.kill)(run.pid, signum)
    sent = time.monotonic()
    _, err = run.communicate(timeout=60)
    assert time.monotonic() - sent < 10
    assert run.returncode == 128 + signum
    assert (f"interrupted by {signal.Signals(signum).name}; the {_fits(out)} finished fits are "
            f"kept in {out / 'journal.sqlite'}. Run the same command again to resume.") in err
    assert "Traceback" not in err and not (out / "results.csv").exists()

    with Journal(out) as journal:  # every fit kept is whole: scored as in a whole run
        kept = pd.DataFrame(journal.rows())[uninterrupted.columns].sort_values(KEY)
    assert len(kept) >= 2
    whole = uninterrupted.merge(kept[KEY], on=KEY).sort_values(KEY)
    columns = [*KEY, "seed", *METRICS]  # compared as frames: NaN scores equal NaN
    pd.testing.assert_frame_equal(kept[columns].reset_index(drop=True),
                                  whole[columns].reset_index(drop=True), check_dtype=False)

    assert main(args) == 0  # resumed, in one job (the results do not depend on it)
    assert f"compare ({len(kept)} done before)" in capsys.readouterr().err
    resumed = pd.read_csv(out / "results.csv").drop(columns="fit_seconds")
    pd.testing.assert_frame_equal(resumed, uninterrupted)


def test_files_in_out_that_compare_did_not_write_are_left_alone(keel, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    mine = {"notes.txt": "mine", "box_mcc.png": "mine", "cd_roc_auc.png.old": "mine"}
    for name, text in mine.items():
        (out / name).write_text(text)
    args = ["compare", str(keel("glass2")), "--methods", "logreg-balanced", "--out",
            str(out), *FAST]
    assert main(args) == 0
    assert main(args) == 0  # replaces its own files
    assert {name: (out / name).read_text() for name in mine} == mine
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("link", [False, True], ids=["file", "link"])
def test_a_results_csv_compare_did_not_write_is_refused_before_the_run(
        keel, tmp_path, capsys, link):
    out, theirs = tmp_path / "out", tmp_path / "theirs.csv"
    out.mkdir()
    theirs.write_text("theirs")
    if link:
        (out / "results.csv").symlink_to(theirs)
    else:
        shutil.copy(theirs, out / "results.csv")
    status = main(["compare", str(keel("glass2")), "--methods", "logreg-balanced",
                   "--out", str(out), *FAST])
    assert status == 1
    assert (f"--out {out / 'results.csv'}: exists and was not written by sk-imbaloss; it "
            "is not replaced. Move it away or use another folder.") in capsys.readouterr().err
    assert theirs.read_text() == (out / "results.csv").read_text() == "theirs"
    assert _fits(out) == 0  # refused before any fit


def test_a_second_run_into_an_out_in_use_is_refused(tmp_path, capsys):
    with Journal(tmp_path):  # held as a run holds it (another process: test_journal.py)
        status = main(["compare", "--methods", "logreg-balanced", "--out", str(tmp_path),
                       *FAST])
    assert status == 1
    assert (f"--out {tmp_path}: in use by another run, which holds it until it ends"
            in capsys.readouterr().err)
    assert not (tmp_path / "results.csv").exists()


def test_a_run_with_other_settings_is_refused_until_fresh(tmp_path, capsys):
    args = ["compare", "--methods", "logreg-balanced", "--out", str(tmp_path), *FAST]
    assert main(args) == 0
    assert main([*args, "--seed", "3", "--max-epochs", "4"]) == 1
    err = capsys.readouterr().err
    assert (f"--out {tmp_path}: its journal was made with other settings (max_epochs: 3 "
            "there, 4 now; seed: 0 there, 3 now). Add --fresh to drop its 14 finished fits "
            "and start afresh, or use another --out.") in err
    assert main([*args, "--seed", "3", "--max-epochs", "4", "--fresh"]) == 0
    assert (pd.read_csv(tmp_path / "results.csv")["seed"] != 0).all()


def test_a_journal_without_a_column_of_the_results_is_refused_until_fresh(tmp_path, capsys):
    # A journal of an earlier version, without the Brier score: its fits are not mixed
    # with this run's (a column of NaN for them), and --fresh runs them again.
    args = ["compare", "--methods", "logreg-balanced", "--out", str(tmp_path), *FAST]
    assert main(args) == 0
    with closing(sqlite3.connect(tmp_path / "journal.sqlite")) as db, db:
        db.execute("ALTER TABLE fits DROP COLUMN brier")
    assert main(args) == 1
    assert (f"--out {tmp_path / 'journal.sqlite'}: its fits were recorded by another "
            "version of sk-imbaloss, without brier; start afresh (--fresh) to run them "
            "again") in capsys.readouterr().err
    assert main([*args, "--fresh"]) == 0
    assert pd.read_csv(tmp_path / "results.csv")["brier"].notna().all()


def test_a_failure_while_writing_the_report_keeps_every_fit(tmp_path, capsys, monkeypatch):
    from sk_imbaloss import compare

    args = ["compare", "--methods", "logreg-balanced", "ce", "--out", str(tmp_path), *FAST]

    def disk_full(frame, path, **kwargs):
        Path(path).write_text("half a fi")
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(pd.DataFrame, "to_csv", disk_full)
        assert main(args) == 1
    err = capsys.readouterr().err
    assert (f"cannot write the report in {tmp_path} ([Errno 28] No space left on device); "
            f"the finished fits are kept in {tmp_path / 'journal.sqlite'}: run the same "
            "command again to write it.") in err
    assert [p.name for p in tmp_path.iterdir()] == ["journal.sqlite"]  # nothing half-written

    def no_fit(*args):
        raise AssertionError("every fit is in the journal")

    monkeypatch.setattr(compare, "_run_job", no_fit)
    assert main(args) == 0
    assert len(pd.read_csv(tmp_path / "results.csv")) == 7 * 2 * 2  # sets, methods, folds


def test_tls_without_its_configuration_is_one_line(tmp_path, capsys):
    pytest.importorskip("distributed")
    scheduler_file = tmp_path / "scheduler.json"
    scheduler_file.write_text('{"type": "Scheduler", "address": "tls://127.0.0.1:1"}')
    for where in [["--scheduler", "tls://127.0.0.1:1"], ["--scheduler-file", str(scheduler_file)]]:
        status = main(["compare", "--methods", "ce", *where, "--out", str(tmp_path / "out"),
                       *FAST])
        err = capsys.readouterr().err
        assert status == 1
        assert err.startswith("sk-imbaloss: error: cannot use the Dask scheduler at "
                              "tls://127.0.0.1:1: tls:// needs Dask's TLS configuration")
        assert err.count("\n") == 1


def test_a_scheduler_file_that_is_not_one_is_named(tmp_path, capsys):
    path = tmp_path / "scheduler.json"
    for text in [None, "{}", "not json"]:
        if text is not None:
            path.write_text(text)
        assert main(["compare", "--scheduler-file", str(path), *FAST]) == 1
        assert f"--scheduler-file {path}: not a Dask scheduler file (" in capsys.readouterr().err


@pytest.mark.parametrize("value, ok", [("auto", "auto"), ("AUTO", "auto"), ("7", 7)])
def test_max_epochs_takes_a_count_or_auto(value, ok):
    from sk_imbaloss.cli import build_parser

    args = build_parser().parse_args(["compare", "--max-epochs", value])
    assert args.max_epochs == ok


@pytest.mark.parametrize("value", ["many", "0"])
def test_bad_max_epochs_names_the_choices(value, capsys):
    from sk_imbaloss.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["compare", "--max-epochs", value])
    assert "use a positive integer or 'auto'" in capsys.readouterr().err


def test_unusable_out_is_reported_before_the_run(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    for out, message in [(blocker, "exists and is not a folder"),
                         (blocker / "sub", "cannot create the folder")]:
        status = main(["compare", "--methods", "logreg-balanced", "--out", str(out), *FAST])
        err = capsys.readouterr().err
        assert status == 1
        assert f"--out {out}: {message}" in err
        assert "Traceback" not in err


@pytest.mark.parametrize("option, value, message", [
    ("--seed", "-1", "must be at least 0"),
    ("--seed", str(2**32), "must be below 2**32"),
    ("--n-jobs", "0", "0 jobs cannot run anything"),
])
def test_bad_seed_and_n_jobs_are_usage_errors(option, value, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", option, value])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_duplicate_names_never_take_another_files_name(tmp_path, capsys):
    from sk_imbaloss.cli import _load_datasets

    rng = np.random.default_rng(0)

    def write(path, shift):
        frame = pd.DataFrame({"a": rng.normal(size=40) + shift, "target": [0] * 30 + [1] * 10})
        path.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(path, index=False)
        return frame["a"].to_numpy()

    first = write(tmp_path / "str.csv", 0)
    nested = write(tmp_path / "sub" / "str.csv", 100)
    own = write(tmp_path / "str-2.csv", 200)
    loaded = _load_datasets([str(tmp_path / "str.csv"), str(tmp_path / "sub"),
                             str(tmp_path / "str-2.csv")], "target", 5)
    names = {name: X[:, 0] for name, X, _ in loaded}
    assert list(names) == ["str", "str-3", "str-2"]
    np.testing.assert_allclose(names["str"], first)
    np.testing.assert_allclose(names["str-3"], nested)
    np.testing.assert_allclose(names["str-2"], own)


@pytest.mark.parametrize("text, message", [
    ("a,target\n", "has a header but no rows"),
    ("a,b,target\n1,inf,0\n2,3,1\n", "infinite values in feature columns ['b']"),
    ("a,target,target\n1,0,0\n2,1,1\n", "repeated column names ['target']"),
    ("a,target\n1,0.5\n2,1.7\n3,0.2\n",
     "the target column 'target' holds 3 distinct values in 3 rows, not all whole numbers"),
    ("a,target\n" + "".join(f"{i},{3.0 * i}\n" for i in range(8)),
     "the target column 'target' holds 8 distinct values in 8 rows: continuous"),
    (",a,target\n0,1,0\n1,2,1\n", "column(s) [1] have no name"),
    ("a,target\n0,0,0\n1,2,1\n", "its rows have more fields than its header names"),
    ("01,1,target\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n", None),
    ("01,1,target,\n1,2,0,\n3,4,1,\n5,6,0,\n7,8,1,\n", None),  # a comma ending each line
])
def test_bad_csv_files_are_named(tmp_path, text, message):
    from sk_imbaloss.datasets import load_csv

    path = tmp_path / "bad.csv"
    path.write_text(text)
    if message is None:  # distinct names that read alike as numbers are fine
        assert list(load_csv(path).columns) == ["01", "1", "target"]
        return
    with pytest.raises(ValueError, match=re.escape(f"{path}: {message}")):
        load_csv(path)


def test_a_file_given_twice_runs_once(tmp_path, capsys):
    from sk_imbaloss.cli import _load_datasets

    frame = pd.DataFrame({"a": np.arange(40.0), "target": [0] * 30 + [1] * 10})
    (tmp_path / "d").mkdir()
    frame.to_csv(tmp_path / "d" / "x.csv", index=False)
    loaded = _load_datasets([str(tmp_path / "d"), str(tmp_path / "d" / "x.csv")], "target", 5)
    assert [name for name, _, _ in loaded] == ["x"]
    assert "given more than once; used once" in capsys.readouterr().err


def test_target_without_data_is_an_error(capsys):
    assert main(["compare", "--target", "label", *FAST]) == 2
    assert "--target label: names the class column of DATA files" in capsys.readouterr().err


def test_skipped_methods_are_named_under_the_ranks(tmp_path, capsys):
    from sklearn.datasets import load_iris

    iris = load_iris(as_frame=True).frame.rename(columns={"target": "label"})
    rng = np.random.default_rng(0)
    binary = pd.DataFrame({"a": rng.normal(size=60), "label": [0] * 45 + [1] * 15})
    iris.to_csv(tmp_path / "iris.csv", index=False)
    binary.to_csv(tmp_path / "binary.csv", index=False)
    status = main(["compare", str(tmp_path / "iris.csv"), str(tmp_path / "binary.csv"),
                   "--target", "label", "--methods", "ce", "margin", "logreg-balanced",
                   "--out", str(tmp_path / "out"), *FAST])
    stdout = capsys.readouterr().out
    assert status == 0
    ranks = stdout.split("Average rank over 2 data sets")[1]
    assert "(margin: not ranked, not run on iris)" in ranks
    assert "\nmargin " not in ranks  # no rank row for it
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "Left out of the ranks and the tests" in summary and "`margin`" in summary


def test_methods_with_failed_folds_are_named_under_their_table(tmp_path, capsys):
    # 11 minority rows in 2 folds: one training fold holds 5, too few for SMOTE's 5
    # neighbours; the table's mean for smote is of the other fold only, and says so.
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=60), "b": rng.normal(size=60),
                          "target": [0] * 49 + [1] * 11})
    frame.to_csv(tmp_path / "few.csv", index=False)
    status = main(["compare", str(tmp_path / "few.csv"), "--methods", "smote",
                   "logreg-balanced", "--out", str(tmp_path / "out"), *FAST])
    captured = capsys.readouterr()
    assert status == 0
    assert "smote on few: 1/2 folds failed: ValueError" in captured.err
    assert "(folds scored, where some failed: smote 1)" in captured.out


def test_every_method_skipped_is_named_not_called_a_failure(tmp_path, capsys):
    from sklearn.datasets import load_iris

    load_iris(as_frame=True).frame.to_csv(tmp_path / "iris.csv", index=False)
    status = main(["compare", str(tmp_path / "iris.csv"), "--methods", "margin",
                   "--out", str(tmp_path / "out"), *FAST])
    err = capsys.readouterr().err
    assert status == 1
    assert "no chosen method applies to the data: margin is binary only" in err
    assert "every fit failed" not in err


def test_header_with_spaces_after_the_commas_is_read(tmp_path, capsys):
    rng = np.random.default_rng(0)
    lines = ["a, b, target"] + [f"{x:.3f}, {z:.3f}, {int(i % 4 == 0)}"
                                for i, (x, z) in enumerate(rng.normal(size=(40, 2)))]
    (tmp_path / "spaced.csv").write_text("\n".join(lines) + "\n")
    status = main(["compare", str(tmp_path / "spaced.csv"), "--methods", "logreg-balanced",
                   "--out", str(tmp_path / "out"), *FAST])
    assert status == 0, capsys.readouterr().err


def test_a_single_minority_row_is_not_advised_fewer_folds(tmp_path, capsys):
    frame = pd.DataFrame({"a": np.arange(40.0), "target": [0] * 39 + [1]})
    frame.to_csv(tmp_path / "one.csv", index=False)
    main(["compare", str(tmp_path / "one.csv"), "--methods", "ce", "--out",
          str(tmp_path / "out"), "--folds", "5", "--max-epochs", "3", "--no-progress"])
    err = capsys.readouterr().err
    assert "it cannot be cross-validated" in err and "use fewer folds" not in err


def test_a_run_on_other_data_into_the_same_out_adds_its_fits(keel, tmp_path, capsys):
    # The demo's settings (3 folds, 1 repeat), then a user's file (5 x 2) in one --out.
    args = ["--methods", "logreg-balanced", "--out", str(tmp_path), "--no-progress"]
    assert main(["compare", *args]) == 0
    assert main(["compare", str(keel("glass2")), *args]) == 0
    results = pd.read_csv(tmp_path / "results.csv")
    assert results["dataset"].unique().tolist() == ["glass2"] and len(results) == 10
    with Journal(tmp_path) as journal:
        assert len(journal) == 10 + 7 * 3  # the demo's fits are kept too


def test_version_prints_the_package_version(capsys):
    from sk_imbaloss import __version__

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"sk-imbaloss {__version__}\n"


def test_a_planted_journal_deletes_nothing_outside_out(keel, tmp_path, capsys):
    out, victim = tmp_path / "out", tmp_path / "victim.txt"
    args = ["compare", str(keel("glass2")), "--methods", "logreg-balanced", "--out",
            str(out), *FAST]
    assert main(args) == 0
    elsewhere = tmp_path / "elsewhere.png"
    for path in (victim, elsewhere):
        path.write_text("the user's")
    (out / "box_g_mean.png").unlink()
    (out / "box_g_mean.png").symlink_to(elsewhere)  # a name the journal holds, as a link
    (out / "cd_mcc.png").symlink_to(elsewhere)  # and one it does not
    with closing(sqlite3.connect(out / "journal.sqlite")) as db, db:
        db.executemany("INSERT INTO files VALUES (?)",
                       [("../victim.txt",), (str(victim),), (str(elsewhere),),
                        ("cd_mcc.png",)])
    assert main(args) == 0
    assert main([*args, "--fresh"]) == 0
    assert victim.read_text() == elsewhere.read_text() == "the user's"
    assert not (out / "box_g_mean.png").is_symlink()  # the link was replaced, not followed
    assert "Traceback" not in capsys.readouterr().err


def _overwrite_the_fits(path):
    with closing(sqlite3.connect(path)) as db:
        page, = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'fits'").fetchone()
    data = bytearray(path.read_bytes())
    data[(page - 1) * 4096:(page - 1) * 4096 + 16] = b"\xff" * 16  # its page's header
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [
    _overwrite_the_fits,
    lambda path: path.write_bytes(path.read_bytes()[:5000]),
], ids=["malformed", "truncated"])
def test_a_damaged_journal_is_one_line(tmp_path, capsys, damage):
    args = ["compare", "--methods", "logreg-balanced", "--out", str(tmp_path), *FAST]
    assert main(args) == 0
    path = tmp_path / "journal.sqlite"
    damage(path)
    damaged = path.read_bytes()
    capsys.readouterr()
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"sk-imbaloss: error: --out {path}: a damaged journal (")
    assert err.endswith(f"Add --fresh to set it aside as journal.sqlite.damaged-<time> "
                        "and start afresh, or use another --out.\n")
    assert err.count("\n") == 1 and path.read_bytes() == damaged
    if damage is _overwrite_the_fits:  # its record of the files written is intact
        assert main([*args, "--fresh"]) == 0
        aside, = tmp_path.glob("journal.sqlite.damaged-*")
        assert aside.read_bytes() == damaged


def test_a_journal_that_is_a_folder_is_one_line(tmp_path, capsys):
    (tmp_path / "journal.sqlite").mkdir()
    for fresh in ([], ["--fresh"]):
        assert main(["compare", "--methods", "logreg-balanced", "--out", str(tmp_path),
                     *FAST, *fresh]) == 1
        assert capsys.readouterr().err == (
            f"sk-imbaloss: error: --out {tmp_path / 'journal.sqlite'}: not a file (a link, "
            "a folder, ...), so not a journal; move it away or use another folder.\n")


def _sqlite_connect(monkeypatch, read_only=False, pages=None):
    """SQLite connections read-only, or limited to ``pages`` more pages: a full disk."""
    connect = sqlite3.connect

    def limited(path, *args, **kwargs):
        if read_only:
            return connect(f"file:{path}?mode=ro", uri=True)
        db = connect(path, *args, **kwargs)
        db.execute(f"PRAGMA max_page_count = "
                   f"{db.execute('PRAGMA page_count').fetchone()[0] + pages}")
        return db

    monkeypatch.setattr(sqlite3, "connect", limited)


def test_a_read_only_journal_is_one_line(tmp_path, capsys, monkeypatch):
    args = ["compare", "--methods", "logreg-balanced", "--out", str(tmp_path), *FAST]
    assert main(args) == 0
    capsys.readouterr()
    _sqlite_connect(monkeypatch, read_only=True)
    assert main(args) == 1
    assert capsys.readouterr().err == (
        f"sk-imbaloss: error: --out {tmp_path / 'journal.sqlite'}: read-only, so no fit "
        "could be recorded; make it writable or use another folder.\n")


def test_a_full_disk_is_one_line_and_keeps_the_fits(tmp_path, capsys, monkeypatch):
    args = ["compare", "--out", str(tmp_path), *FAST]
    assert main([*args, "--methods", "logreg-balanced"]) == 0
    before = _fits(tmp_path)
    capsys.readouterr()
    more = ["--methods", "logreg-balanced", "hgb-balanced", "ce"]  # more than a page holds
    with monkeypatch.context() as patch:
        _sqlite_connect(patch, pages=0)
        assert main([*args, *more]) == 1
    err = capsys.readouterr().err
    assert err == (f"sk-imbaloss: error: --out {tmp_path / 'journal.sqlite'}: the disk is "
                   "full; the fits recorded before are kept. Free some space and run "
                   "again: it resumes from them.\n")
    assert _fits(tmp_path) >= before  # the first run's, and the second's until full
    assert main([*args, *more]) == 0
    assert len(pd.read_csv(tmp_path / "results.csv")) == 7 * 3 * 2  # sets, methods, folds


def test_a_killed_run_leaves_no_temporary_files(keel, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["compare", str(keel("glass2")), "--methods", "logreg-balanced", "--out",
            str(out), *FAST]
    assert main(args) == 0
    left = [".box_g_mean.png.0a1b2c3d.png", ".results.csv.ffff0000.csv"]
    kept = [".notes.txt.0a1b2c3d.txt", ".box_g_mean.png.0a1b2c3.png"]  # not ours
    for name in [*left, *kept]:
        (out / name).write_text("x")
    assert main([*args, "--fresh"]) == 0
    assert not any((out / name).exists() for name in left)
    assert all((out / name).exists() for name in kept)


@pytest.mark.parametrize("where, message", [
    (["--scheduler", ""], "the Dask scheduler's address must be a non-empty string such "
                          "as tcp://HOST:8786; got ''."),
    (["--scheduler", "  "], "the Dask scheduler's address must be a non-empty string"),
    ({"address": 12345}, "not a Dask scheduler file (its address is 12345, not a string)."),
    ({"address": None}, "not a Dask scheduler file (its address is None, not a string)."),
    ({"address": ""}, "the Dask scheduler's address must be a non-empty string"),
])
def test_scheduler_input_is_checked_before_use(tmp_path, capsys, where, message):
    if isinstance(where, dict):
        path = tmp_path / "scheduler.json"
        path.write_text(json.dumps(where))
        where = ["--scheduler-file", str(path)]
    status = main(["compare", "--methods", "logreg-balanced", *where, "--out",
                   str(tmp_path / "out"), *FAST])
    err = capsys.readouterr().err
    assert status == 1
    assert message in err and err.count("\n") == 1
    assert _fits(tmp_path / "out") == 0  # nothing ran locally


def test_a_bad_scheme_or_nothing_listening_is_one_line(tmp_path, capsys):
    pytest.importorskip("distributed")
    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for where, message in [
        (["--scheduler", "http://127.0.0.1:8787"],
         "the Dask scheduler's address http://127.0.0.1:8787: unknown scheme http://; "
         "use one of "),
        (["--scheduler", f"tcp://127.0.0.1:{port}", "--scheduler-timeout", "0.5"],
         f"cannot use the Dask scheduler at tcp://127.0.0.1:{port}: Timed out trying to "
         f"connect to tcp://127.0.0.1:{port} after 0.5 s"),
    ]:
        status = main(["compare", "--methods", "logreg-balanced", *where, "--out",
                       str(tmp_path / "out"), *FAST])
        err = capsys.readouterr().err
        assert status == 1
        assert err.startswith(f"sk-imbaloss: error: {message}") and err.count("\n") == 1


def test_the_scheduler_timeout_is_ten_seconds_unless_given(capsys):
    from sk_imbaloss.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["compare"]).scheduler_timeout == 10
    assert parser.parse_args(["compare", "--scheduler-timeout", "2.5"]).scheduler_timeout == 2.5
    for bad in ["0", "-1", "nan", "inf", "soon"]:
        with pytest.raises(SystemExit):
            parser.parse_args(["compare", "--scheduler-timeout", bad])
        assert "--scheduler-timeout" in capsys.readouterr().err


@pytest.mark.parametrize("data", [[], ["DATA"]], ids=["demo", "data"])
def test_a_second_run_is_refused_before_torch_and_pandas_are_imported(keel, tmp_path, data):
    data = [str(keel("glass2")) for _ in data]
    code = ("import sys; from sk_imbaloss.cli import main; "
            f"status = main(['compare', *{data!r}, '--out', sys.argv[1]]); "
            "print(status, sorted(m for m in ('torch', 'pandas', 'sklearn') "
            "if m in sys.modules))")
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a run holds it
        done = subprocess.run([sys.executable, "-c", code, str(tmp_path)],
                              capture_output=True, text=True, env=_ENV)
    finally:
        os.close(fd)
    assert done.stdout == "1 []\n"
    assert done.stderr == (f"sk-imbaloss: error: --out {tmp_path}: in use by another run, "
                           "which holds it until it ends; wait for it, or use another "
                           "folder.\n")
    assert list(tmp_path.iterdir()) == []


def _children(pid):
    """The process ids whose parent is ``pid``, from Linux's /proc."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def _running(pid):
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended; reaping it is its new parent's business


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads Linux's /proc")
def test_the_workers_of_a_killed_run_end_with_it(keel, tmp_path):
    out = tmp_path / "out"
    run = subprocess.Popen([sys.executable, "-m", "sk_imbaloss", "compare",
                            str(keel("glass2")), *_RUN, "--n-jobs", "2", "--no-progress",
                            "--out", str(out)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           env=_ENV, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while _fits(out) < 1:  # the workers are up and fitting
            assert run.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        workers = _children(run.pid)
        assert len(workers) >= 2
    finally:
        run.kill()  # SIGKILL: the run itself cannot end them
        run.wait()
    # Not a timing: without the watch they idle for loky's five minutes.
    deadline = time.monotonic() + 30
    while any(map(_running, workers)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(map(_running, workers))
