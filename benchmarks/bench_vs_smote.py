"""Wall time of training with a loss against SMOTE + the same network.

Resampling grows the training set to two majority classes' worth of rows, so at an
imbalance ratio r the net trains on about 2r / (r + 1) times the rows. 20,000 x 20
synthetic rows, 20 epochs, one thread. Run: ``python benchmarks/bench_vs_smote.py``
(``--quick`` for a smoke run).
"""

from imblearn.over_sampling import SMOTE
from imblearn.pipeline import make_pipeline
from sklearn.datasets import make_classification

from _common import best_of, one_thread, quick, table
from sk_imbaloss import ImbalancedNeuralClassifier


def main():
    one_thread()
    n, epochs = (2000, 2) if quick() else (20_000, 20)
    rows = []
    for ratio in (10, 30):
        X, y = make_classification(n_samples=n, n_features=20, weights=[ratio / (ratio + 1)],
                                   random_state=0)
        def net(**kw):
            return ImbalancedNeuralClassifier(max_epochs=epochs, random_state=0, **kw)
        methods = {
            "adaptive": net(),
            "focal": net(criterion="focal"),
            "margin": net(criterion="margin"),
            "ce-balanced": net(criterion="ce", class_weight="balanced"),
            "smote + ce": make_pipeline(SMOTE(random_state=0), net(criterion="ce")),
        }
        methods["adaptive"].fit(X[:500], y[:500])  # warm-up
        base = None
        for name, model in methods.items():
            seconds, _ = best_of(lambda: model.fit(X, y), 1 if quick() else 2)
            base = base or seconds
            rows.append([f"{ratio}:1", name, f"{seconds:.2f} s", f"{seconds / base:.2f}"])
    table(rows, ["imbalance", "method", "fit", "x adaptive"])


if __name__ == "__main__":
    main()
