"""Whole-fit time by torch intra-op thread count, idle and with busy cores.

For each case: the estimator's default (``num_threads='auto'``) against 1, 2 and all
threads, once on an otherwise idle machine and once with as many busy background
processes as there are cores (started and stopped by this script). The ratio column
divides each time by the best of the four in that cell; the goal is the default
within 1.2x of the best everywhere. Run: ``python benchmarks/bench_threads.py``
(``--quick`` for a smoke run).
"""

import multiprocessing as mp
import os
import time
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from _common import keel, quick, table
from sk_imbaloss import ImbalancedNeuralClassifier


def _spin(stop):
    x = 0
    while not stop.is_set():
        x += 1


@contextmanager
def busy(n):
    """``n`` processes that keep a core busy each, for the duration of the block."""
    stop = mp.Event()
    procs = [mp.Process(target=_spin, args=(stop,), daemon=True) for _ in range(n)]
    for p in procs:
        p.start()
    try:
        time.sleep(0.5)
        yield
    finally:
        stop.set()
        for p in procs:
            p.join()


class Wide(nn.Module):
    """A wide custom module: work per batch where threads pay."""

    def __init__(self, n_features, width=1024):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_features, width), nn.ReLU(),
                                 nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 2))

    def forward(self, X):
        return self.net(X)


def cases():
    rng = np.random.default_rng(0)
    small = quick()
    X = rng.standard_normal((300 if small else 3000, 20), dtype=np.float32)
    y = (X[:, 0] > 1.3).astype(np.int64)
    big = rng.standard_normal((2000 if small else 200_000, 20), dtype=np.float32)
    big_y = (big[:, 0] > 1.3).astype(np.int64)
    sylva_X, sylva_y = keel("sylva")
    if small:
        sylva_X, sylva_y = sylva_X[:1000], sylva_y[:1000]
    epochs = 1 if small else 5
    yield "quick start 3000x20", X, y, dict(max_epochs=1) if small else {}
    yield "sylva 13086x216", sylva_X, sylva_y, dict(max_epochs=epochs)
    yield "200000x20", big, big_y, dict(max_epochs=1)
    yield "wide module 1024, 3000x20", X, y, dict(
        module=Wide, module__n_features=20, max_epochs=epochs)


def main():
    cores = os.cpu_count()
    settings = {"auto (default)": "auto", "1": 1, "2": 2, f"all ({cores})": cores}
    rows = []
    warm = np.zeros((8, 20), dtype=np.float32)
    ImbalancedNeuralClassifier(max_epochs=1).fit(warm, np.arange(8) % 2)  # torch's lazy imports
    for condition, background in (("idle", 0), ("busy", cores)):
        with busy(background):
            for name, X, y, params in cases():
                times = {}
                for label, threads in settings.items():
                    clf = ImbalancedNeuralClassifier(random_state=0, num_threads=threads,
                                                     **params)
                    start = time.perf_counter()
                    clf.fit(X, y)
                    times[label] = time.perf_counter() - start
                best = min(times.values())
                for label, seconds in times.items():
                    rows.append([condition, name, label, f"{seconds:.2f} s",
                                 f"{seconds / best:.2f}"])
    table(rows, ["cores", "case", "threads", "fit", "x best"])


if __name__ == "__main__":
    torch.set_num_threads(os.cpu_count())
    main()
