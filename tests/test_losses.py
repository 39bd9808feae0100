"""The criteria against their formulas (DESIGN.md) and the seed 000 reference."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from sk_imbaloss.losses import AdaptiveCrossEntropy, FocalLoss, MarginCrossEntropy


class WeightedLoss(nn.Module):
    """Seed 000's ``WeightedLoss``, transcribed verbatim as the reference."""

    def __init__(self, num_classes: int, alpha: float = 1e-2) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.loss_fn = nn.CrossEntropyLoss(reduction="none")
        self.register_buffer("importance", torch.ones(num_classes).float())
        self.alpha = alpha

    def compute_false_negative_rate(self, y, pred_class) -> None:
        wrong_preds = y != pred_class
        wrong_categories, false_negatives = y[wrong_preds].unique(return_counts=True)
        categories, actual_counts = y.unique(return_counts=True)

        false_negative_rate = torch.zeros_like(categories).float()

        idx = (categories[:, None] == wrong_categories[None, :]).nonzero(as_tuple=True)[0]
        false_negative_rate[idx] = false_negatives / actual_counts[idx]

        self.importance[categories] = (
            self.alpha * false_negative_rate + (1 - self.alpha) * self.importance[categories]
        )

    def forward(self, logits, y):
        pred_class = logits.argmax(dim=1)
        self.compute_false_negative_rate(y, pred_class)
        return (self.loss_fn(logits, y) * self.importance[y]).mean()


def random_batch(generator, n, c, scale=3.0, classes=None):
    logits = torch.randn(n, c, generator=generator) * scale
    pool = torch.as_tensor(classes if classes is not None else range(c))
    target = pool[torch.randint(len(pool), (n,), generator=generator)]
    return logits, target


# ---------------------------------------------------------------- adaptive
@pytest.mark.parametrize("alpha", [0.01, 0.3, 1.0])
def test_adaptive_matches_seed_reference_over_many_batches(alpha):
    g = torch.Generator().manual_seed(1)
    ours, ref = AdaptiveCrossEntropy(4, alpha=alpha, offset=0.0), WeightedLoss(4, alpha=alpha)
    for step in range(200):
        # every third batch misses classes, as small batches of imbalanced data do
        classes = [0, 2] if step % 3 == 0 else None
        logits, target = random_batch(g, int(torch.randint(1, 40, (1,), generator=g)), 4,
                                      classes=classes)
        torch.testing.assert_close(ours(logits, target), ref(logits, target))
        torch.testing.assert_close(ours.importance, ref.importance)
    assert not torch.allclose(ours.importance, torch.ones(4))


def test_adaptive_absent_class_keeps_its_value():
    loss = AdaptiveCrossEntropy(3, alpha=0.5)
    logits = torch.tensor([[5.0, 0.0, 0.0], [0.0, 5.0, 0.0]])  # class 2 absent
    loss(logits, torch.tensor([1, 1]))  # sample 0 (true 1) missed, sample 1 right
    torch.testing.assert_close(loss.importance, torch.tensor([1.0, 0.75, 1.0]))


def test_adaptive_does_not_move_in_eval_mode():
    g = torch.Generator().manual_seed(2)
    loss = AdaptiveCrossEntropy(3, alpha=0.5)
    logits, target = random_batch(g, 32, 3)
    loss(logits, target)
    before = loss.importance.clone()
    loss.eval()
    loss(*random_batch(g, 32, 3))
    torch.testing.assert_close(loss.importance, before)


def test_adaptive_weight_and_reductions():
    g = torch.Generator().manual_seed(3)
    logits, target = random_batch(g, 16, 3)
    weight = torch.tensor([1.0, 2.0, 0.5])
    per_sample = AdaptiveCrossEntropy(3, alpha=0.2, weight=weight, reduction="none")(logits, target)
    plain = AdaptiveCrossEntropy(3, alpha=0.2, reduction="none")(logits, target)
    torch.testing.assert_close(per_sample, plain * weight[target])
    total = AdaptiveCrossEntropy(3, alpha=0.2, weight=weight, reduction="sum")(logits, target)
    torch.testing.assert_close(total, per_sample.sum())
    mean = AdaptiveCrossEntropy(3, alpha=0.2, weight=weight)(logits, target)
    torch.testing.assert_close(mean, per_sample.mean())


def test_adaptive_importance_is_a_buffer_that_follows_state_dict():
    loss = AdaptiveCrossEntropy(2, alpha=1.0)
    loss(torch.tensor([[3.0, 0.0]]), torch.tensor([0]))  # class 0 right: its rate is 0
    torch.testing.assert_close(loss.importance, torch.tensor([0.0, 1.0]))
    assert "importance" in loss.state_dict()
    fresh = AdaptiveCrossEntropy(2)
    fresh.load_state_dict(loss.state_dict())
    torch.testing.assert_close(fresh.importance, torch.tensor([0.0, 1.0]))


