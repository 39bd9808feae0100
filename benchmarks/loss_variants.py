"""Variants of the losses on the 14 KEEL files, with the exact protocol of ``compare``.

Each variant is a method factory run through :func:`sk_imbaloss.compare.run_comparison`
(same splits, seeds, scaling and training budget as ``sk-imbaloss compare``), so its
rows can be set beside the published comparison's. Nothing is tuned on test folds:
every variant is fixed before it is run. Run from the repository root:

    python benchmarks/loss_variants.py --out docs/variants [--n-jobs 2] [--quick]
"""

import argparse
from functools import partial
from pathlib import Path

from sk_imbaloss.compare import _loss, run_comparison
from sk_imbaloss.datasets import as_dataset, iter_data_paths, load_csv

KEEL_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "imbalanced"

VARIANTS = {
    "adaptive a=0.1": partial(_loss, "adaptive", alpha=0.1),
    "adaptive + balanced": partial(_loss, "adaptive", class_weight="balanced"),
    "adaptive a=0.1 + balanced": partial(_loss, "adaptive", alpha=0.1, class_weight="balanced"),
    "focal + balanced": partial(_loss, "focal", class_weight="balanced"),
    "margin + balanced": partial(_loss, "margin", class_weight="balanced"),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/variants"))
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="two small files, 2 folds")
    args = parser.parse_args()
    paths = list(iter_data_paths([KEEL_DIR]))
    folds, repeats = 5, 2
    if args.quick:
        paths, folds, repeats = paths[:2], 2, 1
    datasets = [as_dataset(load_csv(p)) for p in paths]
    results = run_comparison(datasets, VARIANTS, folds=folds, repeats=repeats, n_jobs=args.n_jobs)
    args.out.mkdir(parents=True, exist_ok=True)
    results.to_csv(args.out / "results.csv", index=False)
    print(results.groupby("method")[["g_mean", "average_precision", "balanced_accuracy"]]
          .mean().round(3).to_string())


if __name__ == "__main__":
    main()
