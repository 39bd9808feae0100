"""Each criterion's loss and gradient in one custom ``torch.autograd.Function``, measured.

The library's criteria compose a few fused torch operations (``log_softmax``,
``nll_loss``) and let autograd differentiate them. Here each criterion's forward and
backward are written out from its formula instead, in one Function per criterion (a
weighted cross entropy on shifted logits that ``adaptive`` and ``margin`` feed, and
focal loss with its own backward), as a drop-in subclass of the library's criterion.
The script checks that they equal the library's criteria (losses, gradients and the
importance's trajectory, float32 and float64, every reduction, with and without weight
and prior, at 128 x 2, 128 x 5, 128 x 10 and 4096 x 10; ``gradcheck`` in float64), then
times them side by side (one thread, CPU time, best of the rounds, the contenders
taking turns): one forward and backward against torch's cross entropy, and whole
ecoli1 fits with the fused criteria swapped in against the library's and
``MLPClassifier``. Results in docs/performance.md ("Fused criteria").

Run from the repository root: ``python benchmarks/research/fused_losses.py [--quick]``
"""

import sys
import time
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import keel, one_thread, quick, table  # noqa: E402
from sk_imbaloss import ImbalancedNeuralClassifier  # noqa: E402
from sk_imbaloss._kernels import log_softmax  # noqa: E402
from bench_loss_step import step_time  # noqa: E402
from sk_imbaloss.losses import (AdaptiveCrossEntropy, FocalLoss,  # noqa: E402
                                MarginCrossEntropy, _check_inputs, _reduce)


def _input_grad(probs, target, coef):
    """``coef_i * (probs_i - onehot(y_i))`` for each row, in place of ``probs``."""
    coef = coef.unsqueeze(1)
    return probs.mul_(coef).scatter_add_(1, target.unsqueeze(1), -coef)


def _row_coef(grad_output, rows, n, reduction):
    """d(reduced loss)/d(loss_i) times the per-row factor ``rows`` (None for 1)."""
    coef = grad_output / n if reduction == "mean" else grad_output
    if rows is None:
        return coef.expand(n)
    return rows * coef


class WeightedCrossEntropy(torch.autograd.Function):
    r"""``loss_i = r_i * CE(z_i + s, y_i)``, reduced, with ``r_i = w[y_i] * g(CE_i)``.

    ``s`` is the logit shift (or None), ``w`` a class weight (or None) and ``g`` an
    optional function of the row's cross entropy (the margin gate; None for 1). ``r_i``
    is a constant for the gradient, which is, from the formula::

        d loss_i / d z_i = r_i * (softmax(z_i + s) - onehot(y_i))

    divided by N for the mean. The backward is not itself differentiable
    (``once_differentiable``): no second derivatives.
    """

    @staticmethod
    def forward(ctx, logits, target, shift, class_weight, gate, reduction):
        log_p = log_softmax(logits if shift is None else logits + shift)
        rows = None if class_weight is None else class_weight[target]
        ce = F.nll_loss(log_p, target, reduction="none")
        if gate is not None:
            rows = gate(ce) if rows is None else rows * gate(ce)
        loss = ce if rows is None else ce * rows
        ctx.save_for_backward(log_p, target, rows)
        ctx.reduction = reduction
        return _reduce(loss, reduction)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        log_p, target, rows = ctx.saved_tensors
        coef = _row_coef(grad_output, rows, target.shape[0], ctx.reduction)
        return _input_grad(log_p.exp(), target, coef), None, None, None, None, None