@pytest.mark.parametrize("offset", [0.0, 1.0])
def test_adaptive_two_calls_before_one_backward(offset):
    # Gradient accumulation or a second loss term: the importance updated in place by
    # the second call must not be the tensor the first call's backward reads.
    g = torch.Generator().manual_seed(11)
    layer = nn.Linear(3, 2)
    loss = AdaptiveCrossEntropy(2, alpha=0.1, offset=offset)
    x1, x2 = torch.randn(16, 3, generator=g), torch.randn(16, 3, generator=g)
    y1, y2 = torch.randint(2, (16,), generator=g), torch.randint(2, (16,), generator=g)
    (loss(layer(x1), y1) + loss(layer(x2), y2)).backward()
    assert torch.isfinite(layer.weight.grad).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_adaptive_importance_stays_float32_under_half_casts(dtype):
    # Class 0 is missed half the time in every batch: the importance must converge to
    # 0.5, which updates of alpha * (0.5 - importance) rounded to half precision miss.
    loss = AdaptiveCrossEntropy(2, alpha=0.01).to(dtype)
    assert loss.importance.dtype == torch.float32
    logits = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [0.0, 1.0]], dtype=dtype)
    target = torch.tensor([0, 0, 1, 1])
    for _ in range(2000):
        out = loss(logits, target)
    assert out.dtype == dtype
    torch.testing.assert_close(loss.importance[0], torch.tensor(0.5), atol=1e-4, rtol=0)


@pytest.mark.parametrize("make", [lambda: AdaptiveCrossEntropy(2, weight=[1.0, 3.0]),
                                  lambda: FocalLoss(gamma=0.0, weight=[1.0, 3.0]),
                                  lambda: FocalLoss(gamma=2.0, prior=[0.8, 0.2]),
                                  lambda: MarginCrossEntropy(prior=[0.8, 0.2])],
                         ids=["adaptive", "ce", "focal-prior", "margin-prior"])
def test_integer_targets_of_any_dtype_are_class_indices(make):
    # A uint8 target indexes like a mask; the losses read every integer dtype as classes.
    logits = torch.tensor([[0.2, 0.1], [0.3, 0.9], [0.5, -0.4]])
    target = torch.tensor([1, 0, 1])
    expected = make()(logits, target)
    for dtype in (torch.uint8, torch.int32, torch.int16):
        torch.testing.assert_close(make()(logits, target.to(dtype)), expected)
    with pytest.raises(ValueError, match="class indices in an integer tensor"):
        make()(logits, target.float())


# ---------------------------------------------------------------- focal
def test_focal_gamma_zero_is_cross_entropy():
    g = torch.Generator().manual_seed(4)
    logits, target = random_batch(g, 64, 5)
    torch.testing.assert_close(FocalLoss(gamma=0.0)(logits, target), F.cross_entropy(logits, target))


@pytest.mark.parametrize("gamma", [0.5, 1.0, 2.0, 5.0])
def test_focal_matches_formula(gamma):
    g = torch.Generator().manual_seed(5)
    logits, target = random_batch(g, 64, 4)
    p_t = torch.softmax(logits.double(), 1).gather(1, target[:, None]).squeeze(1)
    expected = (-(1 - p_t) ** gamma * torch.log(p_t)).float()
    got = FocalLoss(gamma=gamma, reduction="none")(logits, target)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-6)


def test_focal_weight_is_alpha_t():
    g = torch.Generator().manual_seed(6)
    logits, target = random_batch(g, 32, 2)
    weight = torch.tensor([0.25, 0.75])
    plain = FocalLoss(reduction="none")(logits, target)
    torch.testing.assert_close(FocalLoss(weight=weight, reduction="none")(logits, target),
                               plain * weight[target])


