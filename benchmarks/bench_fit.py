"""Per-epoch and whole-fit time: ImbalancedNeuralClassifier vs stock skorch vs MLPClassifier.

The same network (D-64-64-2, ReLU, no dropout), Adam at lr 1e-3, batch 128, shuffled
batches, no validation split, one thread. Run: ``python benchmarks/bench_fit.py``
(``--quick`` for a smoke run).
"""

import time
import warnings

import torch
from skorch import NeuralNetClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from _common import keel, one_thread, quick, table
from sk_imbaloss import MLP, ImbalancedNeuralClassifier


def ours(n_features, epochs, criterion="ce"):
    return ImbalancedNeuralClassifier(criterion=criterion, dropout=0.0, max_epochs=epochs,
                                      random_state=0)


def stock(n_features, epochs):
    # What a user writes with plain skorch for the same network and budget.
    return NeuralNetClassifier(
        MLP, module__n_features=n_features, module__n_classes=2, module__dropout=0.0,
        criterion=torch.nn.CrossEntropyLoss, optimizer=torch.optim.Adam, lr=1e-3,
        max_epochs=epochs, batch_size=128, train_split=None, iterator_train__shuffle=True,
        verbose=0,
    )


def sklearn_mlp(n_features, epochs):
    return MLPClassifier(hidden_layer_sizes=(64, 64), solver="adam", learning_rate_init=1e-3,
                         batch_size=128, max_iter=epochs, tol=0.0, n_iter_no_change=10**6,
                         shuffle=True, random_state=0)


class BareTorch:
    """The floor: a hand-written PyTorch loop over tensor slices, same net and budget."""

    def __init__(self, n_features, epochs):
        self.n_features, self.epochs = n_features, epochs

    def fit(self, X, y):
        X, y = torch.from_numpy(X.copy()), torch.from_numpy(y.copy())
        module = MLP(self.n_features, 2, dropout=0.0)
        optimizer = torch.optim.Adam(module.parameters(), lr=1e-3, fused=True)
        for _ in range(self.epochs):
            order = torch.randperm(len(X))
            for start in range(0, len(X), 128):
                index = order[start:start + 128]
                optimizer.zero_grad()
                torch.nn.functional.cross_entropy(module(X[index]), y[index]).backward()
                optimizer.step()
        return self


MODELS = {
    "bare PyTorch loop": BareTorch,
    "sk_imbaloss (ce)": ours,
    "sk_imbaloss (adaptive)": lambda d, e: ours(d, e, "adaptive"),
    "stock skorch": stock,
    "sklearn MLPClassifier": sklearn_mlp,
}


def measure(X, y, epochs, repeats):
    """Seconds for a whole fit of each model (best of ``repeats``), after one untimed
    warm-up fit each. The models take turns in every round, so that a change in the
    machine's load between rounds falls on all of them alike."""
    best = dict.fromkeys(MODELS, float("inf"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for factory in MODELS.values():
            factory(X.shape[1], 1).fit(X, y)  # first-fit imports out of the timing
        for _ in range(repeats):
            for name, factory in MODELS.items():
                start = time.perf_counter()
                factory(X.shape[1], epochs).fit(X, y)
                best[name] = min(best[name], time.perf_counter() - start)
    return best


_FIRST_FIT = """
import sys, time, warnings
sys.path.insert(0, {here!r})
from _common import keel, one_thread
from bench_fit import MODELS
one_thread()
X, y = keel("ecoli1")
warnings.simplefilter("ignore")
start = time.perf_counter()
MODELS[{name!r}](X.shape[1], {epochs}).fit(X, y)
print(time.perf_counter() - start)
"""


def first_fit(name, epochs):
    """Seconds of the first ecoli1 fit in a fresh process (imports done)."""
    import subprocess
    import sys
    from pathlib import Path

    code = _FIRST_FIT.format(here=str(Path(__file__).resolve().parent), name=name,
                             epochs=epochs)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return float(out.stdout.split()[-1])


def main():
    one_thread()
    torch.manual_seed(0)
    small_epochs, big_epochs, repeats = (40, 5, 15) if not quick() else (2, 1, 1)
    rows = []
    X, y = keel("ecoli1")
    fits = measure(X, y, small_epochs, repeats)
    ref = fits["sklearn MLPClassifier"]
    for name, seconds in fits.items():
        rows.append(["ecoli1 336x7", f"whole fit, {small_epochs} epochs", name,
                     f"{seconds * 1e3:.1f} ms", f"{seconds / ref:.2f}",
                     f"{fits['stock skorch'] / seconds:.2f}"])
    X, y = keel("sylva")
    if quick():
        X, y = X[:2000], y[:2000]
    epochs = {name: seconds / big_epochs
              for name, seconds in measure(X, y, big_epochs, max(1, repeats // 2)).items()}
    ref = epochs["sklearn MLPClassifier"]
    for name, seconds in epochs.items():
        rows.append([f"sylva {X.shape[0]}x{X.shape[1]}", "per epoch", name,
                     f"{seconds * 1e3:.1f} ms", f"{seconds / ref:.2f}",
                     f"{epochs['stock skorch'] / seconds:.2f}"])
    table(rows, ["data", "what", "model", "time", "x MLPClassifier", "stock skorch / this"])
    # The first fit in a process also pays lazy imports (torch._dynamo, through the
    # optimizer's constructor), which the warm-up fits above keep out of the timings.
    names = ["sk_imbaloss (ce)", "stock skorch", "sklearn MLPClassifier"]
    firsts = {name: first_fit(name, small_epochs) for name in names}
    print()
    table([[name, f"{seconds * 1e3:.0f} ms", f"{seconds * 1e3 - fits[name] * 1e3:.0f} ms"]
           for name, seconds in firsts.items()],
          ["first ecoli1 fit in a new process", "time", "more than a later fit"])


if __name__ == "__main__":
    main()
