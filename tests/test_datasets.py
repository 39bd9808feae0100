"""The demo and default data sets, CSV loading with its error messages, and folder
expansion."""

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sk_imbaloss.datasets import (
    DEFAULT_NAME,
    DEMO_NAMES,
    as_dataset,
    iter_data_paths,
    load_csv,
    load_default,
    load_demo,
)

KEEL_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "imbalanced"


def _keel_file(name):
    path = KEEL_DIR / f"{name}.csv.gz"
    if not path.exists():
        pytest.skip(f"KEEL data folder not found at {KEEL_DIR} (it lies beside the repo)")
    return path


def _write(path, text):
    path.write_text(text)
    return path


def test_load_default_is_the_top_decile_of_diabetes():
    frame = load_default()
    assert frame.attrs["name"] == DEFAULT_NAME == "diabetes-top10"
    assert frame.shape == (442, 11)
    assert frame.columns[-1] == "target"
    counts = frame["target"].value_counts()
    assert set(counts.index) == {0, 1}
    assert counts[1] == 44  # the top 10 %, the minority
    assert frame.drop(columns="target").dtypes.map(lambda d: d.kind == "f").all()


def test_load_demo_is_seven_imbalanced_binary_sets():
    demo = load_demo()
    assert [name for name, _, _ in demo] == list(DEMO_NAMES) == [
        "diabetes-top10", "digits-0-vs-rest", "digits-8-vs-rest", "wine-3-vs-rest",
        "breast-cancer-1-in-8", "synthetic-1-in-20-noise-0.0", "synthetic-1-in-20-noise-0.05"]
    shapes = {name: (X.shape, int(y.sum())) for name, X, y in demo}
    assert shapes == {
        "diabetes-top10": ((442, 10), 44),
        "digits-0-vs-rest": ((1797, 64), 178),
        "digits-8-vs-rest": ((1797, 64), 174),
        "wine-3-vs-rest": ((178, 13), 48),
        "breast-cancer-1-in-8": ((401, 30), 44),
        "synthetic-1-in-20-noise-0.0": ((2000, 20), 100),
        "synthetic-1-in-20-noise-0.05": ((2000, 20), 144),
    }
    for name, X, y in demo:
        assert X.dtype == np.float64 and np.isfinite(X).all()
        assert set(np.unique(y).tolist()) == {0, 1}
        assert y.mean() < 0.3, name  # 1 is the minority everywhere
    # Fixed: the same arrays on every call (the thinned breast cancer rows included).
    for (_, X1, y1), (_, X2, y2) in zip(demo, load_demo()):
        np.testing.assert_array_equal(X1, X2)
        np.testing.assert_array_equal(y1, y2)
    # The first is the default data set, as load_default gives it.
    np.testing.assert_array_equal(demo[0][1], as_dataset(load_default())[1])


def test_as_dataset_splits_features_and_target():
    name, X, y = as_dataset(load_default())
    assert name == "diabetes-top10"
    assert X.shape == (442, 10) and X.dtype == np.float64
    assert y.shape == (442,)


def test_load_keel_csv_gz():
    frame = load_csv(_keel_file("glass2"))
    assert frame.attrs["name"] == "glass2"
    assert frame.shape == (214, 10)
    assert frame["target"].sum() == 17


def test_load_csv_other_target_column(tmp_path):
    path = _write(tmp_path / "small.csv", "a,b,label\n1,2.5,x\n3,4.0,y\n5,6.0,x\n")
    frame = load_csv(path, target="label")
    name, X, y = as_dataset(frame)
    assert name == "small"
    assert X.tolist() == [[1, 2.5], [3, 4.0], [5, 6.0]]
    assert y.tolist() == ["x", "y", "x"]


def test_gzip_is_read_from_the_name(tmp_path):
    path = tmp_path / "packed.csv.gz"
    with gzip.open(path, "wt") as f:
        f.write("x0,target\n0.1,0\n0.2,1\n")
    assert load_csv(path).attrs["name"] == "packed"


def test_missing_file_is_named(tmp_path):
    path = tmp_path / "nope.csv"
    with pytest.raises(ValueError, match=r"nope\.csv: no such file"):
        load_csv(path)


def test_missing_target_lists_the_columns(tmp_path):
    path = _write(tmp_path / "notarget.csv", "a,b,class\n1,2,0\n3,4,1\n")
    with pytest.raises(ValueError) as info:
        load_csv(path)
    message = str(info.value)
    assert "notarget.csv" in message and "'target'" in message
    assert "['a', 'b', 'class']" in message