def test_focal_continuous_in_gamma_near_zero():
    g = torch.Generator().manual_seed(7)
    logits, target = random_batch(g, 32, 3)
    torch.testing.assert_close(FocalLoss(gamma=1e-7)(logits, target),
                               FocalLoss(gamma=0.0)(logits, target), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- margin
def test_margin_zero_loss_and_gradient_on_confident_right_answers():
    logits = torch.tensor([[0.0, 4.0], [4.0, 0.0]], requires_grad=True)  # q ~ 0.98, 0.02
    target = torch.tensor([1, 0])
    loss = MarginCrossEntropy(margin=0.6)(logits, target)
    loss.backward()
    assert loss.item() == 0.0
    assert torch.count_nonzero(logits.grad) == 0


def test_margin_is_cross_entropy_inside_the_band_and_on_mistakes():
    logits = torch.tensor([[0.0, 0.2], [0.2, 0.0], [3.0, 0.0], [0.0, 3.0]])
    target = torch.tensor([1, 0, 1, 0])  # two uncertain, two confidently wrong
    torch.testing.assert_close(
        MarginCrossEntropy(margin=0.6, reduction="none")(logits, target),
        F.cross_entropy(logits, target, reduction="none"),
    )


def test_margin_boundary_weight_is_one_half():
    logits = torch.tensor([[0.0, 1.0], [1.0, 0.0], [0.3, 0.0]])
    target = torch.tensor([1, 1, 0])  # q = 0.73 positive, q = 0.27 positive, q = 0.43 negative
    ce = F.cross_entropy(logits, target, reduction="none")
    for i in range(3):
        # margin m with p_t = m exactly: the sample sits on the boundary
        m = math.exp(-ce[i].item())
        if not 0.5 < m < 1:
            m_ok = False
        else:
            m_ok = True
            got = MarginCrossEntropy(margin=m, reduction="none")(logits, target)
            torch.testing.assert_close(got[i], 0.5 * ce[i])
        assert m_ok == (i != 1)  # the second sample is wrong (p_t < 0.5): no valid m


@pytest.mark.parametrize("make", [lambda **kw: FocalLoss(gamma=2.0, **kw),
                                  lambda **kw: MarginCrossEntropy(margin=0.9, **kw)],
                         ids=["focal", "margin"])
def test_mean_is_over_samples_not_over_weights(make):
    g = torch.Generator().manual_seed(12)
    logits, target = random_batch(g, 32, 2)
    weight = torch.tensor([1.0, 4.0])
    per_sample = make(weight=weight, reduction="none")(logits, target)
    torch.testing.assert_close(make(weight=weight)(logits, target), per_sample.sum() / 32)


def test_focal_half_precision_gradient_is_finite_at_huge_logits():
    logits = torch.tensor([[1e4, -1e4], [-1e4, 1e4]], dtype=torch.float16, requires_grad=True)
    target = torch.tensor([1, 1])
    for prior in (None, [0.8, 0.2]):
        logits.grad = None
        loss = FocalLoss(gamma=5.0, prior=prior, reduction="sum")(logits, target)
        loss.backward()
        assert loss.dtype == torch.float16 and torch.isfinite(loss)
        assert torch.isfinite(logits.grad).all()


@pytest.mark.parametrize("dtype, scale", [(torch.float16, 1e4), (torch.bfloat16, 100.0)])
@pytest.mark.parametrize("make", [
    lambda: AdaptiveCrossEntropy(2, prior=[0.9, 0.1], offset=0.0, reduction="none").eval(),
    lambda: FocalLoss(0.0, prior=[0.9, 0.1], reduction="none"),
    lambda: MarginCrossEntropy(0.6, prior=[0.9, 0.1], reduction="none"),
], ids=["adaptive", "ce", "margin"])
def test_logit_shift_is_not_rounded_away_in_half_precision(make, dtype, scale):
    # Equal logits of 1e4 (float16 spacing 8): the shift log(0.1) - log(0.9) = -2.2 on
    # the minority must count, the loss log(1 + 9) = 2.303, and the margin gate is
    # open (raw p_t = 0.5 < m). Added in float16 the shift rounded away (0.693; the
    # margin loss gave 0).
    logits = torch.full((2, 2), scale, dtype=dtype, requires_grad=True)
    target = torch.tensor([1, 0])
    loss = make()(logits, target)
    expected = make()(logits.detach().double(), target)
    assert loss.dtype == dtype
    torch.testing.assert_close(loss.double(), expected, rtol=1e-2, atol=0)
    loss.sum().backward()
    reference = logits.detach().double().requires_grad_()
    make()(reference, target).sum().backward()
    torch.testing.assert_close(logits.grad.double(), reference.grad, rtol=1e-2, atol=1e-3)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_adaptive_half_precision_training_step_matches_float32(dtype):
    # The half-precision path recurses into float32: one importance update per call,
    # the same as for the float32 logits, and the loss back in the logits' dtype.
    g = torch.Generator().manual_seed(3)
    logits, target = random_batch(g, 64, 3)
    half, full = (AdaptiveCrossEntropy(3, alpha=0.5, prior=[0.7, 0.2, 0.1]) for _ in range(2))
    rounded = logits.to(dtype)
    loss = half(rounded, target)
    expected = full(rounded.float(), target)
    assert loss.dtype == dtype
    torch.testing.assert_close(half.importance, full.importance)
    torch.testing.assert_close(loss.float(), expected, rtol=1e-2, atol=1e-2)


def test_margin_gate_follows_set_prior_and_load_state_dict():
    g = torch.Generator().manual_seed(13)
    logits, target = random_batch(g, 256, 2)
    expected = MarginCrossEntropy(0.7, prior=[0.95, 0.05], reduction="none")(logits, target)
    moved = MarginCrossEntropy(0.7, prior=[0.5, 0.5], reduction="none")
    moved.set_prior(torch.tensor([0.95, 0.05]))
    torch.testing.assert_close(moved(logits, target), expected)
    loaded = MarginCrossEntropy(0.7, prior=[0.5, 0.5], reduction="none")
    loaded.load_state_dict(moved.state_dict())
    torch.testing.assert_close(loaded(logits, target), expected)
    with pytest.raises(ValueError, match="binary only: prior has 3 values"):
        MarginCrossEntropy(0.7, prior=[0.5, 0.3, 0.2])


def test_margin_rejects_multiclass_logits():
    with pytest.raises(ValueError, match="binary only"):
        MarginCrossEntropy()(torch.zeros(4, 3), torch.zeros(4, dtype=torch.long))


# ---------------------------------------------------------------- construction
@pytest.mark.parametrize(
    "factory, match",
    [
        (lambda: AdaptiveCrossEntropy(3, alpha=0.0), "alpha"),
        (lambda: AdaptiveCrossEntropy(3, alpha=1.5), "alpha"),
        (lambda: AdaptiveCrossEntropy(1), "num_classes"),
        (lambda: FocalLoss(gamma=-1), "gamma"),
        (lambda: FocalLoss(gamma=math.inf), "gamma must be finite"),
        (lambda: AdaptiveCrossEntropy(2.0), "num_classes"),
        (lambda: AdaptiveCrossEntropy(True), "num_classes"),
        (lambda: MarginCrossEntropy(margin=0.5), "margin"),
        (lambda: MarginCrossEntropy(margin=1.0), "margin"),
        (lambda: FocalLoss(reduction="avg"), "reduction"),
        (lambda: FocalLoss(weight=[1.0, -1.0]), "non-negative"),
        (lambda: FocalLoss(prior=[0.9, 0.0]), "positive class frequencies"),
        (lambda: FocalLoss(prior=[[0.5, 0.5]]), "1-D tensor"),
        (lambda: FocalLoss(prior=[0.5, 0.5], tau=-1.0), "tau"),
        (lambda: AdaptiveCrossEntropy(3, prior=[0.5, 0.5]), "prior has 2 values"),
        (lambda: AdaptiveCrossEntropy(3, offset=-1.0), "offset"),
    ],
)
def test_bad_parameters_raise_value_errors(factory, match):
    with pytest.raises(ValueError, match=match):
        factory()


def test_num_classes_may_be_a_numpy_integer():
    import numpy as np

    loss = AdaptiveCrossEntropy(np.int64(3))
    assert loss.num_classes == 3 and type(loss.num_classes) is int


def test_shape_errors_are_clear():
    with pytest.raises(ValueError, match=r"shape \(N, C\)"):
        FocalLoss()(torch.zeros(4), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="target must have shape"):
        FocalLoss()(torch.zeros(4, 2), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="num_classes=3"):
        AdaptiveCrossEntropy(3)(torch.zeros(4, 2), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="weight has 3 values"):
        FocalLoss(weight=[1.0, 1.0, 1.0])(torch.zeros(4, 2), torch.zeros(4, dtype=torch.long))


# ---------------------------------------------------------------- stability
CRITERIA = {
    "adaptive": lambda c: AdaptiveCrossEntropy(c, alpha=0.1),
    "focal": lambda c: FocalLoss(gamma=2.0),
    "focal-half": lambda c: FocalLoss(gamma=0.5),
    "margin": lambda c: MarginCrossEntropy(margin=0.7),
}


@pytest.mark.parametrize("name", CRITERIA)
def test_finite_loss_and_gradient_at_logits_of_1e4(name):
    c = 2
    logits = torch.tensor([[1e4, -1e4], [-1e4, 1e4], [1e4, -1e4], [0.0, 1e4]],
                          requires_grad=True)
    target = torch.tensor([0, 0, 1, 1])  # right, wrong, wrong, right
    loss = CRITERIA[name](c)(logits, target)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(logits.grad).all()


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 20),
    c=st.integers(2, 6),
    scale=st.sampled_from([1e-3, 1.0, 30.0, 1e4]),
    gamma=st.floats(0.0, 5.0),
    seed=st.integers(0, 2**16),
)
def test_property_focal_finite_and_bounded_by_ce(n, c, scale, gamma, seed):
    g = torch.Generator().manual_seed(seed)
    logits, target = random_batch(g, n, c, scale=scale)
    logits.requires_grad_(True)
    focal = FocalLoss(gamma=gamma, reduction="none")(logits, target)
    ce = F.cross_entropy(logits, target, reduction="none")
    focal.sum().backward()
    assert torch.isfinite(focal).all() and torch.isfinite(logits.grad).all()
    # (1 - p_t)^gamma <= 1, so focal never exceeds cross entropy
    assert (focal <= ce * (1 + 1e-5) + 1e-6).all()


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 20),
    c=st.integers(2, 6),
    alpha=st.floats(1e-3, 1.0),
    scale=st.sampled_from([1e-3, 1.0, 1e4]),
    seed=st.integers(0, 2**16),
)
def test_property_adaptive_matches_reference_and_stays_in_unit_interval(n, c, alpha, scale, seed):
    g = torch.Generator().manual_seed(seed)
    ours, ref = AdaptiveCrossEntropy(c, alpha=alpha, offset=0.0), WeightedLoss(c, alpha=alpha)
    for _ in range(3):
        logits, target = random_batch(g, n, c, scale=scale)
        value = ours(logits, target)
        torch.testing.assert_close(value, ref(logits, target))
        assert math.isfinite(value.item())
    torch.testing.assert_close(ours.importance, ref.importance)
    assert ((ours.importance >= 0) & (ours.importance <= 1)).all()


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 20),
    margin=st.floats(0.51, 0.99),
    scale=st.sampled_from([1e-2, 1.0, 1e4]),
    seed=st.integers(0, 2**16),
)
def test_property_margin_is_gated_cross_entropy(n, margin, scale, seed):
    g = torch.Generator().manual_seed(seed)
    logits, target = random_batch(g, n, 2, scale=scale)
    got = MarginCrossEntropy(margin=margin, reduction="none")(logits, target)
    ce = F.cross_entropy(logits, target, reduction="none")
    q = torch.softmax(logits.double(), 1)[:, 1]
    # eqs. (4) and (5), away from float rounding at the boundary itself
    confident_right = torch.where(target == 1, q > margin + 1e-6, q < 1 - margin - 1e-6)
    assert torch.isfinite(got).all()
    assert (got[confident_right] == 0).all()
    uncertain = torch.where(target == 1, q < margin - 1e-6, q > 1 - margin + 1e-6)
    torch.testing.assert_close(got[uncertain], ce[uncertain])


