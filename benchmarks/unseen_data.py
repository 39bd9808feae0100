"""The comparison on imbalanced data sets that played no part in choosing the defaults.

The default losses were chosen on the 14 KEEL files (docs/benchmark.md). This runs
``compare``'s default methods and protocol on data sets built from scikit-learn's own
bundled data, none of them used in that search: the default data of ``sk-imbaloss
compare`` (diabetes, top decile of the target), digits one-vs-rest (each of 0 and 8 as
the minority, 1:9), wine class 3 against the rest, breast cancer with the malignant
class thinned to 1 in 8 (a fixed random subset), and two synthetic sets from
``make_classification`` (1:19, with and without label noise). From the repository root:

    python benchmarks/unseen_data.py --out docs/unseen [--n-jobs 2] [--quick]
        [--variants NAME ...]

``--variants`` adds variants of ``research/loss_variants.py`` (by name) to the methods.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, load_wine, make_classification

sys.path.insert(0, str(Path(__file__).resolve().parent / "research"))
from loss_variants import VARIANTS  # noqa: E402
from sk_imbaloss.compare import DEFAULT_METHODS, resolve_methods, run_comparison
from sk_imbaloss.datasets import as_dataset, load_default
from sk_imbaloss.report import average_ranks, write_report


def datasets():
    """``(name, X, y)`` with ``y = 1`` for the minority."""
    yield as_dataset(load_default())
    digits = load_digits()
    for digit in (0, 8):
        yield f"digits-{digit}-vs-rest", digits.data, (digits.target == digit).astype(int)
    wine = load_wine()
    yield "wine-3-vs-rest", wine.data, (wine.target == 2).astype(int)
    cancer = load_breast_cancer()
    malignant = np.flatnonzero(cancer.target == 0)
    benign = np.flatnonzero(cancer.target == 1)
    keep = np.random.default_rng(0).choice(malignant, size=len(benign) // 8, replace=False)
    rows = np.sort(np.concatenate([benign, keep]))
    yield "breast-cancer-1-in-8", cancer.data[rows], (cancer.target[rows] == 0).astype(int)
    for noise in (0.0, 0.05):
        X, y = make_classification(n_samples=2000, n_features=20, n_informative=6,
                                   weights=[0.95], flip_y=noise, random_state=0)
        yield f"synthetic-1-in-20-noise-{noise}", X, y


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/unseen"))
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="two data sets, 2 folds")
    parser.add_argument("--variants", nargs="+", default=[], choices=list(VARIANTS),
                        metavar="NAME", help="variants of loss_variants.py to add")
    args = parser.parse_args()
    data = list(datasets())
    folds, repeats = 5, 2
    if args.quick:
        data, folds, repeats = data[:2], 2, 1
    methods = dict(resolve_methods(DEFAULT_METHODS))
    methods.update((name, VARIANTS[name]) for name in args.variants)
    results = run_comparison(data, methods, folds=folds, repeats=repeats,
                             n_jobs=args.n_jobs)
    write_report(results, args.out)
    means = results.groupby(["dataset", "method"])[["g_mean", "average_precision"]].mean()
    table = means.groupby("method").mean()
    for metric in ("g_mean", "average_precision"):
        table[f"rank {metric}"] = average_ranks(results, metric)
    print(table.sort_values("g_mean", ascending=False).round(3).to_string())


if __name__ == "__main__":
    main()
