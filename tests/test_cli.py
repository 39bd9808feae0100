"""``sk-imbaloss compare`` end to end, on the KEEL files beside the repository."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sk_imbaloss.cli import main

KEEL_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "imbalanced"
FAST = ["--max-epochs", "3", "--folds", "2", "--repeats", "1", "--no-progress"]


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
    results = pd.read_csv(out / "results.csv")
    assert results["dataset"].unique().tolist() == ["glass2", "ecoli1"]
    assert results["method"].unique().tolist() == ["logreg-balanced", "ce-balanced", "smote"]
    assert len(results) == 2 * 3 * 2 and results["error"].isna().all()
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


def test_default_data_without_arguments(tmp_path, capsys):
    status = main(["compare", "--methods", "logreg-balanced", "ce",
                   "--out", str(tmp_path), *FAST])
    assert status == 0
    assert "diabetes-top10: 442 rows, 10 features, 44 minority" in capsys.readouterr().out


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
                          capture_output=True, text=True, check=True)
    assert "--scheduler ADDRESS" in done.stdout and "--methods" in done.stdout


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
