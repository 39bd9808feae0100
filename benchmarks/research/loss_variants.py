"""Variants of the losses on the 14 KEEL files, with the exact protocol of ``compare``.

The original rules and ablations of the defaults, under the estimator's defaults; then
(round 2) the logit adjustment deferred to later in training or applied at prediction
only (post-hoc), to keep cross entropy's ranking while moving the threshold; (round 3)
focal modulation or a margin gate on the raw probabilities on top of the default;
(round 4) focal and margin with the adjustment; (round 5) network settings: early
stopping on a stratified validation split, a wider network; (round 6) half the
logit adjustment; (round 7) a pairwise ranking term (minority above majority) added
to the loss, since the other rounds lost average precision to cross entropy wherever
they moved away from its likelihood; (round 8) two of the issue's candidates not yet
measured under the defaults: the loss normalised by the sum of the weights, and the
importance updated once per epoch from the epoch's false-negative rates; (round 9)
averaged weights (an exponential moving average over the steps, or stochastic weight
averaging over the last quarter of the epochs), for the default and cross entropy.

Each variant is a method factory run through :func:`sk_imbaloss.compare.run_comparison`
(same splits, seeds, scaling and training budget as ``sk-imbaloss compare``), so its
rows can be set beside the published comparison's. Nothing is tuned on test folds:
every variant is fixed before it is run. Run from the repository root:

    python benchmarks/research/loss_variants.py --out docs/variants [--n-jobs 2] [--only NAME ...]
        [--seed 0] [--repeats 2] [--quick]
"""

from functools import partial

import torch
import torch.nn.functional as F
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from skorch.callbacks import Callback
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from _variants import run_variants
from sk_imbaloss import ImbalancedNeuralClassifier
from sk_imbaloss.compare import _loss
from sk_imbaloss.losses import AdaptiveCrossEntropy, FocalLoss, MarginCrossEntropy, _reduce


class _NoOffsetNet(ImbalancedNeuralClassifier):
    """The default adaptive loss with the class weight ``importance`` instead of ``1 +``."""

    def initialize_criterion(self):
        super().initialize_criterion()
        self.criterion_.offset = 0.0
        return self


class _DeferredNet(ImbalancedNeuralClassifier):
    """The default adaptive loss with its logit adjustment deferred (Cao et al. 2019).

    The adjustment's strength is 0 until a fraction ``start`` of the epochs, then
    rises linearly to 1 at ``end`` (a step when ``end == start``).
    """

    start = end = 0.5

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        self._total_epochs = epochs or self.max_epochs_
        return super().fit_loop(X, y, epochs=epochs, **fit_params)

    def on_epoch_begin(self, net, **kwargs):
        super().on_epoch_begin(net, **kwargs)
        shift = self.criterion_.logit_shift
        done = (len(self.history) - 1) / self._total_epochs
        if len(self.history) == 1:
            self._full_shift = shift.clone()
        if self.end > self.start:
            strength = min(1.0, max(0.0, (done - self.start) / (self.end - self.start)))
        else:
            strength = float(done >= self.start)
        shift.copy_(strength * self._full_shift)


class _Deferred80Net(_DeferredNet):
    start = end = 0.8


class _RampNet(_DeferredNet):
    start, end = 0.0, 0.5


class _DecisionMissLoss(AdaptiveCrossEntropy):
    """Counts misses on the logits the prediction uses, ``z - log(prior)``."""

    def _update_importance(self, logits, target, sample_weight=None):
        super()._update_importance(logits + self.decision_shift, target, sample_weight)


class _PostHocNet(ImbalancedNeuralClassifier):
    """Trained without logit adjustment; the adjustment applied at prediction instead.

    ``predict_proba`` is ``softmax(z - log(prior))`` (Menon et al. 2021, post-hoc), so
    the ranking is the loss's own and the threshold that of balanced error.
    """

    miss_at_decision = False

    def initialize_criterion(self):
        super().initialize_criterion()
        if self.miss_at_decision:
            criterion = self.criterion_
            criterion.__class__ = _DecisionMissLoss
            criterion.register_buffer("decision_shift", -self._log_prior())
        return self

    def _log_prior(self):
        return torch.log(torch.as_tensor(self.class_prior_))

    def predict_proba(self, X):
        return torch.softmax(self._logits(X).float() - self._log_prior(), dim=1).numpy()


class _PostHocMissNet(_PostHocNet):
    miss_at_decision = True


