"""Variants of the losses on the 14 KEEL files, with the exact protocol of ``compare``.

The original rules and ablations of the defaults, under the estimator's defaults.

Each variant is a method factory run through :func:`sk_imbaloss.compare.run_comparison`
(same splits, seeds, scaling and training budget as ``sk-imbaloss compare``), so its
rows can be set beside the published comparison's. Nothing is tuned on test folds:
every variant is fixed before it is run. Run from the repository root:

    python benchmarks/loss_variants.py --out docs/variants [--n-jobs 2] [--only NAME ...]
        [--quick]
"""

from functools import partial

from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from _common import run_variants
from sk_imbaloss import ImbalancedNeuralClassifier
from sk_imbaloss.compare import _loss


class _NoOffsetNet(ImbalancedNeuralClassifier):
    """The default adaptive loss with the class weight ``importance`` instead of ``1 +``."""

    def initialize_criterion(self):
        super().initialize_criterion()
        self.criterion_.offset = 0.0
        return self


def _no_offset(seed, max_epochs):
    return Pipeline([("scale", StandardScaler()),
                     ("net", _NoOffsetNet(max_epochs=max_epochs, random_state=seed))])


VARIANTS = {
    "adaptive-seed (the original rule)": partial(_loss, "adaptive-seed"),
    "adaptive, weight = importance (no offset)": _no_offset,
    "ce + logit adjustment (no importance)": partial(_loss, "ce", logit_adjustment=1.0),
    "adaptive, weight 1 + importance (the default)": partial(_loss, "adaptive"),
    "adaptive, alpha=0.1": partial(_loss, "adaptive", alpha=0.1),
    "focal + balanced": partial(_loss, "focal", class_weight="balanced"),
    "margin + balanced": partial(_loss, "margin", class_weight="balanced"),
}


def main():
    run_variants(VARIANTS, __doc__.splitlines()[0], "docs/variants", max_epochs="auto")


if __name__ == "__main__":
    main()