class FocalCrossEntropy(torch.autograd.Function):
    r"""``FL_i = w[y_i] * f_i * CE(z_i + s, y_i)``, ``f_i = (1 - p_t)^gamma``, reduced.

    ``p_t = softmax(z_i)[y_i]`` is the raw probability, ``1 - p_t = -expm1(-CE(z_i,
    y_i))``, clamped to the smallest normal number so that the factor's derivative
    stays finite (and is zero where ``1 - p_t`` underflows, as the clamp's). With
    ``df/dz_i = gamma * (1 - p_t)^(gamma - 1) * p_t * (softmax(z_i) - onehot(y_i))``
    the gradient is, from the formula::

        d FL_i / d z_i = w[y_i] * (f_i * (softmax(z_i + s) - onehot(y_i))
                                   + f'_i * CE_i * (softmax(z_i) - onehot(y_i)))

    with ``f'_i = gamma * (1 - p_t)^(gamma - 1) * p_t``, divided by N for the mean.
    Without a shift both softmaxes are one. Not differentiable twice
    (``once_differentiable``).
    """

    @staticmethod
    def forward(ctx, logits, target, shift, gamma, class_weight, reduction):
        log_p = log_softmax(logits if shift is None else logits + shift)
        ce = F.nll_loss(log_p, target, reduction="none")
        raw_log_p = log_p if shift is None else log_softmax(logits)
        raw_ce = ce if shift is None else F.nll_loss(raw_log_p, target, reduction="none")
        tiny = torch.finfo(ce.dtype).tiny
        one_minus_pt = torch.expm1(-raw_ce).neg_()
        factor = one_minus_pt.clamp(min=tiny).pow_(gamma)
        # f' = gamma * f / (1 - p_t) * p_t, zero where the clamp holds 1 - p_t up.
        slope = torch.where(one_minus_pt >= tiny, factor / one_minus_pt, 0.0)
        slope.mul_(raw_ce.neg().exp_()).mul_(gamma).mul_(ce)
        rows = None if class_weight is None else class_weight[target]
        loss = factor * ce if rows is None else factor * ce * rows
        ctx.save_for_backward(log_p, raw_log_p, target, factor, slope, rows)
        ctx.reduction, ctx.shifted = reduction, shift is not None
        return _reduce(loss, reduction)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        log_p, raw_log_p, target, factor, slope, rows = ctx.saved_tensors
        coef = _row_coef(grad_output, rows, target.shape[0], ctx.reduction)
        if not ctx.shifted:
            return _input_grad(log_p.exp(), target, coef * (factor + slope)), *[None] * 5
        # The two softmax terms, then one scatter of both rows' onehot parts.
        on_adjusted, on_raw = coef * factor, coef * slope
        grad = log_p.exp().mul_(on_adjusted.unsqueeze(1))
        grad.addcmul_(raw_log_p.exp(), on_raw.unsqueeze(1))
        onehot = on_adjusted.add_(on_raw).neg_().unsqueeze(1)
        return grad.scatter_add_(1, target.unsqueeze(1), onehot), *[None] * 5


def _shift(criterion, logits):
    return None if criterion.logit_shift is None else criterion._shift(logits)


def _class_weight(criterion, logits, base=None):
    weight = criterion._class_weight(logits.shape[1])
    if base is not None:
        weight = base if weight is None else base * weight
    return None if weight is None else weight.to(logits.dtype)


class FusedAdaptive(AdaptiveCrossEntropy):
    """``AdaptiveCrossEntropy`` (float32 and float64 logits) through the Function."""

    def forward(self, logits, target, sample_weight=None):
        target = _check_inputs(logits, target, self.num_classes)
        if self.training:
            self._update_importance(logits, target, sample_weight)
        weight = _class_weight(self, logits, self.importance + self.offset)
        return WeightedCrossEntropy.apply(logits, target, _shift(self, logits), weight, None,
                                          self.reduction)


class FusedFocal(FocalLoss):
    """``FocalLoss`` (float32 and float64 logits) through the Functions."""

    def forward(self, logits, target):
        target = _check_inputs(logits, target)
        weight, shift = _class_weight(self, logits), _shift(self, logits)
        if self.gamma == 0.0:
            return WeightedCrossEntropy.apply(logits, target, shift, weight, None,
                                              self.reduction)
        return FocalCrossEntropy.apply(logits, target, shift, self.gamma, weight,
                                       self.reduction)


class FusedMargin(MarginCrossEntropy):
    """``MarginCrossEntropy`` (float32 and float64 logits) through the Function."""

    def forward(self, logits, target):
        target = _check_inputs(logits, target)
        threshold = self.threshold
        if self.logit_shift is not None:
            threshold = self.gate_threshold.to(logits.dtype)[target]
        half = self.boundary_weight.to(logits.dtype)

        def gate(ce):  # a constant weight per row for the gradient
            return torch.heaviside(ce - threshold, half)

        return WeightedCrossEntropy.apply(logits, target, _shift(self, logits),
                                          _class_weight(self, logits), gate, self.reduction)


CRITERIA = {  # name: (library criterion, fused one), as the estimator builds them
    "adaptive": (AdaptiveCrossEntropy, FusedAdaptive),
    "focal": (FocalLoss, FusedFocal),
    "margin": (MarginCrossEntropy, FusedMargin),
    "ce": (FocalLoss, FusedFocal),  # gamma 0: a Function's own cost over torch's autograd
}


def make(name, fused, c, **kw):
    cls = CRITERIA[name][fused]
    if name == "adaptive":
        return cls(c, alpha=0.3, **kw)
    return cls({"focal": 2.0, "ce": 0.0, "margin": 0.6}[name], **kw)