def test_adaptive_breaks_exact_ties_as_the_seeds_argmax():
    # All-equal logits (a zero-initialised output layer): argmax picks class 0, so
    # every sample of another class is missed, as in the seed.
    logits, target = torch.zeros(4, 3), torch.tensor([0, 1, 2, 2])
    ours, ref = AdaptiveCrossEntropy(3, alpha=0.5, offset=0.0), WeightedLoss(3, alpha=0.5)
    torch.testing.assert_close(ours(logits, target), ref(logits, target))
    torch.testing.assert_close(ours.importance, torch.tensor([0.5, 1.0, 1.0]))


def test_adaptive_miss_rates_count_sample_weights_like_repeated_rows():
    g = torch.Generator().manual_seed(3)
    logits, target = random_batch(g, 40, 3)
    weight = torch.randint(0, 3, (40,), generator=g).float()  # 0, 1 or 2 per row
    weighted = AdaptiveCrossEntropy(3, alpha=0.3)
    weighted(logits, target, sample_weight=weight)
    repeated = AdaptiveCrossEntropy(3, alpha=0.3)
    rows = torch.repeat_interleave(torch.arange(40), weight.long())
    repeated(logits[rows], target[rows])
    torch.testing.assert_close(weighted.importance, repeated.importance)


def test_adaptive_class_whose_rows_all_weigh_zero_keeps_its_importance():
    loss = AdaptiveCrossEntropy(2, alpha=1.0)
    logits = torch.tensor([[2.0, 0.0], [2.0, 0.0], [0.0, 2.0]])
    loss(logits, torch.tensor([1, 1, 0]), sample_weight=torch.tensor([0.0, 0.0, 1.0]))
    # class 1's rows weigh nothing: it is absent; class 0's one row is missed
    torch.testing.assert_close(loss.importance, torch.tensor([1.0, 1.0]))
    loss(logits, torch.tensor([1, 1, 1]), sample_weight=torch.tensor([0.0, 0.0, 1.0]))
    torch.testing.assert_close(loss.importance, torch.tensor([1.0, 0.0]))


