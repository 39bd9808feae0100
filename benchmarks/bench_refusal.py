"""How long ``sk-imbaloss compare`` takes to refuse an --out that another run holds.

The lock is taken before torch and pandas are imported, so the refusal costs the
start of Python and the argument parsing only. Prints each try's wall time and the
machine's load; ``--tree`` compares another checkout (an older commit, say).

    python benchmarks/bench_refusal.py [--tree PATH ...] [--tries 3]
"""

import argparse
import fcntl
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", nargs="+", default=[str(ROOT)])
    parser.add_argument("--tries", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as out:
        fd = os.open(out, os.O_RDONLY)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held as a run holds it
        print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        for tree in args.tree:
            for _ in range(args.tries):
                start = time.perf_counter()
                done = subprocess.run(
                    [sys.executable, "-m", "sk_imbaloss", "compare", "--out", out],
                    capture_output=True, text=True, cwd=tree,  # -m imports from the cwd
                    env={**os.environ, "PYTHONPATH": tree})
                refused = "in use by another run" in done.stderr
                print(f"{tree}: {time.perf_counter() - start:.2f} s, exit "
                      f"{done.returncode}, {'refused' if refused else done.stderr[-200:]}")


if __name__ == "__main__":
    main()
