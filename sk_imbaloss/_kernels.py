"""``log_softmax`` by the faster of two routes to the same values.

torch's CPU ``log_softmax`` over a last dimension of fewer than 16 classes is a scalar
loop (torch 2.13: 11 to 15 ns per logit, against 0.6 to 1.1 ns from 16 classes on); over
the first dimension of the transpose it is vectorised. The criteria take that route on
large CPU batches of few classes (the same values to rounding): with 10 classes a
whole fit at batch 4096 takes 9 % (adaptive) to 15 % (focal) less time, with 2 no
difference was measured (docs/performance.md). On the estimator's batches of 128 rows the transpose costs more
than it saves, and torch's own route is taken.
"""

import torch.nn.functional as F

#: Logits of more than this many elements, on the CPU, with fewer classes than
#: _NARROW_CLASSES, go over the transpose (benchmarks/bench_loss_step.py).
_SMALL_BATCH_ELEMENTS = 4096
_NARROW_CLASSES = 16


def _transposed(logits):
    """Whether log_softmax is faster over the transpose: a large CPU batch, few classes."""
    return (logits.device.type == "cpu" and logits.shape[1] < _NARROW_CLASSES
            and logits.numel() > _SMALL_BATCH_ELEMENTS)


def log_softmax(logits):
    """``F.log_softmax(logits, dim=1)`` of ``(N, C)`` logits, by the faster route."""
    if _transposed(logits):
        return F.log_softmax(logits.t(), dim=0).t()
    return F.log_softmax(logits, dim=1)
