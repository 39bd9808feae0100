"""Class statistics: counts, prior, and the per-class weights, 'effective' among them."""

import numpy as np
import pytest

from sk_imbaloss import ImbalancedNeuralClassifier
from sk_imbaloss._class_stats import (class_counts, class_prior, class_weight_vector,
                                      effective_number_weights)

FAST = dict(max_epochs=2, random_state=0)
CLASSES = np.array(["a", "b", "c"])
COUNTS = np.array([900.0, 90.0, 10.0])


def test_counts_add_to_previous_and_follow_sample_weight():
    y = np.array([0, 0, 1, 2, 2, 2])
    np.testing.assert_array_equal(class_counts(y, 4), [2, 1, 3, 0])
    weighted = class_counts(y, 3, sample_weight=np.array([1, 2, 0.5, 1, 1, 1.0]))
    np.testing.assert_array_equal(weighted, [3, 0.5, 3])
    np.testing.assert_array_equal(class_counts(y, 3, previous=weighted), [5, 1.5, 6])


def test_prior_counts_an_unseen_class_as_the_rarest():
    np.testing.assert_allclose(class_prior(np.array([6.0, 0.0, 2.0])), [0.6, 0.2, 0.2])


def test_effective_weights_by_hand():
    beta = 0.99
    # (1 - beta) / (1 - beta**n_c), then scaled to sum to C = 3.
    raw = [(1 - 0.99) / (1 - 0.99 ** 900), (1 - 0.99) / (1 - 0.99 ** 90),
           (1 - 0.99) / (1 - 0.99 ** 10)]
    expected = [3 * w / sum(raw) for w in raw]
    np.testing.assert_allclose(effective_number_weights(COUNTS, beta), expected, rtol=1e-12)
    vector = class_weight_vector("effective", CLASSES, COUNTS, beta)
    assert vector.dtype == np.float32
    np.testing.assert_allclose(vector, expected, rtol=1e-6)
    assert vector.sum() == pytest.approx(3.0)
    assert vector[0] < vector[1] < vector[2]


def test_beta_zero_gives_ones():
    np.testing.assert_array_equal(class_weight_vector("effective", CLASSES, COUNTS, 0.0),
                                  [1.0, 1.0, 1.0])


@pytest.mark.parametrize("counts", [COUNTS, np.array([3e5, 2.5, 0.01])])
def test_beta_close_to_one_approaches_balanced(counts):
    balanced = class_weight_vector("balanced", CLASSES, counts)
    effective = class_weight_vector("effective", CLASSES, counts, 1 - 1e-12)
    np.testing.assert_allclose(effective, balanced * 3 / balanced.sum(), rtol=1e-5)


def test_fractional_counts_and_the_default_beta():
    # Sample-weighted counts need not be whole; beta**n_c is defined all the same.
    counts = np.array([12.5, 0.5])
    expected = np.array([1 / (1 - 0.999 ** 12.5), 1 / (1 - 0.999 ** 0.5)])
    np.testing.assert_allclose(class_weight_vector("effective", CLASSES[:2], counts),
                               2 * expected / expected.sum(), rtol=1e-6)


def test_effective_needs_rows_of_every_class():
    with pytest.raises(ValueError, match=r"class_weight='effective' needs rows of every "
                                         r"class.*none of class \['b'\]"):
        class_weight_vector("effective", CLASSES, np.array([5.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match="class_weight='effective' needs rows"):
        class_weight_vector("effective", CLASSES)


@pytest.mark.parametrize("criterion", ["adaptive", "adaptive-seed", "focal", "margin", "ce"])
def test_every_criterion_by_name_uses_them(multiclass_data, binary_data, criterion):
    X, y = binary_data if criterion == "margin" else multiclass_data
    weight = np.where(y == 0, 2.0, 1.0)
    clf = ImbalancedNeuralClassifier(criterion=criterion, class_weight="effective", beta=0.99,
                                     **FAST).fit(X, y, sample_weight=weight)
    np.testing.assert_array_equal(clf.class_counts_, np.bincount(y, weights=weight))
    expected = effective_number_weights(clf.class_counts_, 0.99)
    np.testing.assert_allclose(clf.class_weight_, expected, rtol=1e-6)
    np.testing.assert_allclose(clf.criterion_.weight.numpy(), expected, rtol=1e-6)


def test_beta_zero_leaves_the_criterion_unweighted(binary_data):
    X, y = binary_data
    clf = ImbalancedNeuralClassifier(criterion="focal", class_weight="effective", beta=0,
                                     **FAST).fit(X, y)
    np.testing.assert_array_equal(clf.class_weight_, [1.0, 1.0])
    assert clf.criterion_.weight is None


def test_set_params_beta_rebuilds_the_criterion(binary_data):
    X, y = binary_data
    clf = ImbalancedNeuralClassifier(criterion="ce", class_weight="effective",
                                     **FAST).fit(X, y)
    clf.set_params(beta=0.9)
    expected = effective_number_weights(np.bincount(y).astype(float), 0.9)
    np.testing.assert_allclose(clf.class_weight_, expected, rtol=1e-6)
    np.testing.assert_allclose(clf.criterion_.weight.numpy(), expected, rtol=1e-6)
    with pytest.raises(ValueError, match="'beta' parameter"):
        clf.set_params(beta=1.0)
    assert clf.beta == 0.9  # a bad value leaves the net as it was
    np.testing.assert_allclose(clf.class_weight_, expected, rtol=1e-6)


@pytest.mark.parametrize("beta", [1.0, -0.1, 1.5, "high", None])
def test_bad_beta_is_named(binary_data, beta):
    X, y = binary_data
    with pytest.raises((ValueError, TypeError), match="'beta' parameter"):
        ImbalancedNeuralClassifier(class_weight="effective", beta=beta, **FAST).fit(X, y)


def test_effective_is_refused_by_partial_fit(binary_data):
    X, y = binary_data
    with pytest.raises(ValueError, match="'effective' is not supported for partial_fit"):
        ImbalancedNeuralClassifier(class_weight="effective", **FAST).partial_fit(X, y)


def test_a_warm_start_follows_all_the_rows(binary_data):
    X, y = binary_data
    clf = ImbalancedNeuralClassifier(class_weight="effective", beta=0.99, warm_start=True,
                                     **FAST).fit(X[:150], y[:150])
    clf.fit(X[150:], y[150:])
    expected = effective_number_weights(np.bincount(y).astype(float), 0.99)
    np.testing.assert_allclose(clf.class_weight_, expected, rtol=1e-6)
    np.testing.assert_allclose(clf.criterion_.weight.numpy(), expected, rtol=1e-6)
