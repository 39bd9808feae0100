"""The estimator on a CUDA device: host syncs, epoch time, memory, prediction, loss steps.

Needs a CUDA device (``--device cpu`` runs the same code on the CPU, for the smoke run).
Synthetic data: 20 features, about 10 % minority. Run: ``python benchmarks/bench_cuda.py``
(``--quick`` for a smoke run). Prints:

1. device-to-host synchronisations of a fit (sync debug mode 'warn'), per epoch and in
   its set-up, against the training batches per epoch, for each loss and stock skorch;
2. seconds per epoch on 200,000 rows at batch 128 and 2,048 (and of a fit's set-up):
   the estimator with each loss, stock skorch, and a hand-written PyTorch loop over
   tensors on the device. Per epoch and set-up come from fits of 1 and 3 epochs;
3. peak device memory of a fit on 1,000,000 rows against the size of X;
4. ``predict_proba`` on 1,000,000 rows: the estimator against stock skorch;
5. one forward + backward of each criterion against cross entropy.
"""

import argparse
import time
import warnings

import numpy as np
import torch
from _common import quick, table
from bench_loss_step import cases
from sklearn.datasets import make_classification
from skorch import NeuralNetClassifier
from torch.utils.benchmark import Timer

from sk_imbaloss import MLP, ImbalancedNeuralClassifier

LOSSES = {
    "sk_imbaloss (ce)": {"criterion": "ce"},
    "sk_imbaloss (ce, balanced)": {"criterion": "ce", "class_weight": "balanced"},
    "sk_imbaloss (adaptive)": {"criterion": "adaptive"},
    "sk_imbaloss (focal)": {"criterion": "focal"},
    "sk_imbaloss (margin)": {"criterion": "margin"},
}


def data(n, seed=0):
    X, y = make_classification(n_samples=n, n_features=20, n_informative=10,
                               weights=[0.9], random_state=seed)
    return X.astype(np.float32), y


def ours(device, epochs, batch_size, **kwargs):
    return ImbalancedNeuralClassifier(device=device, max_epochs=epochs, batch_size=batch_size,
                                      dropout=0.0, random_state=0, **kwargs)


def stock(device, epochs, batch_size):
    return NeuralNetClassifier(
        MLP, module__n_features=20, module__n_classes=2, module__dropout=0.0,
        criterion=torch.nn.CrossEntropyLoss, optimizer=torch.optim.Adam, lr=1e-3,
        max_epochs=epochs, batch_size=batch_size, train_split=None,
        iterator_train__shuffle=True, device=device, verbose=0,
    )


class BareTorch:
    """The floor: data on the device, a permutation per epoch, slices of it."""

    def __init__(self, device, epochs, batch_size):
        self.device, self.epochs, self.batch_size = device, epochs, batch_size

    def fit(self, X, y):
        X = torch.as_tensor(X, device=self.device)
        y = torch.as_tensor(y, device=self.device)
        module = MLP(20, 2, dropout=0.0).to(self.device)
        optimizer = torch.optim.Adam(module.parameters(), lr=1e-3, fused=True)
        for _ in range(self.epochs):
            order = torch.randperm(len(X), device=self.device)
            for start in range(0, len(X), self.batch_size):
                index = order[start:start + self.batch_size]
                optimizer.zero_grad()
                torch.nn.functional.cross_entropy(module(X[index]), y[index]).backward()
                optimizer.step()
        return self


def models(device):
    made = {name: (lambda e, b, kw=kw: ours(device, e, b, **kw)) for name, kw in LOSSES.items()}
    made["stock skorch"] = lambda e, b: stock(device, e, b)
    made["bare PyTorch loop"] = lambda e, b: BareTorch(device, e, b)
    return made


def sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def _syncs(make, X, y, epochs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            make(epochs).fit(X, y)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sum("synchroniz" in str(w.message) for w in caught)


def syncs(make, X, y):
    """Device-to-host synchronisations of a fit: (per epoch, set-up), from fits of 1
    and 3 epochs."""
    make(1).fit(X[:512], y[:512])  # lazy CUDA set-up outside the count
    torch.cuda.synchronize()
    one, three = _syncs(make, X, y, 1), _syncs(make, X, y, 3)
    return (three - one) / 2, one - (three - one) / 2


def _fit_seconds(device, make, X, y, epochs):
    sync(device)
    start = time.perf_counter()
    make(epochs).fit(X, y)
    sync(device)
    return time.perf_counter() - start


def fit_seconds(device, make, X, y):
    """(per epoch, set-up) seconds of a fit, from fits of 1 and 3 epochs."""
    make(1).fit(X[:4096], y[:4096])  # warm-up
    one, three = (_fit_seconds(device, make, X, y, e) for e in (1, 3))
    return (three - one) / 2, one - (three - one) / 2


def loss_step(criterion, n, c, device):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(n, c, generator=g).to(device).requires_grad_()
    target = torch.randint(c, (n,), generator=g).to(device)
    criterion = criterion.to(device).train()

    def step():
        logits.grad = None
        criterion(logits, target).backward()

    # torch.utils.benchmark synchronises CUDA around each timed block.
    timer = Timer("step()", globals={"step": step})
    return timer.blocked_autorange(min_run_time=0.05 if quick() else 0.5).median


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--quick", action="store_true")
    device = parser.parse_args().device
    on_cuda = torch.device(device).type == "cuda"
    made = models(device)
    if on_cuda:
        print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}\n")

        X, y = data(1000 if quick() else 12_800)
        rows = []
        for name, factory in made.items():
            if name == "bare PyTorch loop":
                continue
            per_epoch, setup = syncs(lambda e, f=factory: f(e, 128), X, y)
            rows.append([name, f"{-(-len(X) // 128)}", f"{per_epoch:g}", f"{setup:g}"])
        table(rows, ["model (batch 128)", "batches per epoch", "host syncs per epoch",
                     "host syncs in set-up"])
        print()

    X, y = data(5000 if quick() else 200_000)
    rows = []
    for batch_size in (128, 2048):
        times = {name: fit_seconds(device, lambda e, f=factory, b=batch_size: f(e, b), X, y)
                 for name, factory in made.items()}
        bare, skorch = times["bare PyTorch loop"][0], times["stock skorch"][0]
        for name, (seconds, setup) in times.items():
            rows.append([f"{batch_size}", name, f"{seconds * 1e3:.0f} ms",
                         f"{seconds / bare:.2f}", f"{skorch / seconds:.2f}",
                         f"{setup * 1e3:.0f} ms"])
    table(rows, ["batch", f"model ({len(X):,} x 20, {device})", "per epoch",
                 "x bare loop", "stock skorch / this", "set-up of a fit"])
    print()

    X, y = data(10_000 if quick() else 1_000_000)
    if on_cuda:
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        ours(device, 1, 4096, criterion="adaptive").fit(X, y)
        peak = torch.cuda.max_memory_allocated() - before
        print(f"peak device memory of a 1-epoch fit on {len(X):,} x 20 (batch 4096): "
              f"{peak / 2**20:.0f} MiB, X is {X.nbytes / 2**20:.0f} MiB "
              f"({peak / X.nbytes:.2f} x X)\n")

    rows = []
    for name in ("sk_imbaloss (ce)", "stock skorch"):
        net = made[name](1, 4096).fit(X[:4096], y[:4096])
        net.predict_proba(X[:10_000])  # warm-up
        sync(device)
        start = time.perf_counter()
        net.predict_proba(X)
        seconds = time.perf_counter() - start
        rows.append([name, f"{seconds:.3f} s", f"{len(X) / seconds / 1e6:.2f} M rows/s"])
    table(rows, [f"predict_proba ({len(X):,} x 20, {device})", "time", "throughput"])
    print()

    rows = []
    shapes = [(65536, 10), (4096, 10), (4096, 2), (128, 2)] if not quick() else [(128, 2)]
    for n, c in shapes:
        prior = torch.linspace(1.0, 0.1, c)
        reference = loss_step(torch.nn.CrossEntropyLoss(), n, c, device)
        for name, criterion in cases(c, prior):
            if c == 2 and n == 4096 and not name.startswith(("margin", "cross")):
                continue  # the binary large shape is for the margin loss
            seconds = loss_step(criterion, n, c, device)
            rows.append([name, f"{n} x {c}", f"{seconds * 1e3:.3f} ms",
                         f"{seconds / reference:.2f}"])
    table(rows, ["criterion", "logits", "forward+backward", "x cross_entropy"])

if __name__ == "__main__":
    main()