class _RawModulatedLoss(AdaptiveCrossEntropy):
    """The default adaptive loss times a factor of the raw ``p_t = softmax(z)[y]``.

    Focal modulation ``(1 - p_t)^gamma`` (``detach``: as a weight, no gradient through
    it) or a margin gate ``p_t < gate``. Computed on the raw logits, not the adjusted
    ones, so that the factor is the same for both classes at the balanced decision
    boundary and does not move it.
    """

    gamma, gate, detach = 0.0, None, True

    def forward(self, logits, target):
        importance = self.importance
        if self.training:
            self._update_importance(logits, target)
        loss = F.cross_entropy(self._adjust(logits), target, weight=importance + self.offset,
                               reduction="none")
        raw_ce = F.cross_entropy(logits, target, reduction="none")
        if self.gate is not None:
            factor = (torch.exp(-raw_ce.detach()) < self.gate).to(loss.dtype)
        else:
            factor = (-torch.expm1(-raw_ce)).clamp(min=1e-30).pow(self.gamma)
            factor = factor.detach() if self.detach else factor
        return _reduce(loss * factor, self.reduction)


class _RawModulatedNet(ImbalancedNeuralClassifier):
    loss_settings = {}

    def initialize_criterion(self):
        super().initialize_criterion()
        self.criterion_.__class__ = _RawModulatedLoss
        vars(self.criterion_).update(self.loss_settings)
        return self


class _RawFocal1Net(_RawModulatedNet):
    loss_settings = {"gamma": 1.0}


class _RawFocal2Net(_RawModulatedNet):
    loss_settings = {"gamma": 2.0}


class _RawFocal2GradNet(_RawModulatedNet):
    loss_settings = {"gamma": 2.0, "detach": False}


class _RawGate80Net(_RawModulatedNet):
    loss_settings = {"gate": 0.8}


class _RawGate95Net(_RawModulatedNet):
    loss_settings = {"gate": 0.95}


class _AdjustedFocalLoss(FocalLoss):
    """Focal loss with its factor ``(1 - p_t)^gamma`` on the adjusted ``p_t``."""

    def forward(self, logits, target):
        ce = F.cross_entropy(self._adjust(logits), target, reduction="none")
        factor = (-torch.expm1(-ce)).clamp(min=torch.finfo(ce.dtype).tiny).pow(self.gamma)
        return self._finish(factor * ce, target, logits.shape[1])


class _AdjustedMarginLoss(MarginCrossEntropy):
    """The margin loss with its gate on the adjusted ``p_t``."""

    def forward(self, logits, target):
        ce = F.cross_entropy(self._adjust(logits), target, reduction="none")
        gate = torch.heaviside(ce.detach() - self.threshold, self.boundary_weight.to(ce.dtype))
        return self._finish(gate * ce, target, 2)


class _AdjustedFactorNet(ImbalancedNeuralClassifier):
    """Focal or margin loss, logit-adjusted, with the factor on the adjusted logits.

    The library's losses read the raw probabilities for the factor; this is the
    form they had before, kept to reproduce its rows.
    """

    def initialize_criterion(self):
        super().initialize_criterion()
        adjusted = {FocalLoss: _AdjustedFocalLoss, MarginCrossEntropy: _AdjustedMarginLoss}
        self.criterion_.__class__ = adjusted[type(self.criterion_)]
        return self


class _PairwiseRanking:
    """Adds ``rank_weight`` times a pairwise logistic ranking loss (RankNet, an AUC
    surrogate) to a binary criterion: the mean over the batch's (minority, majority)
    pairs of ``softplus(s_j - s_i)``, ``s = z_1 - z_0`` the raw score, ``i`` minority,
    ``j`` majority. A batch without both classes adds 0. Returned per row (the term
    spread evenly), so that the estimator's mean is ``mean loss + rank_weight * term``.
    """

    rank_weight = 1.0

    def forward(self, logits, target):
        loss = super().forward(logits, target)
        score = logits[:, 1] - logits[:, 0]
        minority = (target == 1).to(score.dtype)
        pairs = minority[:, None] * (1 - minority)[None, :]
        ranking = (F.softplus(score[None, :] - score[:, None]) * pairs).sum()
        return loss + self.rank_weight * ranking / pairs.sum().clamp(min=1)


class _RankingNet(ImbalancedNeuralClassifier):
    """The named criterion plus the pairwise ranking term (binary data only)."""

    def initialize_criterion(self):
        super().initialize_criterion()
        base = type(self.criterion_)
        self.criterion_.__class__ = type(f"Ranked{base.__name__}", (_PairwiseRanking, base), {})
        return self


class _RankingPostHocNet(_RankingNet, _PostHocNet):
    """The ranking term, trained without the logit adjustment, adjusted at prediction."""


