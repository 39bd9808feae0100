"""Imbalance-aware classification criteria as ``torch.nn.Module`` s.

Each ``forward`` computes the formula of the README's section "The losses" (the design
notes' definitions), quoted next to the code. Every criterion takes logits ``z`` of shape
``(N, C)`` and integer targets ``y`` of shape ``(N,)`` with values in ``[0, C)``, works in
log space (stable at logits of magnitude 1e4; a float16 loss above 65504 is infinite,
the dtype's limit) and supports ``reduction='mean' | 'sum' | 'none'`` like torch's own
losses.

``weight`` is an optional per-class weight ``w`` of length ``C``; the per-sample loss is
multiplied by ``w[y_i]`` and ``'mean'`` is the plain mean over the batch (unlike
``torch.nn.CrossEntropyLoss``, which divides by the sum of the weights). This is the
convention of ``sample_weight`` in scikit-learn, so ``class_weight`` and ``sample_weight``
compose by multiplication.

The training step of each criterion launches no device-to-host synchronisation: no
``unique``, ``nonzero``, boolean-mask indexing, ``bincount`` (whose output size depends
on the data) or ``.item()``. On the CPU, ``log_softmax`` takes a faster route to the
same values on large batches of few classes (``sk_imbaloss._kernels``).
"""

import math
from numbers import Integral

import torch
import torch.nn.functional as F
from torch import nn

from ._kernels import log_softmax

__all__ = ["AdaptiveCrossEntropy", "FocalLoss", "MarginCrossEntropy"]

_REDUCTIONS = ("mean", "sum", "none")
_HALF = (torch.float16, torch.bfloat16)


def _cross_entropy(logits, target, weight=None, reduction="none"):
    """``CE_i = -log softmax(z_i)[y_i]``, times ``weight[y_i]`` when given."""
    return F.nll_loss(log_softmax(logits), target, weight=weight, reduction=reduction)


def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(
            f"reduction must be one of {_REDUCTIONS}, got {reduction!r}."
        )
    return reduction


def _check_inputs(logits, target, num_classes=None):
    """Check the shapes; return ``target`` as int64 class indices.

    Indexing with a uint8 or bool tensor would select by mask, not by class, so any
    other integer dtype is converted (no cost for the int64 targets of the estimator).
    """
    if logits.dim() != 2:
        raise ValueError(
            f"logits must have shape (N, C); got a tensor of shape {tuple(logits.shape)}."
        )
    if target.dim() != 1 or target.shape[0] != logits.shape[0]:
        raise ValueError(
            f"target must have shape (N,) = ({logits.shape[0]},); "
            f"got {tuple(target.shape)}."
        )
    if num_classes is not None and logits.shape[1] != num_classes:
        raise ValueError(
            f"logits have {logits.shape[1]} columns but the criterion was built for "
            f"num_classes={num_classes}."
        )
    if target.dtype == torch.int64:
        return target
    if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
        raise ValueError(
            f"target must hold class indices in an integer tensor; got dtype {target.dtype}."
        )
    return target.long()


def _as_weight(weight, name="weight"):
    if weight is None:
        return None
    weight = torch.as_tensor(weight, dtype=torch.float32).detach().clone()
    if weight.dim() != 1:
        raise ValueError(f"{name} must be a 1-D tensor with one value per class.")
    if not torch.isfinite(weight).all() or (weight < 0).any():
        raise ValueError(f"{name} must hold finite, non-negative values.")
    return weight


def _logit_shift(prior, tau):
    """``tau * log(prior)``, the additive logit adjustment of Menon et al. (2021)."""
    if prior is None or float(tau) == 0.0:
        return None
    prior = torch.as_tensor(prior, dtype=torch.float32).detach().clone()
    if prior.dim() != 1 or prior.shape[0] < 2:
        raise ValueError("prior must be a 1-D tensor with one frequency per class.")
    if not torch.isfinite(prior).all() or (prior <= 0).any():
        raise ValueError(
            "prior must hold finite, positive class frequencies; a class with no "
            "training samples has no prior (drop it, or give it a small frequency)."
        )
    return float(tau) * torch.log(prior / prior.sum())


