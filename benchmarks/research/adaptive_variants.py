"""The search for a better adaptive loss on the 14 KEEL files (docs/benchmark.md).

Every variant here is one configuration of :class:`VariantLoss`, a superset of
:class:`sk_imbaloss.losses.AdaptiveCrossEntropy` with the candidate changes as
switches, trained by the library's estimator with ``compare``'s splits and seeds under
the network settings the comparison had before this search (40 epochs, no weight
decay), so that the rows go beside that comparison's (same seeds, so the same folds).
Variants are fixed before they run; nothing is tuned on test folds. From the
repository root:

    python benchmarks/research/adaptive_variants.py --out docs/variants-adaptive [--n-jobs 2]
        [--only NAME ...] [--quick]
"""

import math
from functools import partial

import torch
import torch.nn.functional as F
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from imblearn.over_sampling import SMOTE
from imblearn.pipeline import Pipeline as ImbPipeline
from torch import nn

from _variants import run_variants
from sk_imbaloss import ImbalancedNeuralClassifier



class VariantLoss(nn.Module):
    """Adaptive cross entropy with the candidate changes as switches.

    rule : 'level' (seed: importance <- lerp(importance, fnr, alpha)), 'mult'
        (log importance += alpha * (fnr_c - mean fnr of the classes present)) or None
        (fixed importance).
    init : per-class initial importance (tensor) or None for ones.
    logit_shift : per-class additive logit shift used in the loss only (logit
        adjustment: tau * log prior), or None.
    gamma : focal modulation on top, 0 for none.
    normalize : divide by the batch's mean weight (weighted mean, as torch's CE).
    """

    def __init__(self, num_classes, alpha=0.01, rule="level", init=None, logit_shift=None,
                 gamma=0.0, normalize=False, miss_on_adjusted=False):
        super().__init__()
        self.miss_on_adjusted = miss_on_adjusted
        self.alpha, self.rule, self.gamma, self.normalize = alpha, rule, gamma, normalize
        init = torch.ones(num_classes) if init is None else torch.as_tensor(init).float()
        self.register_buffer("importance", init.clone())
        self.register_buffer("shift", None if logit_shift is None
                             else torch.as_tensor(logit_shift).float())

    @torch.no_grad()
    def _update(self, logits, target):
        c = self.importance.shape[0]
        true_logit = logits.gather(1, target[:, None]).squeeze(1)
        missed = true_logit < logits.amax(dim=1)
        if self.miss_on_adjusted and self.shift is not None:
            adjusted = logits + self.shift
            missed = adjusted.gather(1, target[:, None]).squeeze(1) < adjusted.amax(dim=1)
        tallies = torch.zeros(2 * c, device=logits.device)
        tallies.scatter_add_(0, target + missed * c, torch.ones_like(target, dtype=tallies.dtype))
        counts = tallies[:c] + tallies[c:]
        present = (counts > 0).float()
        fnr = tallies[c:] / counts.clamp(min=1)
        if self.rule == "level":
            self.importance.lerp_(fnr, present * self.alpha)
        else:
            mean_fnr = (fnr * present).sum() / present.sum()
            self.importance.mul_(torch.exp(self.alpha * present * (fnr - mean_fnr)))

    def forward(self, logits, target):
        if self.training and self.rule is not None:
            self._update(logits, target)
        z = logits if self.shift is None else logits + self.shift
        ce = F.cross_entropy(z, target, reduction="none")
        if self.gamma:
            ce = (-torch.expm1(-ce)).clamp(min=1e-30).pow(self.gamma) * ce
        w = self.importance[target]
        loss = ce * w
        if self.normalize:
            loss = loss / w.mean().clamp(min=1e-12)
        return loss


class VariantNet(ImbalancedNeuralClassifier):
    """The library's estimator with a :class:`VariantLoss` built from the training data.

    ``class_weight='balanced'`` is set on it only to get the class frequencies
    (``class_weight_ = n / (C n_c)``); whether they enter the loss, and how, is the
    variant's ``options``. ``min_steps`` raises the epoch count on small data sets
    until the fit takes at least that many gradient steps.
    """

    options = {}

    def initialize_criterion(self):
        o = dict(self.options)
        bal = torch.as_tensor(self.class_weight_)  # n / (C n_c); prior_c = 1 / (C bal_c)
        c = len(bal)
        init = o.pop("init", None)
        if init == "balanced":
            init = bal
        shift = None
        tau = o.pop("la", 0.0)
        if tau:
            shift = tau * torch.log(1.0 / (c * bal))
        o.pop("min_steps", None)
        self.criterion_ = VariantLoss(c, init=init, logit_shift=shift, **o)
        return self

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        min_steps = self.options.get("min_steps")
        if min_steps and epochs is None:
            steps_per_epoch = math.ceil(len(X) / self.batch_size)
            epochs = max(self.max_epochs, math.ceil(min_steps / steps_per_epoch))
        return super().fit_loop(X, y, epochs=epochs, **fit_params)


