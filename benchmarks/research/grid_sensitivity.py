"""Which parameters move the results: one change at a time from the default, on the KEEL files.

Each variant is the default estimator (``criterion="adaptive"``, behind a
``StandardScaler``) with one parameter changed: ``alpha``, ``logit_adjustment``, the
criterion with its own parameter (focal's ``gamma``, margin's ``margin``), the width of
the network and the number of epochs. All run on ``compare``'s splits and seeds, so
``benchmarks/paired.py --reference default`` gives each change's paired difference and
the README's grid is the parameters that move it. From the repository root:

    python benchmarks/research/grid_sensitivity.py --out docs/grid-sensitivity --n-jobs 2
    python benchmarks/paired.py docs/grid-sensitivity/results.csv --reference default \\
        --metric g_mean average_precision balanced_accuracy
"""

from functools import partial

from _variants import run_variants
from sk_imbaloss.compare import _loss

adaptive = partial(_loss, "adaptive")

VARIANTS = {
    "default": adaptive,
    "alpha=0.001": partial(adaptive, alpha=0.001),
    "alpha=0.1": partial(adaptive, alpha=0.1),
    "alpha=1": partial(adaptive, alpha=1.0),
    "logit_adjustment=0": partial(adaptive, logit_adjustment=0),
    "logit_adjustment=2": partial(adaptive, logit_adjustment=2.0),
    "criterion=ce": partial(_loss, "ce"),
    "criterion=focal, gamma=1": partial(_loss, "focal", gamma=1.0),
    "criterion=focal, gamma=2": partial(_loss, "focal", gamma=2.0),
    "criterion=focal, gamma=5": partial(_loss, "focal", gamma=5.0),
    "criterion=margin, margin=0.55": partial(_loss, "margin", margin=0.55),
    "criterion=margin, margin=0.6": partial(_loss, "margin", margin=0.6),
    "criterion=margin, margin=0.8": partial(_loss, "margin", margin=0.8),
    "hidden_units=(32,)": partial(adaptive, hidden_units=(32,)),
    "hidden_units=(256, 256)": partial(adaptive, hidden_units=(256, 256)),
    # The runner passes max_epochs="auto" (at least 40 epochs and 500 steps); these
    # fix it instead.
    "max_epochs=20": lambda seed, max_epochs: adaptive(seed, 20),
    "max_epochs=80": lambda seed, max_epochs: adaptive(seed, 80),
}

if __name__ == "__main__":
    run_variants(VARIANTS, __doc__.splitlines()[0], "docs/grid-sensitivity")