def _check_nonnegative(name, value):
    if isinstance(value, bool) or not 0.0 <= float(value) < math.inf:
        raise ValueError(f"{name} must be a finite float >= 0, got {value!r}.")
    return float(value)


def _reduce(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _from_sum(total, n, reduction):
    """The 'mean' or 'sum' reduction of ``n`` losses whose sum is ``total``."""
    return total / n if reduction == "mean" else total


class _WeightedCriterion(nn.Module):
    """Shared plumbing: per-class ``weight``, logit adjustment and ``reduction``."""

    def __init__(self, weight=None, reduction="mean", prior=None, tau=1.0):
        super().__init__()
        self.reduction = _check_reduction(reduction)
        self.tau = _check_nonnegative("tau", tau)
        self.register_buffer("weight", _as_weight(weight))
        self.register_buffer("logit_shift", _logit_shift(prior, self.tau))

    @torch.no_grad()
    def set_prior(self, prior):
        """Replace the prior of the logit adjustment in place (no-op when it is off)."""
        if self.logit_shift is None:
            return
        shift = _logit_shift(prior, self.tau)
        if shift.shape != self.logit_shift.shape:
            raise ValueError(
                f"prior has {shift.shape[0]} values; the criterion has "
                f"{self.logit_shift.shape[0]} classes."
            )
        self.logit_shift.copy_(shift)

    def _shift(self, logits):
        """``tau * log(prior)`` checked against the logits' classes, in their dtype."""
        shift = self.logit_shift
        if shift.shape[0] != logits.shape[1]:
            raise ValueError(
                f"prior has {shift.shape[0]} values but the logits have "
                f"{logits.shape[1]} classes."
            )
        return shift if shift.dtype == logits.dtype else shift.to(logits.dtype)

    def _adjust(self, logits):
        """The logits the loss is computed on: ``z + tau * log(prior)`` with a prior.

        The criteria call it on float32 or float64 logits only: added in float16, a
        shift of -2.2 to logits of 1e4 (spacing 8) would round away, and in bfloat16
        to logits of 100 (spacing 0.5) it would be off by 12 %. Half-precision logits
        with a prior are computed in float32 and the loss returned in their dtype.
        """
        return logits if self.logit_shift is None else logits + self._shift(logits)

    def _class_weight(self, n_classes):
        if self.weight is not None and self.weight.shape[0] != n_classes:
            raise ValueError(
                f"weight has {self.weight.shape[0]} values but the logits have "
                f"{n_classes} classes."
            )
        return self.weight

    def _weighted_cross_entropy(self, logits, target, weight):
        """``CE_i * weight[y_i]`` reduced. cross_entropy's own weighted 'sum' is that
        sum; its weighted 'mean' would divide by the sum of the weights, not by N."""
        if weight is not None and weight.dtype != logits.dtype:
            weight = weight.to(logits.dtype)
        if self.reduction == "none" or logits.dtype in _HALF:
            # A half-precision sum would pass 65504 long before its mean: reduced by
            # _reduce, whose mean accumulates in float32.
            loss = _cross_entropy(logits, target, weight=weight, reduction="none")
            return _reduce(loss, self.reduction)
        total = _cross_entropy(logits, target, weight=weight, reduction="sum")
        return _from_sum(total, target.shape[0], self.reduction)

    def _finish(self, loss, target, n_classes, factor=None):
        """``factor * loss`` (``factor`` per sample, optional) times the class weight,
        reduced. Unweighted, a mean or sum of the product is one dot product."""
        if factor is not None:
            if self.weight is None and self.reduction != "none" and loss.dtype not in _HALF:
                return _from_sum(torch.dot(factor, loss), loss.shape[0], self.reduction)
            loss = factor * loss
        if self._class_weight(n_classes) is not None:
            loss = loss * self.weight.to(loss.dtype)[target]
        return _reduce(loss, self.reduction)


class AdaptiveCrossEntropy(_WeightedCriterion):
    r"""Logit-adjusted cross entropy weighted by a moving false-negative rate per class.

    A buffer ``importance`` of length ``C`` starts at 1. On every batch seen in training
    mode, for each class ``c`` present in the batch (prediction = ``argmax z``)::

        fnr_c = #{i : y_i = c, argmax z_i != c} / #{i : y_i = c}
        importance_c <- alpha * fnr_c + (1 - alpha) * importance_c

    Classes absent from the batch keep their value. The loss is
    ``CE(z_i + tau * log(prior), y_i) * (offset + importance[y_i])`` (times
    ``weight[y_i]`` when given), reduced over the batch. The update happens before the loss is computed
    and uses the raw logits ``z``, the ones a prediction uses. In evaluation mode
    (``criterion.eval()``) the importance does not move. On an exact tie ``argmax``
    picks the lower index, as in the seed.

    With ``offset=0`` and no ``prior`` (or ``tau=0``) this is the original rule
    exactly: cross entropy weighted by the moving false-negative rate. The defaults
    differ in two ways, both measured (docs/benchmark.md): with the class frequencies
    as ``prior``, the logit adjustment of Menon et al. (2021) sets the decision
    threshold for balanced error from the first step, where the importance alone
    takes hundreds of steps to move away from 1; and ``offset=1`` makes a class's
    weight ``1 + fnr`` rather than ``fnr``, so a class the network misses counts up to
    twice as much, instead of the weight ratio between classes growing without bound
    as the majority's miss rate falls to zero.

    Parameters
    ----------
    num_classes : int
        Number of classes ``C``.
    alpha : float, default=0.01
        Smoothing factor in (0, 1]; larger values follow the current batch faster.
    weight : tensor of shape (C,), default=None
        Optional fixed per-class weights multiplied into the loss.
    reduction : {'mean', 'sum', 'none'}, default='mean'
    prior : tensor of shape (C,), default=None
        Class frequencies (any positive scale) for the logit adjustment.
    tau : float >= 0, default=1.0
        Strength of the logit adjustment; ``0`` (or no ``prior``) turns it off.
    offset : float >= 0, default=1.0
        Added to the importance to make the class weight; ``0`` is the original rule.

    Examples
    --------
    >>> import torch
    >>> from sk_imbaloss.losses import AdaptiveCrossEntropy
    >>> loss = AdaptiveCrossEntropy(num_classes=3, alpha=0.5)
    >>> logits = torch.tensor([[2.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 0.0, 2.0]])
    >>> target = torch.tensor([0, 1, 2])
    >>> value = loss(logits, target)
    >>> loss.importance  # class 1 was missed: 0.5 * 1 + 0.5 * 1
    tensor([0.5000, 1.0000, 0.5000])
    """

    def __init__(self, num_classes, alpha=0.01, weight=None, reduction="mean", prior=None,
                 tau=1.0, offset=1.0):
        super().__init__(weight=weight, reduction=reduction, prior=prior, tau=tau)
        self.offset = _check_nonnegative("offset", offset)
        if isinstance(num_classes, bool) or not isinstance(num_classes, Integral) or (
            num_classes < 2
        ):
            raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}.")
        if not 0.0 < float(alpha) <= 1.0:
            raise ValueError(f"alpha must be in (0, 1], got {alpha!r}.")
        for name in ("weight", "logit_shift"):
            buffer = getattr(self, name)
            if buffer is not None and buffer.shape[0] != num_classes:
                label = "prior" if name == "logit_shift" else name
                raise ValueError(
                    f"{label} has {buffer.shape[0]} values but num_classes={num_classes}."
                )
        self.num_classes = int(num_classes)
        self.alpha = float(alpha)
        self.register_buffer("importance", torch.ones(num_classes))

    def _apply(self, fn, *args, **kwargs):
        # .half() or .to(torch.bfloat16) would round away the importance's updates of
        # size alpha * (fnr - importance) (with alpha 0.01 it would stall far from the
        # rate): it follows the module's device but stays at least float32.
        before = self.importance
        super()._apply(fn, *args, **kwargs)
        if self.importance.dtype in _HALF:
            self.importance = before.to(self.importance.device, torch.float32)
        return self

    def _tally(self, logits, target, sample_weight=None):
        """Per class, the samples missed and the samples in the batch: ``(misses,
        counts)``, two tensors of length C on the logits' device. With
        ``sample_weight`` each sample counts its weight, as repeated rows would."""
        c = self.num_classes
        # Prediction is argmax z, as in the seed: on an exact tie the lower index wins.
        missed = logits.detach().argmax(dim=1) != target
        # One fixed-size scatter_add_ tallies both counts: slot y for a sample of
        # class y predicted right, slot C + y for one missed. Unlike unique, bincount
        # or boolean masks, nothing waits for the device to report a shape.
        slots = target.add(missed, alpha=c)
        if sample_weight is None:
            each = torch.ones(target.shape, dtype=self.importance.dtype, device=logits.device)
        else:
            each = sample_weight.detach().to(self.importance.dtype)
        tallies = self.importance.new_zeros(2 * c).scatter_add_(0, slots, each).view(2, c)
        return tallies[1], tallies.sum(0)

    def _update_importance(self, logits, target, sample_weight=None):
        self._move_importance(*self._tally(logits, target, sample_weight), self.alpha)

    def _move_importance(self, misses, counts, step):
        """``importance + a * (fnr - importance)``, i.e. ``a * fnr + (1 - a) *
        importance``, with ``a = step``, for the classes counted; absent ones, and
        classes whose samples all weigh 0, keep their value."""
        rate = torch.where(counts > 0, misses / counts, self.importance)
        self.importance.lerp_(rate, step)

    def forward(self, logits, target, sample_weight=None):
        """The loss; ``sample_weight`` (N,), if given, weights the miss rates only
        (multiply the per-sample loss by it yourself, e.g. with ``reduction='none'``)."""
        target = _check_inputs(logits, target, self.num_classes)
        if sample_weight is not None and sample_weight.shape != target.shape:
            raise ValueError(
                f"sample_weight has shape {tuple(sample_weight.shape)}; expected "
                f"({target.shape[0]},), one weight per sample."
            )
        if logits.dtype in _HALF and self.logit_shift is not None:
            return self.forward(logits.float(), target, sample_weight).to(logits.dtype)
        # README, "Adaptive": in training, for each class c in the batch (prediction
        # argmax z), importance_c <- alpha * fnr_c + (1 - alpha) * importance_c; then
        # loss_i = CE(z_i + tau * log(prior), y_i) * (offset + importance[y_i]),
        # times weight[y_i].
        if self.training:
            self._update_importance(logits, target, sample_weight)
        # A new tensor even for offset 0: cross_entropy keeps it for the backward pass,
        # and the next training call updates the importance in place.
        class_weight = self.importance + self.offset
        if self.weight is not None:
            class_weight = class_weight * self.weight
        return self._weighted_cross_entropy(self._adjust(logits), target, class_weight)

    def extra_repr(self):
        return (f"num_classes={self.num_classes}, alpha={self.alpha}, offset={self.offset}, "
                f"tau={self.tau}")


