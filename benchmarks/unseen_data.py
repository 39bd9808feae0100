"""The comparison on imbalanced data sets that played no part in choosing the defaults.

The default losses were chosen on the 14 KEEL files (docs/benchmark.md). This runs
``compare``'s default methods and protocol on data sets built from scikit-learn's own
bundled data, none of them used in that search: the demo of ``sk-imbaloss compare``
(:func:`sk_imbaloss.datasets.load_demo`: diabetes, top decile of the target; digits
one-vs-rest, each of 0 and 8 as the minority, 1:9; wine class 3 against the rest;
breast cancer with the malignant class thinned to 1 in 8, a fixed random subset; and
two synthetic sets from ``make_classification``, 1:19, with and without label noise),
with compare's protocol for DATA (5 folds x 2 repeats). From the repository root:

    python benchmarks/unseen_data.py --out docs/unseen [--n-jobs 2] [--quick]
        [--methods NAME ...] [--variants NAME ...]

``--variants`` adds variants of ``research/loss_variants.py`` (by name) to the methods.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "research"))
from loss_variants import VARIANTS  # noqa: E402
from sk_imbaloss.compare import DEFAULT_METHODS, resolve_methods, run_comparison
from sk_imbaloss.datasets import load_demo
from sk_imbaloss.report import average_ranks, write_report


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/unseen"))
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="two data sets, 2 folds")
    parser.add_argument("--methods", nargs="+", default=list(DEFAULT_METHODS), metavar="NAME",
                        help="compare's methods to run (default: its default lineup)")
    parser.add_argument("--variants", nargs="+", default=[], choices=list(VARIANTS),
                        metavar="NAME", help="variants of loss_variants.py to add")
    args = parser.parse_args()
    data = load_demo()
    folds, repeats = 5, 2
    if args.quick:
        data, folds, repeats = data[:2], 2, 1
    methods = dict(resolve_methods(args.methods))
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
