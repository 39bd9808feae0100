"""Balanced mini-batches combined with the default adaptive loss, on the 14 KEEL files.

``sampling="balanced"`` with ``criterion="adaptive"``, with its logit adjustment (the
default, which balanced batches make double) and without it; run on ``compare``'s
splits and seeds, so that ``benchmarks/paired.py`` sets them against the published
results (docs/benchmark.md, "The practitioners' lineup"). From the repository root:

    python benchmarks/research/balanced_batches.py --out docs/benchmark-keel-combined --n-jobs 2
"""

from functools import partial

from _variants import run_variants
from sk_imbaloss.compare import _loss

VARIANTS = {
    "adaptive + balanced-batches": partial(_loss, "adaptive", sampling="balanced"),
    "adaptive + balanced-batches, no adjustment": partial(
        _loss, "adaptive", sampling="balanced", logit_adjustment=0),
}

if __name__ == "__main__":
    run_variants(VARIANTS, __doc__.splitlines()[0], "docs/benchmark-keel-combined")
