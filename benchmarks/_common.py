"""Shared helpers for the benchmark scripts: data, one-thread setup, timing, tables."""

import os
import statistics
import time
from pathlib import Path

import numpy as np

KEEL_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "imbalanced"


def one_thread():
    """Pin torch and BLAS to one thread so ratios compare like with like."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    threadpool_limits(1)


def keel(name):
    """A KEEL data set as standardized float32 ``(X, y)``; synthetic stand-in if absent."""
    import pandas as pd
    from sklearn.preprocessing import StandardScaler

    path = KEEL_DIR / f"{name}.csv.gz"
    if not path.exists():
        raise SystemExit(f"{path} not found: the benchmarks read ../shared/data/imbalanced")
    frame = pd.read_csv(path)
    X = StandardScaler().fit_transform(frame.drop(columns="target").to_numpy(np.float64))
    return X.astype(np.float32), frame["target"].to_numpy()


def best_of(fn, repeats):
    """Run ``fn`` ``repeats`` times; return (min, median) wall seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def table(rows, header):
    """Print rows (lists) under a header as an aligned plain-text table."""
    cells = [header] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for i, row in enumerate(cells):
        print("  ".join(c.rjust(w) for c, w in zip(row, widths)))
        if i == 0:
            print("  ".join("-" * w for w in widths))


def quick():
    """True when the smoke run (``--quick`` or QUICK=1) asks for tiny sizes."""
    import sys

    return "--quick" in sys.argv or os.environ.get("QUICK") == "1"