class _NormalisedLoss(AdaptiveCrossEntropy):
    """The default loss divided by the batch's mean weight: ``sum w_i CE_i / sum w_i``
    once the estimator takes the mean over the rows (torch's own weighted mean)."""

    def forward(self, logits, target):
        loss = super().forward(logits, target)  # updates the importance first
        weight = (self.importance + self.offset).to(logits.dtype)[target]
        return loss * (len(target) / weight.sum())


class _NormalisedNet(ImbalancedNeuralClassifier):
    def initialize_criterion(self):
        super().initialize_criterion()
        self.criterion_.__class__ = _NormalisedLoss
        return self


class _EpochRateLoss(AdaptiveCrossEntropy):
    """Tallies misses over the epoch; the importance moves once, at its end.

    The epoch's step is ``1 - (1 - alpha)^B`` for an epoch of ``B`` batches, the
    smoothing that ``B`` per-batch updates apply to a constant rate; the rate is the
    epoch's, not a batch's, so small batches with one or two minority rows do not
    make it jump.
    """

    def _update_importance(self, logits, target, sample_weight=None):
        misses, counts = self._tally(logits, target, sample_weight)
        if getattr(self, "misses", None) is None:
            self.misses, self.counts, self.batches = misses, counts, 0
        else:
            self.misses, self.counts = self.misses + misses, self.counts + counts
        self.batches += 1

    @torch.no_grad()
    def end_epoch(self):
        if getattr(self, "misses", None) is None:
            return
        self._move_importance(self.misses, self.counts, 1 - (1 - self.alpha) ** self.batches)
        self.misses = None


class _EpochRateNet(ImbalancedNeuralClassifier):
    def initialize_criterion(self):
        super().initialize_criterion()
        self.criterion_.__class__ = _EpochRateLoss
        return self

    def on_epoch_end(self, net, **kwargs):
        self.criterion_.end_epoch()
        super().on_epoch_end(net, **kwargs)


class _WeightAveraging(Callback):
    """Averaged weights replace the network's at the end of training.

    ``ema``: an exponential moving average updated after every optimizer step, with
    ``decay`` per step (Polyak averaging). ``swa``: the equal average of the weights at
    the end of each epoch from a fraction ``start`` of the epochs on (Izmailov et al.
    2018, at the constant learning rate). Both through ``torch.optim.swa_utils``.
    """

    def __init__(self, kind="ema", decay=0.99, start=0.75):
        self.kind, self.decay, self.start = kind, decay, start

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        self.epochs_ = net.max_epochs_
        multi_avg_fn = get_ema_multi_avg_fn(self.decay) if self.kind == "ema" else None
        self.average_ = AveragedModel(net.module_, multi_avg_fn=multi_avg_fn,
                                      use_buffers=True)

    def on_batch_end(self, net, training=False, **kwargs):
        if training and self.kind == "ema":
            self.average_.update_parameters(net.module_)

    def on_epoch_end(self, net, **kwargs):
        if self.kind == "swa" and len(net.history) > self.start * self.epochs_:
            self.average_.update_parameters(net.module_)

    def on_train_end(self, net, **kwargs):
        if self.average_.n_averaged.item() > 0:
            net.module_.load_state_dict(self.average_.module.state_dict())
        del self.average_


def _averaged(kind, criterion, seed, max_epochs):
    return _net(ImbalancedNeuralClassifier, seed, max_epochs, criterion=criterion,
                callbacks=[("average", _WeightAveraging(kind))])


def _net(cls, seed, max_epochs, **params):
    return Pipeline([("scale", StandardScaler()),
                     ("net", cls(max_epochs=max_epochs, random_state=seed, **params))])


