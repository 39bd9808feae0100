"""Probability quality and class weights: the default's probabilities, ``prior='train'``,
``criterion="ce"`` and ``CalibratedClassifierCV``, and ``class_weight`` beside the logit
adjustment, on the 14 KEEL files and the demo.

Every method is a ``StandardScaler`` + ``ImbalancedNeuralClassifier`` Pipeline, scored on
a stratified 5-fold split (seed 0, nets seeded 0) by the Brier score and the expected
calibration error (ECE, 10 equal-width bins) of P(minority), and by the balanced
accuracy and G-mean of its decision. One fit of the default gives three rows: its
``predict_proba``, ``predict_proba(X, prior='train')`` and the same with the adaptive
importance undone as well (which the estimator does not do: a check of that choice).
A three-class set (``make_classification``, weights 0.80 / 0.15 / 0.05, seed 0) is
reported beside the means, not in them. From the repository root:

    python benchmarks/research/calibration.py --out docs/calibration --n-jobs 2

``--quick`` runs two small files on 2 folds of 3-epoch fits (the smoke run).
"""

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from imblearn.metrics import geometric_mean_score
from joblib import Parallel, delayed
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import make_classification
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/_common.py
from _common import KEEL_DIR  # noqa: E402

from sk_imbaloss import ImbalancedNeuralClassifier  # noqa: E402
from sk_imbaloss.datasets import as_dataset, iter_data_paths, load_csv, load_demo  # noqa: E402

THREE_CLASS = "three-class-80-15-5"
#: Name -> the net's parameters; each is one fit per fold.
NETS = {
    "default": {},
    "ce": dict(criterion="ce"),
    "default, class_weight='balanced', logit_adjustment=1 (before)": dict(
        class_weight="balanced", logit_adjustment=1.0),
    "default, class_weight='balanced' (replaces the adjustment)": dict(
        class_weight="balanced"),
    "ce, class_weight='balanced'": dict(criterion="ce", class_weight="balanced"),
}
CALIBRATED = "default, CalibratedClassifierCV(cv=3)"
PRIOR = "default, prior='train'"
PRIOR_IMPORTANCE = "default, prior='train', importance undone too"


def expected_calibration_error(hit, proba, bins=10):
    """Mean |observed rate - mean predicted probability| over equal-width bins, by size."""
    which = np.minimum((proba * bins).astype(int), bins - 1)
    total = 0.0
    for b in np.unique(which):
        rows = which == b
        total += rows.sum() * abs(hit[rows].mean() - proba[rows].mean())
    return total / len(proba)


def scores(y, proba, classes, minority):
    """The probability and decision scores of one method on one test fold."""
    column = list(classes).index(minority)
    hit, p = (y == minority).astype(float), proba[:, column]
    predicted = classes[proba.argmax(axis=1)]
    return dict(brier=np.mean((p - hit) ** 2), ece=expected_calibration_error(hit, p),
                mean_p_minority=p.mean(), minority_rate=hit.mean(),
                balanced_accuracy=balanced_accuracy_score(y, predicted),
                g_mean=geometric_mean_score(y, predicted))


def run_fold(name, X, y, fold, train, test, max_epochs):
    """Every method on one split; rows of scores."""
    counts = pd.Series(y[train]).value_counts()
    minority = counts.index[-1]
    results = {}
    common = dict(random_state=0, max_epochs=max_epochs)
    for method, params in NETS.items():
        pipe = make_pipeline(StandardScaler(), ImbalancedNeuralClassifier(**common, **params))
        with warnings.catch_warnings():  # "before" is the double correction, on purpose
            warnings.simplefilter("ignore", UserWarning)
            pipe.fit(X[train], y[train])
        results[method] = pipe.predict_proba(X[test])
        if method == "default":
            results[PRIOR] = pipe.predict_proba(X[test], prior="train")
            net = pipe[-1]
            logits = np.log(results[method]) + np.log(net.class_prior_)
            logits -= np.log1p(net.importance_)
            shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
            results[PRIOR_IMPORTANCE] = shifted / shifted.sum(axis=1, keepdims=True)
    default = make_pipeline(StandardScaler(), ImbalancedNeuralClassifier(**common))
    inner = StratifiedKFold(3, shuffle=True, random_state=0)
    calibrated = CalibratedClassifierCV(default, cv=inner).fit(X[train], y[train])
    results[CALIBRATED] = calibrated.predict_proba(X[test])
    classes = np.unique(y[train])
    return [dict(dataset=name, fold=fold, method=method,
                 **scores(y[test], proba, classes, minority))
            for method, proba in results.items()]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/calibration"))
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--quick", action="store_true",
                        help="two small files, 2 folds, 3 epochs")
    parser.add_argument("--datasets", nargs="+", metavar="NAME",
                        help="run these data sets only (default: all)")
    parser.add_argument("--summarize", action="store_true",
                        help="print the means of --out's results.csv (no run)")
    args = parser.parse_args()
    if args.summarize:
        return summarize(pd.read_csv(args.out / "results.csv"), 2 if args.quick else 5)
    paths = list(iter_data_paths([KEEL_DIR]))
    X3, y3 = make_classification(n_samples=3000, n_features=10, n_informative=5,
                                 n_classes=3, weights=[0.8, 0.15, 0.05], random_state=0)
    if args.quick:
        keep = ("ecoli1", "glass2")
        datasets = [as_dataset(load_csv(p)) for p in paths if p.name.startswith(keep)]
        folds, max_epochs = 2, 3
    else:
        datasets = [as_dataset(load_csv(p)) for p in paths] + load_demo()
        datasets.append((THREE_CLASS, X3, y3))
        folds, max_epochs = 5, "auto"
    if args.datasets:
        datasets = [d for d in datasets if d[0] in args.datasets]
    # Smallest first, each fold's rows written as it ends: a stopped run keeps its
    # finished data sets.
    datasets.sort(key=lambda d: d[1].size)
    splitter = StratifiedKFold(folds, shuffle=True, random_state=0)
    jobs = [delayed(run_fold)(name, X, y, fold, train, test, max_epochs)
            for name, X, y in datasets
            for fold, (train, test) in enumerate(splitter.split(X, y))]
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "results.csv"
    with open(path, "w", newline="") as handle:
        runs = Parallel(n_jobs=args.n_jobs, return_as="generator_unordered")(jobs)
        for i, rows in enumerate(runs):
            pd.DataFrame(rows).to_csv(handle, header=i == 0, index=False)
            handle.flush()
    summarize(pd.read_csv(path), folds)


def summarize(results, folds):
    """Print the means over the data sets whose every fold is in ``results``."""
    done = results.groupby("dataset")["fold"].nunique()
    results = results[results["dataset"].isin(done[done == folds].index)]
    metrics = ["brier", "ece", "mean_p_minority", "minority_rate", "balanced_accuracy",
               "g_mean"]
    binary = results[results["dataset"] != THREE_CLASS]
    by_set = binary.groupby(["method", "dataset"])[metrics].mean()
    print(f"Means over {binary['dataset'].nunique()} data sets (each the mean of its folds): "
          f"{', '.join(sorted(binary['dataset'].unique()))}")
    print(by_set.groupby("method").mean().round(4).to_string())
    three = results[results["dataset"] == THREE_CLASS]
    if len(three):
        print(f"\n{THREE_CLASS} (mean of {folds} folds):")
        print(three.groupby("method")[metrics].mean().round(4).to_string())


if __name__ == "__main__":
    main()
