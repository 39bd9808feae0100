"""Cost in rows: seconds per epoch and peak extra memory while fitting, up to 1e6 x 20.

Each size runs in a fresh process so that its peak memory is its own. Memory is the
peak resident set during ``fit`` minus the resident set just before it (Linux
``VmHWM`` after resetting it), compared with the size of ``X`` itself (float32).
Run: ``python benchmarks/bench_scaling.py`` (``--quick`` for a smoke run).
"""

import json
import subprocess
import sys
from pathlib import Path

from _common import quick, table

CHILD = r"""
import json, sys, time
import numpy as np
sys.path.insert(0, sys.argv[2])
from _common import one_thread
one_thread()
from sk_imbaloss import ImbalancedNeuralClassifier

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024

n, d = int(sys.argv[1]), 20
rng = np.random.default_rng(0)
X = rng.standard_normal((n, d), dtype=np.float32)
y = (X[:, 0] + 0.5 * rng.standard_normal(n) > 1.3).astype(np.int64)  # about 10 % positive
ImbalancedNeuralClassifier(max_epochs=1).fit(X[:256], y[:256])  # imports and warm-up
before = status("VmRSS")
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # reset the peak (VmHWM) to the current resident set
start = time.perf_counter()
ImbalancedNeuralClassifier(max_epochs=2, batch_size=512, random_state=0).fit(X, y)
seconds = time.perf_counter() - start
peak = status("VmHWM")
print(json.dumps({"n": n, "seconds_per_epoch": seconds / 2, "extra": peak - before,
                  "data": X.nbytes}))
"""


def main():
    sizes = [1_000, 10_000] if quick() else [10_000, 100_000, 1_000_000]
    rows, first = [], None
    for n in sizes:
        here = str(Path(__file__).resolve().parent)
        out = subprocess.run([sys.executable, "-c", CHILD, str(n), here], check=True,
                             capture_output=True, text=True).stdout
        r = json.loads(out.strip().splitlines()[-1])
        per_row = r["seconds_per_epoch"] / n
        first = first or per_row
        rows.append([f"{n:,}", f"{r['seconds_per_epoch']:.3f} s",
                     f"{per_row * 1e6:.2f} us", f"{per_row / first:.2f}",
                     f"{r['data'] / 2**20:.0f} MiB", f"{r['extra'] / 2**20:.0f} MiB",
                     f"{r['extra'] / r['data']:.2f}"])
    table(rows, ["rows", "per epoch", "per row", "per row vs smallest", "X (float32)",
                 "peak extra in fit", "extra / X"])


if __name__ == "__main__":
    main()