def test_non_numeric_features_are_named(tmp_path):
    path = _write(tmp_path / "text.csv", "a,colour,target\n1,red,0\n2,blue,1\n")
    with pytest.raises(ValueError, match=r"text\.csv: non-numeric feature columns \['colour'\]"):
        load_csv(path)


def test_one_class_is_refused(tmp_path):
    path = _write(tmp_path / "oneclass.csv", "a,target\n1,0\n2,0\n")
    with pytest.raises(ValueError, match=r"oneclass\.csv: .*1 class"):
        load_csv(path)


def test_nan_features_are_named(tmp_path):
    path = _write(tmp_path / "holes.csv", "a,b,target\n1,,0\n2,3,1\n")
    with pytest.raises(ValueError, match=r"holes\.csv: missing values \(NaN\) .*\['b'\]"):
        load_csv(path)


def test_empty_file_is_named(tmp_path):
    path = _write(tmp_path / "empty.csv", "")
    with pytest.raises(ValueError, match=r"empty\.csv: cannot be read"):
        load_csv(path)


def test_iter_data_paths_expands_folders_sorted(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    for name in ["b.csv", "a.csv.gz", "c.txt", "A.CSV"]:
        (folder / name).write_text("")
    (folder / "sub.csv").mkdir()  # a folder named like a CSV is not a file
    single = tmp_path / "missing.csv"
    paths = list(iter_data_paths([single, str(folder)]))
    assert paths == [single, folder / "A.CSV", folder / "a.csv.gz", folder / "b.csv"]


def test_keel_folder_expands_to_its_files():
    _keel_file("glass2")
    paths = list(iter_data_paths([KEEL_DIR]))
    assert KEEL_DIR / "glass2.csv.gz" in paths
    assert all(p.name.endswith(".csv.gz") for p in paths)
    assert paths == sorted(paths)
    frames = [load_csv(p) for p in paths[:2]]
    assert all(isinstance(f, pd.DataFrame) for f in frames)


def _corrupt(path):
    """Write a compressed CSV at ``path``, then break it the way disks and downloads do."""
    import lzma

    text = b"a,target\n" + b"".join(b"%d,%d\n" % (i, i % 2) for i in range(200))
    name = path.name
    if name.endswith(".gz"):
        packed = gzip.compress(text)
        return packed[: len(packed) // 2]  # truncated: EOFError
    if name.endswith(".xz"):
        packed = lzma.compress(text)
        return packed[:12] + bytes(len(packed) - 12)  # LZMAError: corrupt input data
    if name.endswith(".bz2"):
        return b"BZh9" + b"garbage" * 10  # OSError: invalid data stream
    if name.endswith(".zip"):
        return b"PK\x03\x04 not a zip"  # BadZipFile
    return b"a,target\n\xff\xfe,1\n"  # not UTF-8


@pytest.mark.parametrize("name", ["t.csv.gz", "t.csv.xz", "t.csv.bz2", "t.csv.zip", "t.csv"])
def test_a_corrupt_or_undecodable_file_is_a_value_error_naming_it(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(_corrupt(path))
    with pytest.raises(ValueError, match=rf"{name}: cannot be read as CSV \(\w+"):
        load_csv(path)


def test_garbage_after_a_gzip_header_is_a_value_error(tmp_path):
    path = tmp_path / "bad.csv.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03garbage-garbage")  # zlib.error
    with pytest.raises(ValueError, match=r"bad\.csv\.gz: cannot be read as CSV \(error: "):
        load_csv(path)


def test_a_file_that_vanishes_while_read_is_a_value_error(tmp_path, monkeypatch):
    path = _write(tmp_path / "gone.csv", "a,target\n1,0\n2,1\n")

    def vanished(*args, **kwargs):
        raise FileNotFoundError(2, "No such file or directory")

    monkeypatch.setattr(pd, "read_csv", vanished)
    with pytest.raises(ValueError, match=r"gone\.csv: cannot be read as CSV \(FileNotFound"):
        load_csv(path)


def test_compressed_files_are_named_without_their_suffixes(tmp_path):
    import lzma

    (tmp_path / "x.csv.xz").write_bytes(lzma.compress(b"a,target\n1,0\n2,1\n"))
    assert list(iter_data_paths([tmp_path])) == [tmp_path / "x.csv.xz"]
    assert load_csv(tmp_path / "x.csv.xz").attrs["name"] == "x"