class FocalLoss(_WeightedCriterion):
    r"""Focal loss (Lin et al. 2017): ``FL_i = -(1 - p_t)^gamma * log p_t``.

    ``gamma = 0`` is exactly cross entropy. ``weight`` plays the role of Lin et al.'s
    per-class ``alpha_t``, for binary and multi-class problems alike.

    ``1 - p_t`` is computed as ``-expm1(-CE_i)`` from the log-space cross entropy, so
    the modulating factor and its gradient stay finite even when ``p_t`` rounds to 1.

    Parameters
    ----------
    gamma : float, default=2.0
        Focusing parameter, ``gamma >= 0``.
    weight : tensor of shape (C,), default=None
        Optional per-class weights.
    reduction : {'mean', 'sum', 'none'}, default='mean'
    prior : tensor of shape (C,), default=None
        Class frequencies. When given, the cross entropy is computed on the
        logit-adjusted ``z + tau * log(prior)`` (Menon et al. 2021), so that the raw
        logits ``z`` the network outputs threshold for balanced error; prediction uses
        ``z`` unchanged. The factor ``(1 - p_t)^gamma`` reads the raw ``p_t =
        softmax(z)[y]``: it is then the same for every class at the balanced decision
        boundary. (On the adjusted ``p_t`` the majority looks easy everywhere, its
        loss is damped, and the network drifts to predicting the minority.)
    tau : float >= 0, default=1.0
        Strength of the logit adjustment; ``0`` (or no ``prior``) turns it off.
    """

    def __init__(self, gamma=2.0, weight=None, reduction="mean", prior=None, tau=1.0):
        super().__init__(weight=weight, reduction=reduction, prior=prior, tau=tau)
        if not 0.0 <= float(gamma) < math.inf:
            raise ValueError(f"gamma must be finite and >= 0, got {gamma!r}.")
        self.gamma = float(gamma)

    def forward(self, logits, target):
        target = _check_inputs(logits, target)
        if logits.dtype in _HALF and (self.gamma != 0.0 or self.logit_shift is not None):
            # The power's gradient gamma * (1 - p_t)^(gamma - 1) * CE passes float16's
            # 65504 at large logits before it is multiplied by zero: NaN. Computed in
            # float32 and returned in the logits' dtype (see _adjust for the shift).
            return self.forward(logits.float(), target).to(logits.dtype)
        # README, "Focal": FL_i = -(1 - p_t)^gamma * log softmax(z_i + tau * log prior)[y_i]
        # with the raw p_t = softmax(z_i)[y_i], times weight[y_i] (Lin et al.'s alpha_t).
        if self.gamma == 0.0:  # exactly cross entropy: the criterion 'ce'
            weight = self._class_weight(logits.shape[1])
            return self._weighted_cross_entropy(self._adjust(logits), target, weight)
        ce = _cross_entropy(self._adjust(logits), target)
        raw_ce = ce if self.logit_shift is None else _cross_entropy(logits, target)
        # 1 - p_t = -expm1(-CE) keeps full precision as p_t -> 1; the clamp keeps the
        # gradient of the power finite (and zero) where 1 - p_t underflows to 0.
        one_minus_pt = (-torch.expm1(-raw_ce)).clamp(min=torch.finfo(ce.dtype).tiny)
        return self._finish(ce, target, logits.shape[1], factor=one_minus_pt.pow(self.gamma))

    def extra_repr(self):
        return f"gamma={self.gamma}"