def check():
    """Assert that the fused criteria equal the library's; print what was checked."""
    g = torch.Generator().manual_seed(0)
    checked = 0
    for name in CRITERIA:
        shapes = [(128, 2), (128, 5)] if quick() else [(128, 2), (128, 5), (128, 10), (4096, 10)]
        for n, c in shapes:
            c = 2 if name == "margin" else c
            for dtype in (torch.float32, torch.float64):
                for reduction in ("none", "mean", "sum"):
                    for kw in ({}, {"weight": torch.rand(c, generator=g) + 0.5},
                               {"prior": torch.linspace(1.0, 0.05, c)},
                               {"weight": torch.rand(c, generator=g) + 0.5,
                                "prior": torch.linspace(1.0, 0.05, c)}):
                        plain, fused = (make(name, f, c, reduction=reduction, **kw)
                                        for f in (0, 1))
                        for _ in range(3):
                            logits = (torch.randn(n, c, generator=g) * 3).to(dtype)
                            target = torch.randint(c, (n,), generator=g)
                            a, b = (logits.clone().requires_grad_() for _ in range(2))
                            want, got = plain(a, target), fused(b, target)
                            want.sum().backward()
                            got.sum().backward()
                            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
                            torch.testing.assert_close(b.grad, a.grad, rtol=1e-5, atol=1e-6)
                            if name == "adaptive":
                                torch.testing.assert_close(fused.importance,
                                                           plain.importance)
                            checked += 1
        for reduction in ("none", "mean", "sum"):
            c = 2 if name == "margin" else 3
            fused = make(name, 1, c, reduction=reduction, weight=torch.rand(c) + 0.5,
                         prior=torch.linspace(1.0, 0.2, c)).double().eval()
            z = (torch.randn(8, c, generator=g, dtype=torch.float64) * 3).requires_grad_()
            y = torch.randint(c, (8,), generator=g)
            assert torch.autograd.gradcheck(lambda z: fused(z, y), (z,))
    print(f"fused = library on {checked} steps, and gradcheck passes: yes")


def steps(rounds):
    """One forward and backward, with the prior and reduction 'none' then the mean, as
    the estimator runs them."""
    rows = []
    for n, c in [(128, 2), (4096, 10)]:
        prior = torch.linspace(1.0, 0.1, c)
        contenders = {"cross_entropy (torch)": nn.CrossEntropyLoss(reduction="none")}
        for name in CRITERIA:
            if name == "margin" and c != 2:
                continue
            kw = {} if name == "ce" else {"prior": prior}  # 'ce' as the estimator runs it
            for fused in (0, 1):
                label = f"{name}, {'fused' if fused else 'library'}"
                contenders[label] = make(name, fused, c, reduction="none", **kw)
        best = dict.fromkeys(contenders, float("inf"))
        for _ in range(rounds):
            for label, criterion in contenders.items():
                def mean_of(z, y, criterion=criterion):
                    return criterion(z, y).mean()

                best[label] = min(best[label], step_time(mean_of, n, c))
        ce = best["cross_entropy (torch)"]
        for label, seconds in best.items():
            rows.append([f"{n}x{c}", label, f"{seconds * 1e6:.1f} us", f"{seconds / ce:.2f}"])
    table(rows, ["logits", "criterion", "forward+backward", "x torch cross entropy"])


class _FusedNet(ImbalancedNeuralClassifier):
    def initialize_criterion(self):
        super().initialize_criterion()
        self.criterion_.__class__ = CRITERIA[self.criterion][1]
        return self


def fits(rounds):
    """Whole ecoli1 fits (the estimator's defaults, no dropout, 40 epochs)."""
    from sklearn.neural_network import MLPClassifier

    X, y = keel("ecoli1")
    epochs = 2 if quick() else 40
    contenders = {"MLPClassifier": lambda: MLPClassifier(
        hidden_layer_sizes=(64, 64), batch_size=128, max_iter=epochs, tol=0.0,
        n_iter_no_change=10**6, random_state=0)}
    for name in ("adaptive", "focal", "margin"):
        for label, cls in (("library", ImbalancedNeuralClassifier), ("fused", _FusedNet)):
            contenders[f"{name}, {label}"] = (
                lambda cls=cls, name=name: cls(criterion=name, dropout=0.0, max_epochs=epochs,
                                               random_state=0))
    best = dict.fromkeys(contenders, float("inf"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for factory in contenders.values():
            factory().fit(X, y)  # first-fit imports out of the timing
        for _ in range(rounds):
            for label, factory in contenders.items():
                start = time.process_time()
                factory().fit(X, y)
                best[label] = min(best[label], time.process_time() - start)
    ref = best["MLPClassifier"]
    table([[label, f"{s * 1e3:.1f} ms", f"{s / ref:.2f}"] for label, s in best.items()],
          ["ecoli1 fit, 40 epochs", "CPU time", "x MLPClassifier"])


def main():
    one_thread()
    check()
    rounds = 1 if quick() else 5
    steps(rounds)
    print()
    fits(rounds)


if __name__ == "__main__":
    main()
