"""What the probabilities mean: ``predict_proba(X, prior=...)``, and class weights
beside the logit adjustment."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sk_imbaloss import ImbalancedNeuralClassifier

FAST = dict(max_epochs=5, random_state=0)


def softmax(logits):
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def default_fit(binary_data):
    X, y = binary_data
    return ImbalancedNeuralClassifier(**FAST).fit(X, y)


def test_default_proba_is_balanced_and_prior_train_adds_the_adjustment(default_fit,
                                                                     binary_data):
    X, y = binary_data
    clf = default_fit
    proba = clf.predict_proba(X)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X))
    # softmax(z + tau * log prior): the logits of predict_proba are log(proba) + const.
    expected = softmax(np.log(proba) + np.log(clf.class_prior_))
    np.testing.assert_allclose(clf.predict_proba(X, prior="train"), expected, atol=1e-6)
    np.testing.assert_allclose(clf.predict_proba(X, prior="balanced"), proba, atol=1e-6)
    # The data's frequencies lower the minority's probability on every row.
    assert (clf.predict_proba(X, prior="train")[:, 1] < proba[:, 1]).all()


def test_deployment_prior_by_array_or_dict_of_labels(binary_data):
    X, y = binary_data
    labels = np.where(y == 1, "rare", "common")
    clf = ImbalancedNeuralClassifier(**FAST).fit(X, labels)  # classes_: common, rare
    by_dict = clf.predict_proba(X, prior={"rare": 1, "common": 3})
    np.testing.assert_allclose(clf.predict_proba(X, prior=[0.75, 0.25]), by_dict)
    np.testing.assert_allclose(by_dict, softmax(np.log(clf.predict_proba(X))
                                                + np.log([0.75, 0.25])), atol=1e-6)


def test_ce_proba_is_the_data_posterior_and_balanced_divides_by_the_prior(binary_data):
    X, y = binary_data
    clf = ImbalancedNeuralClassifier(criterion="ce", **FAST).fit(X, y)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(clf.predict_proba(X, prior="train"), proba, atol=1e-6)
    np.testing.assert_allclose(clf.predict_proba(X, prior="balanced"),
                               softmax(np.log(proba) - np.log(clf.class_prior_)), atol=1e-6)


@pytest.mark.parametrize("params, log_shift", [
    # A dict is a cost the loss trained on: undone for the data's probabilities.
    (dict(class_weight={0: 1.0, 1: 4.0}), lambda prior, weight: np.log(prior / weight)),
    # Balanced batches train for equal frequencies on top of the adjustment.
    (dict(sampling="balanced"), lambda prior, weight: 2 * np.log(prior)),
    # 'balanced' weights replace the adjustment (tau = 0): the weights alone are undone.
    (dict(class_weight="balanced"), lambda prior, weight: -np.log(weight)),
])
def test_prior_train_undoes_fixed_class_weights(binary_data, params, log_shift):
    X, y = binary_data
    clf = ImbalancedNeuralClassifier(**params, **FAST).fit(X, y)
    shift = log_shift(clf.class_prior_, clf.class_weight_)
    np.testing.assert_allclose(clf.predict_proba(X, prior="train"),
                               softmax(np.log(clf.predict_proba(X)) + shift), atol=1e-5)


def test_prior_reaches_the_net_through_a_pipeline(binary_data, default_fit):
    X, y = binary_data
    pipe = make_pipeline(StandardScaler(), ImbalancedNeuralClassifier(**FAST)).fit(X, y)
    direct = pipe[-1].predict_proba(pipe[:-1].transform(X), prior="train")
    np.testing.assert_array_equal(pipe.predict_proba(X, prior="train"), direct)


def test_prior_train_is_calibrated_on_a_real_file(keel):
    X, y = keel("yeast4")  # 51 of 1484 in the minority
    X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
    pipe = make_pipeline(StandardScaler(), ImbalancedNeuralClassifier(random_state=0))
    pipe.fit(X_train, y_train)
    balanced = pipe.predict_proba(X_test)[:, 1]
    calibrated = pipe.predict_proba(X_test, prior="train")[:, 1]
    rate = y_test.mean()
    # The balanced posterior overstates the minority several times over.
    assert balanced.mean() > 2 * rate
    assert abs(calibrated.mean() - rate) < 0.5 * rate
    assert np.mean((calibrated - y_test) ** 2) < np.mean((balanced - y_test) ** 2)


@pytest.mark.parametrize("prior, match", [
    ("data", "prior must be 'train', 'balanced'"),
    ([0.5, 0.3, 0.2], r"one frequency per class \(2"),
    ({0: 0.5}, r"missing \[1\]"),
    ({0: 0.5, 1: 0.3, 7: 0.2}, r"not classes \[7\]"),
    ([0.5, -0.1], "non-negative"),
    ([0.0, 0.0], "positive sum"),
    (["a", "b"], "must hold numbers"),
])
def test_bad_prior_is_named(default_fit, binary_data, prior, match):
    with pytest.raises(ValueError, match=match):
        default_fit.predict_proba(binary_data[0], prior=prior)


def test_prior_needs_the_softmax_and_trained_classes(binary_data):
    X, y = binary_data
    raw = ImbalancedNeuralClassifier(predict_nonlinearity=None, **FAST).fit(X, y)
    with pytest.raises(ValueError, match="predict_nonlinearity='auto'"):
        raw.predict_proba(X, prior="train")
    muted = ImbalancedNeuralClassifier(class_weight={1: 0.0}, **FAST).fit(X, y)
    with pytest.raises(ValueError, match=r"\[1\] a weight of 0"):
        muted.predict_proba(X, prior="train")


@pytest.mark.parametrize("criterion", ["adaptive", "focal", "margin"])
@pytest.mark.parametrize("class_weight", ["balanced", "effective"])
def test_balanced_weights_replace_the_logit_adjustment(binary_data, criterion, class_weight):
    X, y = binary_data
    clf = ImbalancedNeuralClassifier(criterion=criterion, class_weight=class_weight,
                                     max_epochs=1).fit(X, y)
    assert clf.criterion_.logit_shift is None
    costed = ImbalancedNeuralClassifier(criterion=criterion, class_weight={1: 2.0},
                                        max_epochs=1).fit(X, y)
    np.testing.assert_allclose(costed.criterion_.logit_shift.numpy(),
                               np.log(costed.class_prior_), rtol=1e-5)


def test_double_correction_warns_with_the_fix(binary_data):
    X, y = binary_data
    clf = ImbalancedNeuralClassifier(class_weight="balanced", logit_adjustment=1.0,
                                     max_epochs=1)
    with pytest.warns(UserWarning, match="Keep logit_adjustment='auto'"):
        clf.fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for params in (dict(class_weight="balanced"), dict(class_weight={1: 3.0},
                       logit_adjustment=1.0), dict(class_weight="effective",
                       logit_adjustment=0)):
            ImbalancedNeuralClassifier(max_epochs=1, **params).fit(X, y)


def test_balanced_weights_keep_three_classes_balanced():
    # 80 / 15 / 5 %: with the adjustment and 'balanced' weights both, balanced accuracy
    # fell from 0.84 to 0.72 on this split (the minority favoured twice).
    X, y = make_classification(n_samples=3000, n_features=10, n_informative=5,
                               n_classes=3, weights=[0.8, 0.15, 0.05], random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
    scores = {}
    for name, params in {"default": {}, "balanced": dict(class_weight="balanced")}.items():
        clf = ImbalancedNeuralClassifier(random_state=0, **params).fit(X_train, y_train)
        scores[name] = balanced_accuracy_score(y_test, clf.predict(X_test))
    assert scores["balanced"] > scores["default"] - 0.03, scores