def test_adaptive_sample_weight_of_another_shape_is_a_clear_error():
    with pytest.raises(ValueError, match="one weight per sample"):
        AdaptiveCrossEntropy(2)(torch.zeros(3, 2), torch.tensor([0, 1, 0]),
                                sample_weight=torch.ones(2))


# ---------------------------------------------------------------- logit adjustment
PRIOR = torch.tensor([0.8, 0.15, 0.05])


@pytest.mark.parametrize("tau", [0.5, 1.0, 2.0])
def test_logit_adjustment_is_cross_entropy_on_shifted_logits(tau):
    logits, target = random_batch(torch.Generator().manual_seed(5), 64, 3)
    expected = F.cross_entropy(logits + tau * torch.log(PRIOR), target, reduction="none")
    ce = FocalLoss(gamma=0.0, prior=PRIOR * 7, tau=tau, reduction="none")  # any scale
    torch.testing.assert_close(ce(logits, target), expected)
    focal = FocalLoss(gamma=2.0, prior=PRIOR, tau=tau, reduction="none")
    # the modulating factor reads the raw probability of the true class
    raw_p_t = torch.softmax(logits, dim=1).gather(1, target[:, None]).squeeze(1)
    torch.testing.assert_close(focal(logits, target), (1 - raw_p_t) ** 2 * expected)


def test_focal_factor_with_prior_is_symmetric_at_the_balanced_boundary():
    # Equal raw logits: the balanced decision boundary. Both classes get the same
    # factor 0.5^gamma; on the adjusted logits the majority's would be near 0.
    prior = torch.tensor([0.95, 0.05])
    focal = FocalLoss(gamma=2.0, prior=prior, reduction="none")
    logits = torch.zeros(2, 2)
    target = torch.tensor([0, 1])
    adjusted_ce = F.cross_entropy(logits + torch.log(prior), target, reduction="none")
    torch.testing.assert_close(focal(logits, target), 0.25 * adjusted_ce)


def test_tau_zero_or_no_prior_is_the_plain_loss():
    logits, target = random_batch(torch.Generator().manual_seed(6), 32, 3)
    plain = FocalLoss(gamma=1.0)(logits, target)
    torch.testing.assert_close(FocalLoss(gamma=1.0, prior=PRIOR, tau=0.0)(logits, target), plain)
    assert FocalLoss(prior=PRIOR, tau=0.0).logit_shift is None


