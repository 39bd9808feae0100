"""One training step of each criterion (forward + backward) against cross entropy.

Logits of 4096 x 10 and 4096 x 32 (4096 x 2 for the binary margin loss), then of
128 x 2, the estimator's batch on a binary problem (there a step is a few dozen small
operations, and each added operation counts); one thread, timed in CPU time of the
process, and the seed 000 ``WeightedLoss`` as written in the write-up for reference.

Two references: torch's ``nn.CrossEntropyLoss``, and the library's own cross entropy
(criterion ``'ce'``, ``FocalLoss(gamma=0)``). On the CPU, torch's log_softmax over fewer
than 16 classes is a scalar loop; the library's criteria take it over the transpose on
large batches (``sk_imbaloss._kernels.log_softmax``), so at 4096 x 10 they are faster
than torch's own cross entropy (at 4096 x 2 about as fast), and the second ratio is the
cost of what they add to a cross entropy computed the same way. At 32 classes both
routes are torch's.

``--fit`` times whole fits instead, with that route on and off: the estimator's defaults
at ``batch_size=4096`` on 200,000 x 20 synthetic rows of 2 and of 10 classes, 5 epochs,
CPU time of the process, the two interleaved, median of 5.
Run: ``python benchmarks/bench_loss_step.py`` (``--quick`` for a smoke run; ``--fit``).
"""

import statistics
import sys
import time

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

    # With one thread, CPU time is the step's own cost even while other processes share
    # the cores; wall time would count their turns too.
    timer = Timer("step()", globals={"step": step}, timer=time.process_time)
    measurement = timer.blocked_autorange(min_run_time=0.05 if quick() else 1.0)
    return measurement.median


def cases(c, prior):
    """(name, criterion) pairs for ``c`` classes; the margin loss only for 2."""
    rows = [
        ("cross_entropy (reference)", nn.CrossEntropyLoss()),
        ("adaptive (alpha=0.01)", AdaptiveCrossEntropy(c)),
        ("adaptive, with prior (default)", AdaptiveCrossEntropy(c, prior=prior)),
        ("seed 000 WeightedLoss", SeedWeightedLoss(c)),
        ("focal (gamma=2)", FocalLoss(2.0)),
        ("focal, with prior (default)", FocalLoss(2.0, prior=prior)),
        ("focal (gamma=0): criterion 'ce'", FocalLoss(0.0)),
    ]
    if c == 2:
        rows += [("margin (m=0.6)", MarginCrossEntropy(0.6)),
                 ("margin, with prior (default)", MarginCrossEntropy(0.6, prior=prior))]
    return rows


def fit_times(repeats=5):
    """Median CPU seconds of a whole fit with the transposed log_softmax on and off."""
    import numpy as np
    from sklearn.datasets import make_classification

    from sk_imbaloss import ImbalancedNeuralClassifier, _kernels

    rows, threshold = [], _kernels._SMALL_BATCH_ELEMENTS
    for classes in (2, 10):
        weights = np.linspace(1.0, 0.1, classes)
        X, y = make_classification(200_000, 20, n_informative=10, n_classes=classes,
                                   n_clusters_per_class=1, weights=weights / weights.sum(),
                                   random_state=0)
        X = X.astype(np.float32)
        ImbalancedNeuralClassifier(max_epochs=1).fit(X[:4096], y[:4096])  # first-fit imports
        for criterion in ("adaptive", "focal"):
            seconds = {"on": [], "off": []}
            for _ in range(repeats):
                for route in seconds:
                    _kernels._SMALL_BATCH_ELEMENTS = threshold if route == "on" else sys.maxsize
                    start = time.process_time()
                    ImbalancedNeuralClassifier(criterion=criterion, batch_size=4096,
                                               max_epochs=5, random_state=0).fit(X, y)
                    seconds[route].append(time.process_time() - start)
            on, off = (statistics.median(seconds[route]) for route in ("on", "off"))
            rows.append([f"200000x20, {classes} classes", criterion, f"{on:.2f} s",
                         f"{off:.2f} s", f"{on / off:.2f}"])
    _kernels._SMALL_BATCH_ELEMENTS = threshold
    table(rows, ["data", "criterion", "fit, route on", "fit, route off", "on / off"])


def main():
    one_thread()
    if "--fit" in sys.argv:
        return fit_times()
    rows = []
    # The estimator's defaults pass the class frequencies as the prior (logit adjustment).
    shapes = [(4096, 10), (4096, 32), (4096, 2), (128, 2)]
    if quick():
        shapes = [(256, 10), (128, 2)]
    for n, c in shapes:
        torch_ce = step_time(nn.CrossEntropyLoss(), n, c)
        own_ce = step_time(FocalLoss(0.0), n, c)
        for name, criterion in cases(c, torch.linspace(1.0, 0.1, c)):
            timed_at_4096x2 = name.startswith(("margin", "cross", "focal (gamma=0"))
            if c == 2 and n == 4096 and not timed_at_4096x2:
                continue  # at 4096 rows, only the binary margin loss needs 2 columns
            seconds = step_time(criterion, n, c)
            rows.append([name, f"{n}x{c}", f"{seconds * 1e6:.1f} us",
                         f"{seconds / torch_ce:.2f}", f"{seconds / own_ce:.2f}"])
    table(rows, ["criterion", "logits", "forward+backward", "x nn.CrossEntropyLoss",
                 "x criterion 'ce'"])


if __name__ == "__main__":
    main()