def _variant_class(name, options):
    return type(f"VariantNet_{abs(hash(name))}", (VariantNet,), {"options": options})


def _variant(options, seed, max_epochs, **net_params):
    cls = _variant_class(repr(sorted(options.items())), options)
    return Pipeline([
        ("scale", StandardScaler()),
        ("net", cls(class_weight="balanced", max_epochs=max_epochs, random_state=seed,
                    **{"weight_decay": 0.0, **net_params})),
    ])


def _smote_steps(min_steps, seed, max_epochs):
    cls = _variant_class("smote", {"rule": None, "min_steps": min_steps})
    net = cls(class_weight="balanced", max_epochs=max_epochs, random_state=seed,
              weight_decay=0.0)
    # plain CE: importance stays at ones (no init, no rule)
    return ImbPipeline([("scale", StandardScaler()), ("resample", SMOTE(random_state=seed)),
                        ("net", net)])


VARIANTS = {
    "level init=bal": partial(_variant, {"init": "balanced"}),
    "level init=bal a=0.1": partial(_variant, {"init": "balanced", "alpha": 0.1}),
    "mult init=bal a=0.05": partial(_variant, {"init": "balanced", "rule": "mult", "alpha": 0.05}),
    "level + LA": partial(_variant, {"la": 1.0}),
    "ce + LA": partial(_variant, {"rule": None, "la": 1.0}),
    "mult init=bal a=0.05 focal1": partial(
        _variant, {"init": "balanced", "rule": "mult", "alpha": 0.05, "gamma": 1.0}),
    "ce-balanced steps>=1000": partial(
        _variant, {"init": "balanced", "rule": None, "min_steps": 1000}),
    "mult init=bal a=0.05 steps>=1000": partial(
        _variant, {"init": "balanced", "rule": "mult", "alpha": 0.05, "min_steps": 1000}),
    "smote steps>=1000": partial(_smote_steps, 1000),
    # round 2: logit adjustment as the base
    "ce + LA steps>=1000": partial(_variant, {"rule": None, "la": 1.0, "min_steps": 1000}),
    "ce + LA steps>=500": partial(_variant, {"rule": None, "la": 1.0, "min_steps": 500}),
    "level + LA steps>=1000": partial(_variant, {"la": 1.0, "min_steps": 1000}),
    "mult a=0.05 + LA": partial(_variant, {"rule": "mult", "alpha": 0.05, "la": 1.0}),
    "mult a=0.05 + LA steps>=1000": partial(
        _variant, {"rule": "mult", "alpha": 0.05, "la": 1.0, "min_steps": 1000}),
    "focal1 + LA": partial(_variant, {"rule": None, "la": 1.0, "gamma": 1.0}),
    "balanced + LA": partial(_variant, {"init": "balanced", "rule": None, "la": 1.0}),
    # round 3: regularisation against the threshold drift of longer training
    "ce + LA steps>=500 wd=1e-3": partial(
        _variant, {"rule": None, "la": 1.0, "min_steps": 500}, optimizer__weight_decay=1e-3),
    "ce + LA steps>=500 dropout=0.3": partial(
        _variant, {"rule": None, "la": 1.0, "min_steps": 500}, dropout=0.3),
    "level + LA steps>=500": partial(_variant, {"la": 1.0, "min_steps": 500}),
    "level + LA adjusted-miss": partial(_variant, {"la": 1.0, "miss_on_adjusted": True}),
    "level + LA adjusted-miss steps>=500": partial(
        _variant, {"la": 1.0, "miss_on_adjusted": True, "min_steps": 500}),
    "mult a=0.05 + LA adjusted-miss": partial(
        _variant, {"rule": "mult", "alpha": 0.05, "la": 1.0, "miss_on_adjusted": True}),
}


def main():
    run_variants(VARIANTS, __doc__.splitlines()[0], "docs/variants-adaptive", max_epochs=40)


if __name__ == "__main__":
    main()