def test_adaptive_with_prior_weights_adjusted_ce_and_counts_misses_on_raw_logits():
    prior = torch.tensor([0.9, 0.1])
    loss = AdaptiveCrossEntropy(2, alpha=1.0, prior=prior, reduction="none")
    # Sample 0 (class 1) is right on the raw logits but wrong after the shift by
    # log(prior): a prediction uses the raw logits, so it counts as right.
    logits = torch.tensor([[0.0, 1.0], [2.0, 0.0]])
    target = torch.tensor([1, 1])
    value = loss(logits, target)
    torch.testing.assert_close(loss.importance, torch.tensor([1.0, 0.5]))
    # class weight = offset 1 + importance 0.5
    expected = F.cross_entropy(logits + torch.log(prior), target, reduction="none") * 1.5
    torch.testing.assert_close(value, expected)


def test_margin_gate_reads_the_raw_probability_and_the_loss_the_adjusted_one():
    prior = torch.tensor([0.75, 0.25])
    loss = MarginCrossEntropy(margin=0.6, prior=prior, reduction="none")
    # raw q = 0.7 > m: confidently right, gated off, although the adjusted q is < m
    z = torch.tensor([[0.0, math.log(0.7 / 0.3)]])
    assert torch.softmax(z + torch.log(prior), dim=1)[0, 1] < 0.6
    assert loss(z, torch.tensor([1])).item() == 0
    # raw q = 0.55 < m: inside the band, loss on the adjusted logits
    z = torch.tensor([[0.0, math.log(0.55 / 0.45)]])
    adjusted = F.cross_entropy(z + torch.log(prior), torch.tensor([1]), reduction="none")
    torch.testing.assert_close(loss(z, torch.tensor([1])), adjusted)


def test_adaptive_offset_weighs_each_class_by_one_plus_importance():
    logits, target = random_batch(torch.Generator().manual_seed(8), 50, 3)
    default = AdaptiveCrossEntropy(3, alpha=0.3, reduction="none")
    seed = AdaptiveCrossEntropy(3, alpha=0.3, offset=0.0, reduction="none")
    ce = F.cross_entropy(logits, target, reduction="none")
    value, seed_value = default(logits, target), seed(logits, target)
    torch.testing.assert_close(default.importance, seed.importance)
    torch.testing.assert_close(value, ce * (1 + default.importance[target]))
    torch.testing.assert_close(seed_value, ce * seed.importance[target])


# On the CPU, more than 4096 logits of fewer than 16 classes take log_softmax over the
# transpose (sk_imbaloss._kernels): every check runs on both routes.
BATCHES = pytest.mark.parametrize("rows", [256, 4096], ids=["small", "large"])


