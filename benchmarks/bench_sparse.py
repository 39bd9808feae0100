"""Peak memory of a fit and a prediction on sparse one-hot input.

100,000 rows x 5,000 one-hot columns (5 categorical columns of 1,000 levels each, as
``OneHotEncoder`` returns them), one epoch. The peak extra memory is the process's
resident high-water mark (``VmHWM``, reset through ``/proc/self/clear_refs`` before
each step) minus its resident memory before the step, against the 2 GB the same
matrix takes dense in float32; after a warm-up fit on 1,000 rows, so that torch's
one-time allocations do not count. Linux only. Run:
``python benchmarks/bench_sparse.py`` (``--quick`` for a smoke run).
"""

import time

import numpy as np
from sklearn.preprocessing import OneHotEncoder

from _common import one_thread, quick, table
from sk_imbaloss import ImbalancedNeuralClassifier


def _status_kib(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise SystemExit(f"/proc/self/status has no {field}: this script needs Linux")


def measured(step):
    """Run ``step``; return (seconds, peak resident memory above the start, in bytes)."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # resets VmHWM to the current resident size
    before = _status_kib("VmRSS")
    start = time.perf_counter()
    step()
    seconds = time.perf_counter() - start
    return seconds, (_status_kib("VmHWM") - before) * 1024


def main():
    one_thread()
    n, columns, levels = (5_000, 5, 100) if quick() else (100_000, 5, 1_000)
    rng = np.random.default_rng(0)
    codes = rng.integers(levels, size=(n, columns))
    # The minority: rows whose first column falls in its first 5 % of levels, mostly.
    y = ((codes[:, 0] < levels // 20) & (rng.random(n) < 0.9)).astype(np.int64)
    X = OneHotEncoder(dtype=np.float32).fit_transform(codes).tocsr()
    dense_bytes = X.shape[0] * X.shape[1] * 4
    clf = ImbalancedNeuralClassifier(max_epochs=1, random_state=0)
    clf.fit(X[:1000], y[:1000])  # torch's one-time allocations are not the data's
    rows = []
    for name, step in (("fit, 1 epoch", lambda: clf.fit(X, y)),
                       ("predict_proba", lambda: clf.predict_proba(X))):
        seconds, extra = measured(step)
        rows.append([name, f"{seconds:.1f} s", f"{extra / 2**20:,.0f} MiB",
                     f"{extra / dense_bytes:.3f}"])
    sparse_bytes = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    print(f"X: {n:,} x {X.shape[1]:,} one-hot, CSR float32 {sparse_bytes / 2**20:,.1f} MiB; "
          f"dense float32 would be {dense_bytes / 2**20:,.0f} MiB")
    table(rows, ["step", "time", "peak extra memory", "x dense size"])


if __name__ == "__main__":
    main()
