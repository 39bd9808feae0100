"""Prediction throughput (``predict_proba``) against stock skorch and MLPClassifier.

The same fitted-size network (20-64-64-2), one thread. Run:
``python benchmarks/bench_predict.py`` (``--quick`` for a smoke run).
"""

import warnings

import numpy as np
import torch
from sklearn.neural_network import MLPClassifier
from skorch import NeuralNetClassifier

from _common import best_of, one_thread, quick, table
from sk_imbaloss import MLP, ImbalancedNeuralClassifier


def _subnormal(module):
    """How many of the module's weights are subnormal (nonzero, below float's tiny)."""
    return sum(int(((p != 0) & (p.abs() < torch.finfo(p.dtype).tiny)).sum())
               for p in module.parameters())


def _plain_epoch(X, y):
    """One epoch of the estimator's default training in a plain loop, subnormals kept."""
    torch.manual_seed(0)
    X, y = torch.from_numpy(X), torch.from_numpy(y)
    module = MLP(X.shape[1], 2)
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3, weight_decay=1e-3)
    for index in torch.randperm(len(X)).split(128):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(module(X[index]), y[index]).backward()
        optimizer.step()
    return module.eval()


def main():
    one_thread()
    n = 20_000 if quick() else 1_000_000
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, 20), dtype=np.float32)
    y = (X[:, 0] > 1.3).astype(np.int64)
    fit_X, fit_y = X[:2000], y[:2000]
    models = {
        "sk_imbaloss": ImbalancedNeuralClassifier(max_epochs=1, random_state=0),
        "stock skorch": NeuralNetClassifier(
            MLP, module__n_features=20, module__n_classes=2, criterion=torch.nn.CrossEntropyLoss,
            optimizer=torch.optim.Adam, max_epochs=1, train_split=None, verbose=0),
        "sklearn MLPClassifier": MLPClassifier((64, 64), max_iter=1, random_state=0),
    }
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, model in models.items():
            model.fit(fit_X, fit_y)
            model.predict_proba(X[:1000])
            seconds, _ = best_of(lambda: model.predict_proba(X), 1 if quick() else 3)
            rows.append([name, f"{n:,}", f"{seconds:.3f} s", f"{n / seconds / 1e6:.2f} M rows/s"])
    # After a fit on many rows some weights are subnormal; the estimator flushes them
    # to zero while it predicts (the other two models do not).
    big = ImbalancedNeuralClassifier(max_epochs=1, random_state=0).fit(X, y)
    subnormal = _subnormal(big.module_)
    seconds, _ = best_of(lambda: big.predict_proba(X), 1 if quick() else 3)
    rows.append([f"sk_imbaloss after a {n:,}-row fit ({subnormal} subnormal weights)",
                 f"{n:,}", f"{seconds:.3f} s", f"{n / seconds / 1e6:.2f} M rows/s"])
    # What the flush is worth: the same network trained one epoch on all the rows by a
    # plain PyTorch loop with subnormals kept, called on 65,536-row chunks without and
    # with flushing.
    plain = _plain_epoch(X, y)
    subnormal = _subnormal(plain)
    X_t = torch.from_numpy(X)
    for flush in (False, True):
        torch.set_flush_denormal(flush)
        with torch.no_grad():
            seconds, _ = best_of(lambda: [plain(chunk) for chunk in X_t.split(65536)],
                                 1 if quick() else 3)
        rows.append([f"plain loop's net ({subnormal} subnormal weights), flush={flush}",
                     f"{n:,}", f"{seconds:.3f} s", f"{n / seconds / 1e6:.2f} M rows/s"])
    torch.set_flush_denormal(False)
    table(rows, ["model", "rows", "predict_proba", "throughput"])


if __name__ == "__main__":
    main()