class MarginCrossEntropy(_WeightedCriterion):
    r"""Margin-gated binary cross entropy (Wu 2019, eqs. 4 and 5).

    Binary only, logits of shape ``(N, 2)``; ``q = softmax(z)[:, 1]`` is the predicted
    probability of the positive class and ``m`` in (0.5, 1) the margin. With ``H`` the
    Heaviside step (1 for x > 0, 0.5 at 0, 0 for x < 0)::

        positive sample: w_i = H(m - q_i)        # 0 once q > m
        negative sample: w_i = H(q_i - (1 - m))  # 0 once q < 1 - m
        loss_i = w_i * CE_i

    Equivalently ``w_i = H(CE_i + log m)``: ``p_t`` is ``q`` for a positive and
    ``1 - q`` for a negative, so both gates compare ``p_t`` with ``m``, which the
    implementation does in log space, on the cross entropy itself.

    Confidently right samples give neither loss nor gradient. The write-up's eq. (3)
    defines the step inverted, which contradicts its eqs. (4), (5) and prose; this is
    the Heaviside reading that matches them.

    Parameters
    ----------
    margin : float, default=0.6
        The margin ``m``, in (0.5, 1).
    weight : tensor of shape (2,), default=None
        Optional per-class weights.
    reduction : {'mean', 'sum', 'none'}, default='mean'
    prior : tensor of shape (C,), default=None
        Class frequencies. When given, the cross entropy is computed on the
        logit-adjusted ``z + tau * log(prior)`` (Menon et al. 2021), so that the raw
        logits ``z`` the network outputs threshold for balanced error; prediction uses
        ``z`` unchanged. The gate reads the raw ``p_t = softmax(z)[y]``, so that it
        treats both classes alike at the balanced decision boundary.
    tau : float >= 0, default=1.0
        Strength of the logit adjustment; ``0`` (or no ``prior``) turns it off.
    """

    def __init__(self, margin=0.6, weight=None, reduction="mean", prior=None, tau=1.0):
        super().__init__(weight=weight, reduction=reduction, prior=prior, tau=tau)
        if not 0.5 < float(margin) < 1.0:
            raise ValueError(f"margin must be in the open interval (0.5, 1), got {margin!r}.")
        self.margin = float(margin)
        self.threshold = -math.log(self.margin)
        self.logit_margin = math.log(self.margin / (1.0 - self.margin))
        self.register_buffer("boundary_weight", torch.tensor(0.5), persistent=False)
        # With a prior the gate compares the adjusted cross entropy with a threshold
        # per class (see forward), derived from the shift once instead of every step;
        # set_prior and load_state_dict keep it in step with the shift.
        self.register_buffer("gate_threshold", self._gate_threshold(), persistent=False)

    def _gate_threshold(self):
        # With d = z_y - z_other, raw p_t < m <=> d < logit(m) <=> the adjusted cross
        # entropy, softplus(-(d + s_y - s_other)), exceeds softplus(-(logit(m) + s_y -
        # s_other)).
        shift = self.logit_shift
        if shift is None:
            return None
        if shift.shape[0] != 2:
            raise ValueError(
                f"MarginCrossEntropy is binary only: prior has {shift.shape[0]} values."
            )
        return F.softplus(-(self.logit_margin + shift - shift.flip(0)))

    @torch.no_grad()
    def set_prior(self, prior):
        super().set_prior(prior)
        if self.logit_shift is not None:
            self.gate_threshold.copy_(self._gate_threshold())

    def _load_from_state_dict(self, *args, **kwargs):
        super()._load_from_state_dict(*args, **kwargs)
        if self.logit_shift is not None:
            with torch.no_grad():
                self.gate_threshold.copy_(self._gate_threshold())

    def forward(self, logits, target):
        target = _check_inputs(logits, target)
        if logits.shape[1] != 2:
            raise ValueError(
                "MarginCrossEntropy is binary only: logits must have 2 columns, "
                f"got {logits.shape[1]}."
            )
        if logits.dtype in _HALF and self.logit_shift is not None:
            return self.forward(logits.float(), target).to(logits.dtype)  # see _adjust
        # README, "Margin": loss_i = w_i * CE(z_i + tau * log prior, y_i), w_i = H(m - q_i)
        # for a positive, H(q_i - (1 - m)) for a negative. With two classes p_t is q for
        # a positive and 1 - q for a negative, so both read w_i = H(m - p_t), and
        # p_t < m  <=>  CE_i > -log m: one comparison in log space serves both.
        ce = _cross_entropy(self._adjust(logits), target)
        threshold = self.threshold
        if self.logit_shift is not None:
            # The gate reads the raw p_t: a threshold per class on the adjusted CE.
            threshold = self.gate_threshold.to(ce.dtype)[target]
        gate = torch.heaviside(ce.detach() - threshold, self.boundary_weight.to(ce.dtype))
        return self._finish(ce, target, 2, factor=gate)

    def extra_repr(self):
        return f"margin={self.margin}"
