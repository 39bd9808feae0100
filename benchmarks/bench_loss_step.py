"""One training step of each criterion (forward + backward) against plain cross entropy.

Logits of 4096 x 10 (4096 x 2 for the binary margin loss), one thread, and the seed
000 ``WeightedLoss`` as written in the write-up for reference.
Run: ``python benchmarks/bench_loss_step.py`` (``--quick`` for a smoke run).
"""

import torch
from torch import nn
from torch.utils.benchmark import Timer

from _common import one_thread, quick, table
from sk_imbaloss.losses import AdaptiveCrossEntropy, FocalLoss, MarginCrossEntropy


class SeedWeightedLoss(nn.Module):
    """The write-up's ``WeightedLoss`` (seed 000), verbatim."""

    def __init__(self, num_classes, alpha=1e-2):
        super().__init__()
        self.loss_fn = nn.CrossEntropyLoss(reduction="none")
        self.register_buffer("importance", torch.ones(num_classes).float())
        self.alpha = alpha

    def forward(self, logits, y):
        pred_class = logits.argmax(dim=1)
        wrong_preds = y != pred_class
        wrong_categories, false_negatives = y[wrong_preds].unique(return_counts=True)
        categories, actual_counts = y.unique(return_counts=True)
        false_negative_rate = torch.zeros_like(categories).float()
        idx = (categories[:, None] == wrong_categories[None, :]).nonzero(as_tuple=True)[0]
        false_negative_rate[idx] = false_negatives / actual_counts[idx]
        self.importance[categories] = (
            self.alpha * false_negative_rate + (1 - self.alpha) * self.importance[categories]
        )
        return (self.loss_fn(logits, y) * self.importance[y]).mean()


def step_time(criterion, n, c):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(n, c, generator=g, requires_grad=True)
    target = torch.randint(c, (n,), generator=g)

    def step():
        logits.grad = None
        criterion(logits, target).backward()

    timer = Timer("step()", globals={"step": step})
    measurement = timer.blocked_autorange(min_run_time=0.05 if quick() else 1.0)
    return measurement.median


def main():
    one_thread()
    n = 256 if quick() else 4096
    rows = []
    ce = {c: step_time(nn.CrossEntropyLoss(), n, c) for c in (10, 2)}
    # The estimator's defaults pass the class frequencies as the prior (logit adjustment).
    prior = {c: torch.linspace(1.0, 0.1, c) for c in (10, 2)}
    cases = [
        ("cross_entropy (reference)", nn.CrossEntropyLoss(), 10),
        ("adaptive (alpha=0.01)", AdaptiveCrossEntropy(10), 10),
        ("adaptive, with prior (default)", AdaptiveCrossEntropy(10, prior=prior[10]), 10),
        ("seed 000 WeightedLoss", SeedWeightedLoss(10), 10),
        ("focal (gamma=2)", FocalLoss(2.0), 10),
        ("focal, with prior (default)", FocalLoss(2.0, prior=prior[10]), 10),
        ("focal (gamma=0)", FocalLoss(0.0), 10),
        ("cross_entropy, 2 classes (reference)", nn.CrossEntropyLoss(), 2),
        ("margin (m=0.6)", MarginCrossEntropy(0.6), 2),
        ("margin, with prior (default)", MarginCrossEntropy(0.6, prior=prior[2]), 2),
    ]
    for name, criterion, c in cases:
        seconds = step_time(criterion, n, c)
        rows.append([name, f"{n}x{c}", f"{seconds * 1e6:.1f} us", f"{seconds / ce[c]:.2f}"])
    table(rows, ["criterion", "logits", "forward+backward", "x cross_entropy"])


if __name__ == "__main__":
    main()
