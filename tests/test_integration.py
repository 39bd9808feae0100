"""The estimator inside scikit-learn and imbalanced-learn machinery."""

import numpy as np
import pytest
import sklearn
from imblearn.over_sampling import SMOTE
from imblearn.pipeline import make_pipeline as make_imb_pipeline
from sklearn.calibration import CalibratedClassifierCV
from sklearn.metrics import balanced_accuracy_score, make_scorer
from sklearn.model_selection import (
    FixedThresholdClassifier,
    GridSearchCV,
    StratifiedKFold,
    TunedThresholdClassifierCV,
    cross_validate,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sk_imbaloss import ImbalancedNeuralClassifier

FAST = dict(max_epochs=5, random_state=0)
CV = StratifiedKFold(3, shuffle=True, random_state=0)


def test_sklearn_pipeline(binary_data):
    X, y = binary_data
    model = make_pipeline(StandardScaler(), ImbalancedNeuralClassifier(**FAST)).fit(X, y)
    assert model.predict_proba(X).shape == (len(X), 2)
    assert list(model.classes_) == [0, 1]


def test_imblearn_pipeline_smote_then_net(binary_data):
    X, y = binary_data
    model = make_imb_pipeline(StandardScaler(), SMOTE(random_state=0),
                              ImbalancedNeuralClassifier(criterion="ce", **FAST))
    model.fit(X, y)
    net = model[-1]
    # SMOTE balanced the training set the net saw
    assert net.history[-1, "batches", 0, "train_batch_size"] == 128
    assert sum(net.history[-1, "batches", :, "train_batch_size"]) == 2 * np.bincount(y).max()


def test_grid_search_over_criterion_alpha_gamma_margin_in_parallel(binary_data):
    X, y = binary_data
    grid = [
        {"criterion": ["adaptive"], "alpha": [0.01, 0.1]},
        {"criterion": ["focal"], "gamma": [0.0, 2.0]},
        {"criterion": ["margin"], "margin": [0.6, 0.8]},
        {"criterion": ["ce"], "class_weight": [None, "balanced"]},
    ]
    search = GridSearchCV(ImbalancedNeuralClassifier(**FAST), grid, cv=CV,
                          scoring="balanced_accuracy", n_jobs=2)
    search.fit(X, y)
    assert len(search.cv_results_["params"]) == 8
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_estimator_.criterion == search.best_params_["criterion"]


def test_grid_search_inside_pipeline(binary_data):
    X, y = binary_data
    model = make_pipeline(StandardScaler(), ImbalancedNeuralClassifier(**FAST))
    search = GridSearchCV(model, {"imbalancedneuralclassifier__gamma": [0.5, 2.0],
                                  "imbalancedneuralclassifier__criterion": ["focal"]}, cv=CV)
    search.fit(X, y)
    assert search.best_params_["imbalancedneuralclassifier__criterion"] == "focal"


def test_cross_validate_with_imbalanced_metrics(binary_data):
    X, y = binary_data
    result = cross_validate(ImbalancedNeuralClassifier(**FAST), X, y, cv=CV,
                            scoring=["balanced_accuracy", "roc_auc", "average_precision"])
    assert all(np.isfinite(result["test_roc_auc"]))


def test_tuned_threshold_classifier(binary_data):
    X, y = binary_data
    tuned = TunedThresholdClassifierCV(ImbalancedNeuralClassifier(criterion="ce", **FAST),
                                       scoring="balanced_accuracy", cv=3, random_state=0)
    tuned.fit(X, y)
    assert 0.0 < tuned.best_threshold_ < 1.0
    assert set(tuned.predict(X)) <= {0, 1}


def test_post_hoc_threshold_at_the_prior(binary_data):
    # The README's post-hoc logit adjustment: minority wherever P(minority) > prior.
    X, y = binary_data
    prior = y.mean()
    post_hoc = FixedThresholdClassifier(
        ImbalancedNeuralClassifier(criterion="ce", max_epochs=20, random_state=0),
        threshold=prior, pos_label=1, response_method="predict_proba").fit(X, y)
    proba = post_hoc.estimator_.predict_proba(X)[:, 1]
    np.testing.assert_array_equal(post_hoc.predict(X), (proba >= prior).astype(int))
    assert post_hoc.predict(X).mean() > post_hoc.estimator_.predict(X).mean()


def test_calibrated_classifier(binary_data):
    X, y = binary_data
    calibrated = CalibratedClassifierCV(ImbalancedNeuralClassifier(**FAST), cv=3).fit(X, y)
    proba = calibrated.predict_proba(X)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-6)


def test_sample_weight_through_pipeline_without_routing(binary_data):
    X, y = binary_data
    w = np.where(y == 1, 9.0, 1.0)
    kw = dict(criterion="ce", max_epochs=30, random_state=0)
    plain = make_pipeline(StandardScaler(), ImbalancedNeuralClassifier(**kw)).fit(X, y)
    weighted = make_pipeline(StandardScaler(), ImbalancedNeuralClassifier(**kw))
    weighted.fit(X, y, imbalancedneuralclassifier__sample_weight=w)
    assert weighted.predict(X).mean() > plain.predict(X).mean()


def test_sample_weight_routed_through_grid_search(binary_data):
    X, y = binary_data
    w = np.where(y == 1, 9.0, 1.0)
    with sklearn.config_context(enable_metadata_routing=True):
        net = ImbalancedNeuralClassifier(criterion="ce", **FAST).set_fit_request(
            sample_weight=True).set_score_request(sample_weight=True)
        model = make_pipeline(StandardScaler().set_fit_request(sample_weight=False), net)
        # An explicit scorer that requests the weights routes them the same way on
        # every supported scikit-learn (the default scorer's routing differs between
        # releases).
        scoring = make_scorer(balanced_accuracy_score).set_score_request(sample_weight=True)
        search = GridSearchCV(model, {"imbalancedneuralclassifier__lr": [1e-3, 1e-2]}, cv=CV,
                              scoring=scoring)
        search.fit(X, y, sample_weight=w)
        routed = search.best_estimator_[-1]
        # the weights arrived: refit again without them gives a different model
        again = ImbalancedNeuralClassifier(criterion="ce", **FAST).set_params(
            lr=routed.lr).fit(StandardScaler().fit_transform(X), y)
    assert not np.allclose(routed.predict_proba(search.best_estimator_[0].transform(X)),
                           again.predict_proba(StandardScaler().fit_transform(X)))


def test_routing_request_unset_is_an_error(binary_data):
    X, y = binary_data
    with sklearn.config_context(enable_metadata_routing=True):
        search = GridSearchCV(ImbalancedNeuralClassifier(**FAST), {"lr": [1e-3]}, cv=CV)
        with pytest.raises(Exception, match="sample_weight"):
            search.fit(X, y, sample_weight=np.ones(len(y)))