VARIANTS = {
    # Baselines for runs under other seeds (--seed, --repeats): the write-ups' losses.
    "ce": partial(_loss, "ce"),
    "focal, no adjustment": partial(_loss, "focal", logit_adjustment=0),
    "margin, no adjustment": partial(_loss, "margin", logit_adjustment=0),
    "adaptive-seed (the original rule)": partial(_loss, "adaptive-seed"),
    "adaptive, weight = importance (no offset)": partial(_net, _NoOffsetNet),
    "ce + logit adjustment (no importance)": partial(_loss, "ce", logit_adjustment=1.0),
    "adaptive, weight 1 + importance (the default)": partial(_loss, "adaptive"),
    "adaptive, alpha=0.1": partial(_loss, "adaptive", alpha=0.1),
    "focal + balanced": partial(_loss, "focal", class_weight="balanced",
                                logit_adjustment=0),
    "margin + balanced": partial(_loss, "margin", class_weight="balanced",
                                 logit_adjustment=0),
    # Round 2: the adjustment later in training, or at prediction only.
    "adaptive, adjustment deferred to mid-training": partial(_net, _DeferredNet),
    "adaptive, adjustment deferred to 80 % of training": partial(_net, _Deferred80Net),
    "adaptive, adjustment ramped in over the first half": partial(_net, _RampNet),
    "ce, post-hoc adjustment": partial(_net, _PostHocNet, criterion="ce"),
    "adaptive weights, post-hoc adjustment": partial(
        _net, _PostHocNet, criterion="adaptive", logit_adjustment=0),
    "adaptive weights, post-hoc adjustment, misses at the decision": partial(
        _net, _PostHocMissNet, criterion="adaptive", logit_adjustment=0),
    "focal, post-hoc adjustment": partial(
        _net, _PostHocNet, criterion="focal", logit_adjustment=0),
    "margin, post-hoc adjustment": partial(
        _net, _PostHocNet, criterion="margin", logit_adjustment=0),
    # Round 3: focal modulation or a margin gate on the raw p_t, on top of the default.
    "adaptive x (1 - p_t) as a weight": partial(_net, _RawFocal1Net),
    "adaptive x (1 - p_t)^2 as a weight": partial(_net, _RawFocal2Net),
    "adaptive x (1 - p_t)^2, focal gradient": partial(_net, _RawFocal2GradNet),
    "adaptive, gated at p_t < 0.8": partial(_net, _RawGate80Net),
    "adaptive, gated at p_t < 0.95": partial(_net, _RawGate95Net),
    # Round 4: focal and margin losses with the logit adjustment; their factor read on
    # the adjusted p_t (the earlier form) or on the raw p_t (the library's now).
    "focal + logit adjustment, factor on adjusted p_t": partial(
        _net, _AdjustedFactorNet, criterion="focal", logit_adjustment=1.0),
    "margin + logit adjustment, gate on adjusted p_t": partial(
        _net, _AdjustedFactorNet, criterion="margin", logit_adjustment=1.0),
    "focal + logit adjustment (factor on raw p_t)": partial(
        _loss, "focal", logit_adjustment=1.0),
    "margin + logit adjustment (gate on raw p_t)": partial(
        _loss, "margin", logit_adjustment=1.0),
    # Round 5: network settings from the list, each for the default and for
    # cross entropy (they would apply to every network in the comparison).
    "adaptive, early stopping on validation AP": partial(
        _loss, "adaptive", early_stopping=True, scoring="average_precision"),
    "ce, early stopping on validation AP": partial(
        _loss, "ce", early_stopping=True, scoring="average_precision"),
    "adaptive, early stopping on balanced accuracy": partial(
        _loss, "adaptive", early_stopping=True),
    "adaptive, hidden 128-128": partial(_loss, "adaptive", hidden_units=(128, 128)),
    "ce, hidden 128-128": partial(_loss, "ce", hidden_units=(128, 128)),
    # Round 6: half the logit adjustment, the adaptive weights left to move the rest of
    # the threshold (the adjustment damps the gradient of majority rows scored near the
    # minority, which is where precision is lost).
    "adaptive, logit_adjustment=0.5": partial(_loss, "adaptive", logit_adjustment=0.5),
    "ce, logit_adjustment=0.5": partial(_loss, "ce", logit_adjustment=0.5),
    # Round 7: a pairwise ranking term (minority above majority), for the default, for
    # cross entropy, and for the adaptive weights with the adjustment at prediction.
    "adaptive + pairwise ranking": partial(_net, _RankingNet),
    "ce + pairwise ranking": partial(_net, _RankingNet, criterion="ce"),
    "adaptive weights + pairwise ranking, post-hoc adjustment": partial(
        _net, _RankingPostHocNet, criterion="adaptive", logit_adjustment=0),
    # Round 8: the candidates not measured under the defaults.
    "adaptive, loss / sum of weights": partial(_net, _NormalisedNet),
    "adaptive, importance from the epoch's rates": partial(_net, _EpochRateNet),
    # Round 9: averaged weights, for the default and for cross entropy alike.
    "adaptive, EMA of the weights (decay 0.99)": partial(_averaged, "ema", "adaptive"),
    "ce, EMA of the weights (decay 0.99)": partial(_averaged, "ema", "ce"),
    "adaptive, SWA over the last quarter": partial(_averaged, "swa", "adaptive"),
    "ce, SWA over the last quarter": partial(_averaged, "swa", "ce"),
}


def main():
    run_variants(VARIANTS, __doc__.splitlines()[0], "docs/variants", max_epochs="auto")


if __name__ == "__main__":
    main()