@pytest.mark.parametrize("tau", [20.0, 25.0])
@pytest.mark.parametrize("rows", [2048, 2049])
def test_logit_adjusted_focal_is_finite_under_a_large_shift(tau, rows):
    # tau * log(0.99 / 0.01) is 92 to 115, beyond float32's exp range: the loss on a
    # confidently wrong row stays exact (CE of the adjusted logits) with gradient
    # [-1, 1], on batches of 4096 and 4098 logits alike (the two routes).
    logits = torch.tensor([[-100.0, 100.0]]).repeat(rows, 1).requires_grad_()
    target = torch.zeros(rows, dtype=torch.long)
    loss = FocalLoss(2.0, prior=torch.tensor([0.99, 0.01]), tau=tau, reduction="none")
    value = loss(logits, target)
    value.sum().backward()
    shift = tau * torch.log(torch.tensor([0.99, 0.01], dtype=torch.float64))
    expected = F.cross_entropy(logits.detach().double()[:1] + shift, target[:1])
    torch.testing.assert_close(value[0].double(), expected, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(logits.grad, torch.tensor([[-1.0, 1.0]]).repeat(rows, 1))


@BATCHES
def test_logit_adjusted_focal_and_margin_match_the_direct_formulas(rows):
    # The focal factor and the margin gate read the raw p_t, the cross entropy is the
    # adjusted one; both must equal the direct computation.
    g = torch.Generator().manual_seed(9)
    prior = torch.tensor([0.9, 0.1])
    logits, target = random_batch(g, rows, 2)
    logits = logits * 3
    adjusted = F.cross_entropy(logits + torch.log(prior), target, reduction="none")
    raw_p_t = torch.softmax(logits, dim=1).gather(1, target[:, None]).squeeze(1)
    focal = FocalLoss(gamma=1.5, prior=prior, reduction="none")(logits, target)
    torch.testing.assert_close(focal, (1 - raw_p_t) ** 1.5 * adjusted)
    margin = MarginCrossEntropy(margin=0.7, prior=prior, reduction="none")(logits, target)
    torch.testing.assert_close(margin, (raw_p_t < 0.7).float() * adjusted)


@BATCHES
def test_logit_adjusted_focal_matches_the_direct_formula_on_many_classes(rows):
    g = torch.Generator().manual_seed(10)
    prior = torch.tensor([0.5, 0.3, 0.15, 0.05])
    logits, target = random_batch(g, rows, 4)
    logits.requires_grad_(True)
    adjusted = F.cross_entropy(logits + torch.log(prior), target, reduction="none")
    raw_p_t = torch.softmax(logits, dim=1).gather(1, target[:, None]).squeeze(1)
    expected = (1 - raw_p_t) ** 2 * adjusted
    focal = FocalLoss(gamma=2.0, prior=prior, reduction="none")(logits, target)
    torch.testing.assert_close(focal, expected)
    grad, = torch.autograd.grad(focal.sum(), logits)
    expected_grad, = torch.autograd.grad(expected.sum(), logits)
    torch.testing.assert_close(grad, expected_grad)


@BATCHES
@pytest.mark.parametrize("criterion", [FocalLoss(gamma=2.0, prior=[0.99, 0.01]),
                                       MarginCrossEntropy(prior=[0.99, 0.01])])
def test_logit_adjusted_losses_stay_finite_at_huge_logits(criterion, rows):
    logits = torch.tensor([[1e4, -1e4], [-1e4, 1e4], [1e4, -1e4]]).repeat(rows // 3 + 1, 1)
    logits.requires_grad_(True)
    target = torch.tensor([1, 0, 0]).repeat(rows // 3 + 1)
    loss = criterion(logits, target)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(logits.grad).all()


# ------------------------------------------------------------ the CPU's fast route
# On the CPU, more than 4096 logits of fewer than 16 classes take log_softmax over the
# transpose (torch's own is a scalar loop there), and unweighted means and sums of the
# focal and margin losses are one dot product. Each must give the values and gradients
# of torch's log_softmax, a product and a mean to rounding.
ROUTED = {
    "adaptive": lambda c, **kw: AdaptiveCrossEntropy(c, alpha=0.3, **kw),
    "ce": lambda c, **kw: FocalLoss(0.0, **kw),
    "focal": lambda c, **kw: FocalLoss(1.5, **kw),
    "margin": lambda c, **kw: MarginCrossEntropy(0.7, **kw),
}


@pytest.mark.parametrize("name", ROUTED)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("prior", [False, True], ids=["no-prior", "prior"])
def test_fast_cpu_route_matches_the_plain_route(monkeypatch, name, reduction, weighted, prior):
    from sk_imbaloss import _kernels

    c = 2 if name == "margin" else 5
    g = torch.Generator().manual_seed(13)
    logits, target = random_batch(g, 2100, c)  # 4200 or 10500 logits
    kw = {"reduction": reduction}
    if weighted:
        kw["weight"] = torch.rand(c, generator=g) + 0.5
    if prior:
        kw["prior"] = torch.linspace(1.0, 0.05, c)

    def run(reduce=None):
        x = logits.clone().requires_grad_(True)
        if reduce is None:
            value = ROUTED[name](c, **kw)(x, target)
        else:  # per sample, then reduced here
            value = reduce(ROUTED[name](c, **{**kw, "reduction": "none"})(x, target))
        grad, = torch.autograd.grad(value.sum(), x)
        return value, grad

    assert _kernels._transposed(logits)
    fast = run()
    monkeypatch.setattr(_kernels, "_SMALL_BATCH_ELEMENTS", 10**9)  # torch's own route
    assert not _kernels._transposed(logits)
    plain = run({"none": None, "mean": torch.mean, "sum": torch.sum}[reduction])
    torch.testing.assert_close(fast[0], plain[0])
    torch.testing.assert_close(fast[1], plain[1])


def test_transposed_route_only_for_large_cpu_batches_of_few_classes():
    from sk_imbaloss._kernels import _transposed

    assert _transposed(torch.zeros(4097, 2)) and _transposed(torch.zeros(410, 15))
    assert not _transposed(torch.zeros(2048, 2))  # the estimator's batches stay plain
    assert not _transposed(torch.zeros(4096, 16))  # torch's own kernel is vectorised


@pytest.mark.parametrize("name", ROUTED)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("rows", [8, 2100])
def test_half_precision_mean_and_sum_accumulate_in_float32(name, dtype, rows):
    # Eight rows of loss 2e4 sum past float16's 65504; their mean must not overflow,
    # and a bfloat16 mean must be the float32 mean rounded once.
    c = 2
    logits = torch.tensor([[1e4, -1e4]], dtype=dtype).repeat(rows, 1)
    target = torch.ones(rows, dtype=torch.long)
    mean = ROUTED[name](c)(logits, target)
    assert mean.dtype == dtype and torch.isfinite(mean)
    g = torch.Generator().manual_seed(15)
    logits, target = random_batch(g, rows, c)
    for reduction, reduce in [("mean", torch.mean), ("sum", torch.sum)]:
        got = ROUTED[name](c, reduction=reduction)(logits.to(dtype), target)
        per_sample = ROUTED[name](c, reduction="none")(logits.to(dtype), target)
        torch.testing.assert_close(got, reduce(per_sample.float()).to(dtype))


def test_logit_adjusted_focal_stays_float32_under_cpu_autocast():
    g = torch.Generator().manual_seed(16)
    logits, target = random_batch(g, 4096, 10)
    loss = FocalLoss(2.0, prior=torch.linspace(1.0, 0.01, 10), reduction="none")
    expected = loss(logits, target)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = loss(logits, target)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", ROUTED)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_no_route_reads_the_data_off_the_cpu(name, reduction):
    # A meta tensor has no data: reading one (bool, item) raises. Every criterion must
    # run on one, forward and backward, at a size where the CPU takes its own route:
    # off the CPU no code may read a value (a host sync on a GPU).
    c = 2 if name == "margin" else 5
    kw = {"reduction": reduction, "prior": torch.linspace(1.0, 0.1, c)}
    criterion = ROUTED[name](c, **kw).to("meta")
    logits = torch.empty(8192, c, device="meta", requires_grad=True)
    target = torch.empty(8192, dtype=torch.long, device="meta")
    value = criterion(logits, target)
    value.sum().backward()
    assert logits.grad.shape == logits.shape


# ------------------------------------------------ against the formulas, composed
def _reference_step(criterion, importance, logits, target, sample_weight=None):
    """The criterion's formula composed from plain torch operations, autograd for the
    gradient: ``(loss, importance after the step)``. The reference that any faster
    route (a fused kernel, a custom autograd Function) must equal to rounding."""
    shift = 0.0 if criterion.logit_shift is None else criterion.logit_shift.to(logits.dtype)
    ce = F.cross_entropy(logits + shift, target, reduction="none")
    raw_ce = F.cross_entropy(logits, target, reduction="none")
    if isinstance(criterion, AdaptiveCrossEntropy):
        importance = importance.clone()
        if criterion.training:
            weight = torch.ones(len(target)) if sample_weight is None else sample_weight
            missed = (logits.argmax(1) != target).float()
            for c in range(criterion.num_classes):
                count = (weight * (target == c)).sum()
                if count > 0:
                    rate = (weight * missed * (target == c)).sum() / count
                    importance[c] = criterion.alpha * rate + (1 - criterion.alpha) * importance[c]
        loss = ce * (criterion.offset + importance.to(logits.dtype))[target]
    elif isinstance(criterion, FocalLoss):  # 1 - p_t = -expm1(-CE) on the raw logits
        loss = (-torch.expm1(-raw_ce)) ** criterion.gamma * ce
    else:  # margin: H(m - p_t), p_t raw
        loss = torch.heaviside(criterion.margin - torch.exp(-raw_ce.detach()),
                               torch.tensor(0.5, dtype=logits.dtype)) * ce
    if criterion.weight is not None:
        loss = loss * criterion.weight.to(logits.dtype)[target]
    return {"mean": loss.mean, "sum": loss.sum, "none": lambda: loss}[criterion.reduction](), \
        importance


EXACT = {
    "adaptive": lambda c, **kw: AdaptiveCrossEntropy(c, alpha=0.3, **kw),
    "adaptive-seed": lambda c, **kw: AdaptiveCrossEntropy(c, alpha=0.3, offset=0.0, **kw),
    "ce": lambda c, **kw: FocalLoss(0.0, **kw),
    "focal": lambda c, **kw: FocalLoss(2.0, **kw),
    "margin": lambda c, **kw: MarginCrossEntropy(0.6, **kw),
}


@pytest.mark.parametrize("name", EXACT)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("prior", [False, True], ids=["no-prior", "prior"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_loss_gradient_and_importance_equal_the_composed_formula(name, reduction, weighted,
                                                                 prior, dtype):
    # The estimator's batch shapes and a large one; three training steps each, so that
    # the importance's trajectory is compared too (with sample weights on the third).
    g = torch.Generator().manual_seed(21)
    for n, c in [(128, 2), (128, 5), (128, 10), (4096, 10)]:
        if name == "margin" and c != 2:
            n, c = (4096, 2) if n == 4096 else (n, 2)
        kw = {"reduction": reduction}
        if weighted:
            kw["weight"] = torch.rand(c, generator=g) + 0.5
        if prior:
            kw["prior"] = torch.linspace(1.0, 0.05, c)
        criterion = EXACT[name](c, **kw)
        importance = getattr(criterion, "importance", torch.ones(c)).clone()
        for step in range(3 if "adaptive" in name else 1):
            logits, target = random_batch(g, n, c)
            logits = logits.to(dtype)
            sample_weight = torch.rand(n, generator=g) if step == 2 else None
            extra = {} if sample_weight is None or "adaptive" not in name else {
                "sample_weight": sample_weight}
            x, r = logits.clone().requires_grad_(), logits.clone().requires_grad_()
            got = criterion(x, target, **extra)
            expected, importance = _reference_step(criterion, importance, r, target,
                                                   sample_weight if extra else None)
            upstream = torch.rand(got.shape, generator=g, dtype=dtype)
            (got * upstream).sum().backward()
            (expected * upstream).sum().backward()
            torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(x.grad, r.grad, rtol=1e-5, atol=1e-6)
            if "adaptive" in name:
                torch.testing.assert_close(criterion.importance, importance)


@pytest.mark.parametrize("name", EXACT)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_gradcheck_in_float64(name, reduction):
    # The importance is a constant of the gradient: its update is off (eval) here, as
    # gradcheck calls the loss many times.
    g = torch.Generator().manual_seed(22)
    c = 2 if name == "margin" else 3
    criterion = EXACT[name](c, reduction=reduction, weight=torch.rand(c, generator=g) + 0.5,
                            prior=torch.linspace(1.0, 0.2, c)).double().eval()
    logits, target = random_batch(g, 8, c)
    logits = logits.double().requires_grad_()
    assert torch.autograd.gradcheck(lambda z: criterion(z, target), (logits,))
