"""Paired differences against one method, from ``compare`` / variant ``results.csv`` files.

Every method is set against ``--reference`` on the same folds (same data set, repeat
and fold, hence the same split and seed): the mean difference of the per-data-set
means, its standard error over the folds, the number of data sets won and lost, and
the p-value of the Wilcoxon signed-rank test over the per-data-set means (scipy). It
says whether a gap in the summary tables is larger than the noise of the run. Several
files may be given when they come from the same protocol (the seeds are checked).

    python benchmarks/paired.py docs/benchmark-keel/results.csv docs/variants/results.csv \\
        --reference adaptive [--metric average_precision g_mean] [--table]
"""

import argparse
import math
from pathlib import Path

import pandas as pd
from scipy.stats import wilcoxon

KEYS = ["dataset", "repeat", "fold"]


def paired(results, reference, metric):
    """One row per method: its mean and its paired difference to ``reference``."""
    folds = results.pivot_table(index=KEYS, columns="method", values=metric)
    if reference not in folds:
        raise SystemExit(f"--reference {reference!r} is not a method in the results.")
    per_set = results.groupby(["dataset", "method"])[metric].mean().unstack()
    rows = []
    for method in folds.columns.drop(reference):
        fold_diff = (folds[method] - folds[reference]).dropna()
        set_diff = (per_set[method] - per_set[reference]).dropna()
        rows.append({
            "method": method,
            metric: per_set[method].mean(),
            "diff": set_diff.mean(),
            "se (folds)": fold_diff.std() / math.sqrt(len(fold_diff)),
            "won": int((set_diff > 0).sum()),
            "lost": int((set_diff < 0).sum()),
            "wilcoxon p": wilcoxon(set_diff).pvalue if set_diff.any() else 1.0,
        })
    return pd.DataFrame(rows).sort_values("diff", ascending=False)


def scored(results):
    """The rows of one file whose fold was scored."""
    if "status" in results:
        return results[results["status"] == "ok"]
    if "error" in results:  # results.csv written before the status column
        return results[results["error"].isna()]
    return results


def load(paths):
    """The rows of every file; fails when two files disagree on a fold's seed."""
    results = pd.concat([scored(pd.read_csv(p)) for p in paths], ignore_index=True)
    seeds = results.groupby(KEYS)["seed"].nunique()
    if (seeds > 1).any():
        raise SystemExit("the files were not run with the same splits and seeds "
                         f"(first mismatch: {seeds[seeds > 1].index[0]}).")
    # The same method in two files (a variant repeating the main run): keep one copy.
    return results.drop_duplicates(subset=KEYS + ["method"])


def table(results, ranked):
    """Means over the data sets of every metric, and the average ranks of ``ranked``."""
    from sk_imbaloss.report import average_ranks

    metrics = ["g_mean", "average_precision", "balanced_accuracy", "roc_auc", "minority_f1"]
    means = results.groupby(["dataset", "method"])[metrics].mean().groupby("method").mean()
    for metric in ranked:
        means[f"rank {metric}"] = average_ranks(results, metric)
    return means.sort_values(metrics[0], ascending=False)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", type=Path)
    parser.add_argument("--reference", default="adaptive")
    parser.add_argument("--metric", nargs="+", default=["average_precision", "g_mean"])
    parser.add_argument("--table", action="store_true",
                        help="print the mean of each metric over the data sets and the "
                             "average ranks of --metric over every method of the files")
    args = parser.parse_args()
    results = load(args.results)
    if args.table:
        from sk_imbaloss.report import friedman

        print(table(results, args.metric).round(3).to_string())
        for metric in args.metric:
            print(f"Friedman over all methods, {metric}: p = {friedman(results, metric).pvalue:.3g}")
        return
    with pd.option_context("display.width", 200, "display.max_colwidth", 70):
        for metric in args.metric:
            print(f"\n{metric}: paired against {args.reference} "
                  f"({results['dataset'].nunique()} data sets)")
            print(paired(results, args.reference, metric).round(4).to_string(index=False))


if __name__ == "__main__":
    main()
