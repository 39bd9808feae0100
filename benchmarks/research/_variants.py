"""The command line shared by the variant-search scripts of this folder.

These scripts are the record of how the defaults were chosen (docs/benchmark.md); each
variant runs through ``compare``'s splits and seeds on the KEEL files.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/_common.py

from _common import KEEL_DIR  # noqa: E402

__all__ = ["run_variants"]


def run_variants(variants, description, default_out, max_epochs="auto"):
    """The command line of the variant scripts: run ``variants`` on the KEEL files.

    Each variant is a ``factory(seed, max_epochs)`` run through ``run_comparison`` with
    ``compare``'s splits and seeds; writes ``results.csv`` under ``--out`` and prints
    the means over the data sets.
    """
    import argparse

    from sk_imbaloss.compare import run_comparison
    from sk_imbaloss.datasets import as_dataset, iter_data_paths, load_csv

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, default=Path(default_out))
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--only", nargs="+", choices=list(variants), metavar="NAME")
    parser.add_argument("--quick", action="store_true", help="two small files, 2 folds")
    parser.add_argument("--repeats", type=int, default=2,
                        help="repeats of the 5-fold split (default 2, as compare)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the splits and nets (default 0, as compare)")
    args = parser.parse_args()
    paths = list(iter_data_paths([KEEL_DIR]))
    folds, repeats = 5, args.repeats
    if args.quick:
        paths, folds, repeats = paths[:2], 2, 1
    chosen = {name: variants[name] for name in (args.only or variants)}
    datasets = [as_dataset(load_csv(p)) for p in paths]
    results = run_comparison(datasets, chosen, folds=folds, repeats=repeats,
                             max_epochs=max_epochs, seed=args.seed, n_jobs=args.n_jobs)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "results.csv"
    if args.only and path.exists():  # replace the chosen variants' rows, keep the rest
        import pandas as pd

        kept = pd.read_csv(path)
        kept = kept[~kept["method"].isin(args.only)]
        results = pd.concat([kept, results], ignore_index=True)
    results.to_csv(path, index=False)
    metrics = ["g_mean", "average_precision", "balanced_accuracy", "roc_auc"]
    print(results.groupby("method")[metrics].mean().round(3).to_string())
    # A variant whose folds fail is a broken variant, not a result: say so, and make
    # the smoke run (--quick) fail on it.
    failed = results[results["status"] == "failed"]
    if len(failed):
        for method, rows in failed.groupby("method"):
            print(f"{method}: {len(rows)} folds failed: {rows['error'].iloc[0]}")
        if args.quick:
            raise SystemExit(1)
