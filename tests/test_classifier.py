"""Behaviour of ImbalancedNeuralClassifier: labels, inputs, criteria, seeds, weights."""

import math
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from skorch.callbacks import Callback
from skorch.dataset import Dataset
from skorch.exceptions import NotInitializedError
from torch import nn

from sk_imbaloss import ImbalancedNeuralClassifier, MLP
from sk_imbaloss._batching import ArrayDataset
from sk_imbaloss.losses import AdaptiveCrossEntropy, FocalLoss, MarginCrossEntropy

FAST = dict(max_epochs=5, random_state=0)


def test_zero_configuration_fit(binary_data):
    X, y = binary_data
    clf = ImbalancedNeuralClassifier().fit(X, y)
    assert isinstance(clf.module_, MLP)
    assert clf.module_.layers[0].in_features == X.shape[1]
    assert clf.module_.layers[-1].out_features == 2
    assert clf.n_features_in_ == X.shape[1]
    assert isinstance(clf.criterion_, AdaptiveCrossEntropy)
    # max_epochs='auto': 40 epochs, or enough for 500 steps of 128 rows
    assert len(clf.history) == max(40, math.ceil(500 / math.ceil(len(y) / 128)))
    np.testing.assert_allclose(clf.class_prior_, np.bincount(y) / len(y), rtol=1e-6)
    assert clf.optimizer_.defaults["weight_decay"] == 1e-3


@pytest.mark.parametrize(
    "criterion, cls", [("adaptive", AdaptiveCrossEntropy), ("focal", FocalLoss),
                       ("margin", MarginCrossEntropy), ("ce", FocalLoss)]
)
def test_criterion_by_name_with_top_level_parameters(binary_data, criterion, cls):
    X, y = binary_data
    clf = ImbalancedNeuralClassifier(criterion=criterion, alpha=0.2, gamma=1.5, margin=0.7,
                                     **FAST).fit(X, y)
    assert type(clf.criterion_) is cls
    expected = {"adaptive": ("alpha", 0.2), "focal": ("gamma", 1.5),
                "margin": ("margin", 0.7), "ce": ("gamma", 0.0)}[criterion]
    assert getattr(clf.criterion_, expected[0]) == expected[1]


def test_custom_criterion_class_with_prefixed_parameters(binary_data):
    X, y = binary_data
    clf = ImbalancedNeuralClassifier(criterion=nn.CrossEntropyLoss,
                                     criterion__label_smoothing=0.1, **FAST).fit(X, y)
    assert isinstance(clf.criterion_, nn.CrossEntropyLoss)
    assert clf.criterion_.label_smoothing == 0.1
    assert clf.predict_proba(X).shape == (len(X), 2)


def test_custom_module_class_and_instance(binary_data):
    X, y = binary_data

    class Linear(nn.Module):
        def __init__(self, width=8):
            super().__init__()
            self.out = nn.Linear(width, 2)

        def forward(self, X):
            return self.out(X)

    by_class = ImbalancedNeuralClassifier(Linear, module__width=8, **FAST).fit(X, y)
    assert isinstance(by_class.module_, Linear)
    instance = Linear()
    by_instance = ImbalancedNeuralClassifier(instance, **FAST).fit(X, y)
    assert by_instance.module_ is instance


def test_hidden_units_and_dropout_shape_the_default_mlp(binary_data):
    X, y = binary_data
    clf = ImbalancedNeuralClassifier(hidden_units=(16,), dropout=0.0, **FAST).fit(X, y)
    linear = [m for m in clf.module_.modules() if isinstance(m, nn.Linear)]
    assert [m.out_features for m in linear] == [16, 2]
    assert not any(isinstance(m, nn.Dropout) for m in clf.module_.modules())


@pytest.mark.parametrize(
    "labels",
    [np.array(["cat", "dog"]), np.array([False, True]), np.array([-7, 42]),
     np.array([0.0, 1.0])],
    ids=["strings", "bools", "non-contiguous-ints", "float-ints"],
)
def test_any_label_type(binary_data, labels):
    X, y01 = binary_data
    y = labels[y01]
    clf = ImbalancedNeuralClassifier(**FAST).fit(X, y)
    assert np.array_equal(clf.classes_, np.sort(labels))
    pred = clf.predict(X)
    assert pred.dtype == y.dtype and set(pred) <= set(labels)
    proba = clf.predict_proba(X)
    assert np.array_equal(clf.classes_[proba.argmax(1)], pred)


def test_multiclass_string_labels_and_softmax_columns(multiclass_data):
    X, y = multiclass_data
    names = np.array(["zebra", "ant", "moose"])[y]
    clf = ImbalancedNeuralClassifier(**FAST).fit(X, names)
    assert list(clf.classes_) == ["ant", "moose", "zebra"]
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-5)
    logits = clf.forward(X.astype(np.float32))
    np.testing.assert_allclose(proba, torch.softmax(logits, 1).numpy(), rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int64])
def test_numeric_dtypes(binary_data, dtype):
    X, y = binary_data
    clf = ImbalancedNeuralClassifier(**FAST).fit(X.astype(dtype), y)
    assert clf.predict(X.astype(dtype)).shape == y.shape


@pytest.mark.filterwarnings("ignore:X does not have valid feature names")
def test_pandas_input_records_feature_names(binary_data):
    X, y = binary_data
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    clf = ImbalancedNeuralClassifier(**FAST).fit(frame, pd.Series(y))
    assert list(clf.feature_names_in_) == list(frame.columns)
    np.testing.assert_array_equal(clf.predict(frame), clf.predict(X))


def test_same_random_state_gives_identical_probabilities(binary_data):
    X, y = binary_data
    a = ImbalancedNeuralClassifier(random_state=3, max_epochs=8).fit(X, y).predict_proba(X)
    b = ImbalancedNeuralClassifier(random_state=3, max_epochs=8).fit(X, y).predict_proba(X)
    c = ImbalancedNeuralClassifier(random_state=4, max_epochs=8).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_random_state_leaves_the_global_torch_rng_alone(binary_data):
    X, y = binary_data
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    ImbalancedNeuralClassifier(**FAST).fit(X, y)
    torch.testing.assert_close(torch.rand(3), expected)


def _spy_module(n_features, seen, rows):
    """A linear module that records the first ``rows`` inputs of every training batch."""

    class Spy(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(n_features, 2)

        def forward(self, X):
            if self.training:
                seen.append(X[:rows].clone())
            return self.lin(X)

    return Spy


def test_batches_are_reshuffled_every_epoch(binary_data):
    X, y = binary_data
    order = np.argsort(y, kind="stable")  # stored sorted by class, like some KEEL files
    seen = []
    ImbalancedNeuralClassifier(_spy_module(X.shape[1], seen, 4), max_epochs=2, batch_size=64,
                               random_state=0).fit(X[order], y[order])
    first_epoch, second_epoch = seen[0], seen[len(seen) // 2]
    assert not torch.equal(first_epoch, torch.from_numpy(X[order][:4]))
    assert not torch.equal(first_epoch, second_epoch)


def test_shuffle_false_keeps_order(binary_data):
    X, y = binary_data
    seen = []
    ImbalancedNeuralClassifier(_spy_module(X.shape[1], seen, 2), max_epochs=1, shuffle=False,
                               random_state=0).fit(X, y)
    torch.testing.assert_close(seen[0], torch.from_numpy(X[:2]))


def test_sample_weight_ones_equals_no_weights(binary_data):
    X, y = binary_data
    a = ImbalancedNeuralClassifier(**FAST).fit(X, y).predict_proba(X)
    b = ImbalancedNeuralClassifier(**FAST).fit(X, y, sample_weight=np.ones(len(y))).predict_proba(X)
    np.testing.assert_array_equal(a, b)


def test_sample_weight_scales_each_sample_loss(binary_data):
    X, y = binary_data
    clf = ImbalancedNeuralClassifier(criterion="ce", **FAST).fit(X, y)
    Xt = torch.from_numpy(X[:5])
    logits = clf.module_(Xt)
    target = torch.from_numpy(y[:5])
    w = torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0])
    clf.criterion_.train()
    got = clf.get_loss(logits, target, X={"X": Xt, "sample_weight": w})
    expected = (torch.nn.functional.cross_entropy(logits, target, reduction="none") * w).mean()
    torch.testing.assert_close(got, expected)


def test_sample_weight_shifts_the_decision(binary_data):
    X, y = binary_data
    kw = dict(criterion="ce", max_epochs=30, random_state=0)
    plain = ImbalancedNeuralClassifier(**kw).fit(X, y)
    weighted = ImbalancedNeuralClassifier(**kw).fit(X, y, sample_weight=np.where(y == 1, 9.0, 1.0))
    assert weighted.predict(X).mean() > plain.predict(X).mean()


def test_class_weight_balanced_and_dict(binary_data):
    X, y = binary_data
    labels = np.array(["maj", "min"])[y]
    clf = ImbalancedNeuralClassifier(criterion="ce", class_weight="balanced", **FAST).fit(X, labels)
    n, counts = len(y), np.bincount(y)
    np.testing.assert_allclose(clf.class_weight_, n / (2 * counts), rtol=1e-6)
    torch.testing.assert_close(clf.criterion_.weight, torch.tensor(n / (2 * counts), dtype=torch.float32))
    by_dict = ImbalancedNeuralClassifier(criterion="focal", class_weight={"min": 5.0}, **FAST)
    np.testing.assert_allclose(by_dict.fit(X, labels).class_weight_, [1.0, 5.0])


def test_adaptive_importance_not_updated_by_prediction(binary_data):
    X, y = binary_data
    clf = ImbalancedNeuralClassifier(alpha=0.5, **FAST).fit(X, y)
    before = clf.importance_
    clf.predict_proba(X)
    clf.score(X, y)
    np.testing.assert_array_equal(clf.importance_, before)


def test_partial_fit_continues_training(binary_data):
    X, y = binary_data
    clf = ImbalancedNeuralClassifier(max_epochs=2, random_state=0)
    clf.partial_fit(X, y)
    weights = clf.module_.layers[0].weight.detach().clone()
    clf.partial_fit(X, y)
    assert len(clf.history) == 4
    assert not torch.equal(weights, clf.module_.layers[0].weight)


def test_partial_fit_with_classes_and_unseen_label(binary_data):
    X, y = binary_data
    clf = ImbalancedNeuralClassifier(max_epochs=1, random_state=0)
    clf.partial_fit(X[y == 0], y[y == 0], classes=[0, 1])
    assert list(clf.classes_) == [0, 1]
    clf.partial_fit(X, y)
    with pytest.raises(ValueError, match="not seen"):
        clf.partial_fit(X[:3], np.array([0, 1, 7]))


def test_warm_start_keeps_weights(binary_data):
    X, y = binary_data
    clf = ImbalancedNeuralClassifier(warm_start=True, max_epochs=2, random_state=0).fit(X, y)
    module = clf.module_
    clf.fit(X, y)
    assert clf.module_ is module and len(clf.history) == 4


def test_set_params_on_a_fitted_net_rebuilds_the_criterion_or_optimizer(binary_data):
    X, y = binary_data
    clf = ImbalancedNeuralClassifier(warm_start=True, **FAST).fit(X, y)
    assert clf.criterion_.logit_shift is not None
    clf.set_params(logit_adjustment=0, alpha=0.5)
    assert clf.criterion_.logit_shift is None and clf.criterion_.alpha == 0.5
    clf.set_params(weight_decay=0.25)
    assert clf.optimizer_.defaults["weight_decay"] == 0.25
    clf.fit(X, y)  # warm start: continues with the new settings
    assert clf.criterion_.logit_shift is None
    assert clf.optimizer_.defaults["weight_decay"] == 0.25


def test_clone_get_set_params_and_pickle(binary_data):
    X, y = binary_data
    clf = ImbalancedNeuralClassifier(criterion="focal", gamma=1.0, optimizer__weight_decay=1e-4,
                                     **FAST)
    params = clf.get_params()
    assert params["gamma"] == 1.0 and params["optimizer__weight_decay"] == 1e-4
    assert "_params_to_validate" not in params
    cloned = clone(clf).set_params(gamma=3.0)
    assert cloned.gamma == 3.0 and clf.gamma == 1.0
    clf.fit(X, y)
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict_proba(X), clf.predict_proba(X))
    assert restored.optimizer_.param_groups[0]["weight_decay"] == 1e-4


def test_lbfgs_goes_through_the_closure(binary_data):
    X, y = binary_data
    clf = ImbalancedNeuralClassifier(optimizer=torch.optim.LBFGS, lr=1.0,
                                     optimizer__line_search_fn="strong_wolfe", batch_size=-1,
                                     weight_decay=0, max_epochs=3, random_state=0).fit(X, y)
    assert np.isfinite(clf.history[:, "train_loss"]).all()
    assert clf.history[-1, "train_loss"] < clf.history[0, "train_loss"]


def test_weight_decay_needs_an_optimizer_that_has_one(binary_data):
    X, y = binary_data
    clf = ImbalancedNeuralClassifier(optimizer=torch.optim.LBFGS, **FAST)
    with pytest.raises(ValueError, match="LBFGS has no weight_decay parameter"):
        clf.fit(X, y)
    from functools import partial

    lbfgs = ImbalancedNeuralClassifier(optimizer=partial(torch.optim.LBFGS, history_size=5),
                                       **FAST)
    with pytest.raises(ValueError, match="has no weight_decay parameter"):
        lbfgs.fit(X, y)
    sgd = ImbalancedNeuralClassifier(optimizer=torch.optim.SGD, weight_decay=0.01, **FAST)
    assert sgd.fit(X, y).optimizer_.defaults["weight_decay"] == 0.01
    # the skorch way wins over the top-level parameter
    own = ImbalancedNeuralClassifier(optimizer__weight_decay=0.5, **FAST).fit(X, y)
    assert own.optimizer_.defaults["weight_decay"] == 0.5


@pytest.mark.parametrize("batch_size, n_rows, epochs", [(128, 200, 250), (-1, 200, 500),
                                                        (50, 200, 125), (128, 20000, 40)])
def test_auto_epochs_make_at_least_500_steps(batch_size, n_rows, epochs):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n_rows, 3)).astype(np.float32)
    y = (X[:, 0] > 1).astype(int)
    clf = ImbalancedNeuralClassifier(batch_size=batch_size, hidden_units=(4,), random_state=0)
    clf.fit(X, y)
    assert clf.max_epochs_ == len(clf.history) == epochs
    # a partial_fit chunk is not the training set: 'auto' is 40 epochs per call
    clf.partial_fit(X[:200], y[:200])
    assert clf.max_epochs_ == 40 and len(clf.history) == epochs + 40


@pytest.mark.parametrize(
    "criterion, setting, tau",
    [("adaptive", "auto", 1.0), ("focal", "auto", 1.0), ("margin", "auto", 1.0),
     ("ce", "auto", 0.0), ("ce", 1.0, 1.0), ("adaptive", 0, 0.0), ("focal", 2.5, 2.5),
     ("focal", 0, 0.0), ("margin", 0, 0.0), ("adaptive-seed", "auto", 0.0)],
)
def test_logit_adjustment_by_criterion(binary_data, criterion, setting, tau):
    X, y = binary_data
    clf = ImbalancedNeuralClassifier(criterion=criterion, logit_adjustment=setting,
                                     **FAST).fit(X, y)
    shift = clf.criterion_.logit_shift
    if tau == 0:
        assert shift is None
    else:
        np.testing.assert_allclose(shift.numpy(), tau * np.log(np.bincount(y) / len(y)),
                                   rtol=1e-5)


def test_class_weight_dict_is_a_cost_on_top_of_the_raw_class_prior(binary_data):
    X, y = binary_data
    frequencies = np.bincount(y) / len(y)
    clf = ImbalancedNeuralClassifier(class_weight={1: 3.0}, **FAST).fit(X, y)
    np.testing.assert_allclose(clf.class_prior_, frequencies, rtol=1e-5)
    np.testing.assert_allclose(clf.criterion_.logit_shift.numpy(), np.log(frequencies),
                               rtol=1e-5)


def test_sample_weight_counts_like_repeated_rows(binary_data):
    # Integer sample weights stand for repeated rows (scikit-learn's convention): the
    # prior and the 'balanced' weights are those of the data with the rows repeated.
    X, y = binary_data
    weight = 1 + 3 * y
    repeated = np.repeat(np.arange(len(y)), weight)
    params = dict(class_weight="balanced", **FAST)
    weighted = ImbalancedNeuralClassifier(**params).fit(X, y, sample_weight=weight)
    copies = ImbalancedNeuralClassifier(**params).fit(X[repeated], y[repeated])
    np.testing.assert_allclose(weighted.class_prior_, copies.class_prior_, rtol=1e-6)
    np.testing.assert_allclose(weighted.class_weight_, copies.class_weight_, rtol=1e-6)
    np.testing.assert_allclose(weighted.class_counts_, np.bincount(y, weights=weight))
    assert not np.allclose(weighted.class_prior_, np.bincount(y) / len(y))


def test_partial_fit_prior_follows_all_the_data_seen(multiclass_data):
    X, y = multiclass_data
    clf = ImbalancedNeuralClassifier(max_epochs=2, random_state=0)
    first = np.flatnonzero(y != 2)[:60]
    clf.partial_fit(X[first], y[first], classes=np.unique(y))
    counts = np.bincount(y[first], minlength=3).astype(float)
    counts[2] = counts[counts > 0].min()  # not seen yet: as rare as the rarest seen class
    np.testing.assert_allclose(clf.class_prior_, counts / counts.sum(), rtol=1e-5)
    for chunk in np.array_split(np.arange(len(y)), 3):
        clf.partial_fit(X[chunk], y[chunk])
    seen = np.bincount(np.concatenate([y[first], y]), minlength=3)
    np.testing.assert_allclose(clf.class_prior_, seen / seen.sum(), rtol=1e-5)
    np.testing.assert_allclose(clf.criterion_.logit_shift.numpy(),
                               np.log(seen / seen.sum()), rtol=1e-5)


def test_adaptive_seed_is_the_original_rule(binary_data):
    # criterion='adaptive-seed' trains exactly with the write-up's rule
    X, y = binary_data
    seed = ImbalancedNeuralClassifier(criterion="adaptive-seed", **FAST).fit(X, y)
    assert seed.criterion_.logit_shift is None and seed.criterion_.offset == 0
    own = ImbalancedNeuralClassifier(criterion=AdaptiveCrossEntropy, criterion__num_classes=2,
                                     criterion__offset=0.0, criterion__reduction="none",
                                     **FAST).fit(X, y)
    np.testing.assert_array_equal(seed.predict_proba(X), own.predict_proba(X))
    np.testing.assert_array_equal(seed.importance_, own.criterion_.importance.numpy())
    default = ImbalancedNeuralClassifier(**FAST).fit(X, y)
    assert default.criterion_.offset == 1.0
    assert not np.array_equal(default.predict_proba(X), seed.predict_proba(X))


def test_torch_dataset_input_falls_back_to_skorch(binary_data):
    X, y = binary_data
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y))

    class Linear(nn.Module):
        def __init__(self):
            super().__init__()
            self.out = nn.Linear(X.shape[1], 2)

        def forward(self, X):
            return self.out(X)

    clf = ImbalancedNeuralClassifier(Linear, iterator_train__batch_size=32, **FAST)
    clf.fit(dataset, y)
    assert clf.predict(X).shape == y.shape
    np.testing.assert_allclose(clf.class_prior_, np.bincount(y) / len(y), rtol=1e-6)
    assert clf.criterion_.logit_shift is not None
    # Without y, the frequencies of the targets skorch reads from the Dataset.
    clf = ImbalancedNeuralClassifier(Linear, **FAST).fit(Dataset(X, y), None)
    np.testing.assert_allclose(clf.class_prior_, np.bincount(y) / len(y), rtol=1e-6)
    # Without readable targets they are unknown: a clear error, not a silent no-op.
    with pytest.raises(ValueError, match="need the class frequencies: pass y"):
        ImbalancedNeuralClassifier(Linear, classes=[0, 1], **FAST).fit(Dataset(X, None), None)


def test_torch_dataset_fit_is_seeded_and_leaves_the_global_rng(binary_data):
    X, y = binary_data
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    params = dict(module=MLP, module__n_features=X.shape[1], module__n_classes=2, **FAST)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    first = ImbalancedNeuralClassifier(**params).fit(dataset, y).predict_proba(X)
    np.testing.assert_array_equal(torch.rand(3), expected)  # global RNG as it was
    second = ImbalancedNeuralClassifier(**params).fit(dataset, y).predict_proba(X)
    np.testing.assert_array_equal(first, second)


def test_warm_started_fit_reweighs_balanced_on_all_rows(binary_data):
    # 'balanced' follows the counts of all rows trained on, like the prior; in place,
    # so the adaptive importance carries on.
    X, y = binary_data
    clf = ImbalancedNeuralClassifier(class_weight="balanced", warm_start=True, **FAST)
    clf.fit(X, y)
    importance = clf.criterion_.importance
    flipped = 1 - y
    clf.fit(X, flipped)
    counts = np.bincount(y) + np.bincount(flipped)
    expected = counts.sum() / (2 * counts)
    np.testing.assert_allclose(clf.class_weight_, expected, rtol=1e-6)
    np.testing.assert_allclose(clf.criterion_.weight.numpy(), expected, rtol=1e-6)
    assert clf.criterion_.importance is importance


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_warm_dataset_fits_update_the_prior(binary_data, method):
    # As with arrays: the counts of a torch Dataset's y add up, and the shift follows.
    X, y = binary_data
    params = dict(module=MLP, module__n_features=X.shape[1], module__n_classes=2,
                  classes=[0, 1], warm_start=True, **FAST)
    clf = ImbalancedNeuralClassifier(**params)
    few = np.r_[np.flatnonzero(y == 0), np.flatnonzero(y == 1)[:5]]
    for call, rows in (("fit", np.arange(len(y))), (method, few)):
        data = torch.utils.data.TensorDataset(torch.from_numpy(X[rows]),
                                              torch.from_numpy(y[rows]))
        getattr(clf, call)(data, y[rows])
    counts = np.bincount(y) + np.bincount(y[few])
    np.testing.assert_allclose(clf.class_counts_, counts)
    np.testing.assert_allclose(clf.criterion_.logit_shift.numpy(),
                               np.log(counts / counts.sum()), rtol=1e-5)


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_warm_dataset_fit_without_a_class_keeps_the_classes(method):
    # skorch re-infers the classes from each call's y; a warm start keeps them.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4)).astype(np.float32)
    y = np.arange(300) % 3
    clf = ImbalancedNeuralClassifier(module=MLP, module__n_features=4, module__n_classes=3,
                                     warm_start=True, **FAST)
    clf.fit(torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y)), y)
    rows = y != 0
    part = torch.utils.data.TensorDataset(torch.from_numpy(X[rows]), torch.from_numpy(y[rows]))
    getattr(clf, method)(part, y[rows])
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    np.testing.assert_array_equal(clf.class_counts_, [100, 200, 200])


def test_dataset_targets_index_the_given_classes():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 4)).astype(np.float32)
    y = np.arange(90) % 3
    X[:, 0] += 3 * y
    data = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    clf = ImbalancedNeuralClassifier(module=MLP, module__n_features=4, module__n_classes=3,
                                     classes=["a", "b", "c"], max_epochs=30, random_state=0)
    clf.fit(data, y)
    np.testing.assert_array_equal(clf.classes_, ["a", "b", "c"])
    assert (clf.predict(data) == np.array(["a", "b", "c"])[y]).mean() > 0.6  # chance 1/3
    with pytest.raises(ValueError, match=r"positions 0\.\.2 in the classes"):
        clf.set_params(warm_start=True).fit(data, y + 1)


def _three_class_dataset(rows=slice(None)):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4)).astype(np.float32)
    y = np.arange(300) % 3
    return torch.utils.data.TensorDataset(torch.from_numpy(X[rows]),
                                          torch.from_numpy(y[rows])), y[rows]


THREE = dict(module=MLP, module__n_features=4, module__n_classes=3, **FAST)


@pytest.mark.parametrize("call", ["partial_fit", "warm fit"])
def test_dataset_after_initialize_without_classes(call):
    # skorch infers the classes of a net initialized without data from the first y.
    data, y = _three_class_dataset()
    clf = ImbalancedNeuralClassifier(criterion=nn.CrossEntropyLoss, warm_start=True, **THREE)
    clf.initialize()
    clf.partial_fit(data, y) if call == "partial_fit" else clf.fit(data, y)
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])


@pytest.mark.parametrize("call", ["partial_fit", "partial_fit with classes", "warm fit"])
def test_arrays_after_initialize_without_classes(call):
    # As in skorch: the first data names the classes of a net initialized without them.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 4)).astype(np.float32)
    y = np.array(["a", "b", "c"])[np.arange(90) % 3]
    clf = ImbalancedNeuralClassifier(criterion=nn.CrossEntropyLoss, warm_start=True, **THREE)
    clf.initialize()
    if call == "warm fit":
        clf.fit(X, y)
    else:
        clf.partial_fit(X, y, **({"classes": ["a", "b", "c"]} if "classes" in call else {}))
    np.testing.assert_array_equal(clf.classes_, ["a", "b", "c"])
    assert set(clf.predict(X)) <= {"a", "b", "c"}


def test_dataset_without_readable_targets_needs_y_or_classes():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 4)).astype(np.float32)
    y = np.arange(90) % 3

    class Opaque(torch.utils.data.Dataset):  # skorch cannot read its targets
        def __len__(self):
            return len(X)

        def __getitem__(self, i):
            return X[i], y[i]

    clf = ImbalancedNeuralClassifier(criterion=nn.CrossEntropyLoss, **THREE).fit(X, y + 5)
    with pytest.raises(ValueError, match="classes of this Dataset are unknown"):
        clf.fit(Opaque(), None)  # before: the last fit's classes [5, 6, 7], unread


def test_a_rejected_dataset_fit_keeps_the_fitted_classes():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 4)).astype(np.float32)
    y = np.arange(90) % 3
    clf = ImbalancedNeuralClassifier(**THREE).fit(X, np.array(["a", "b", "c"])[y])
    data = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y + 5))
    with pytest.raises(ValueError, match=r"hold the classes \[5, 6, 7\]"):
        clf.fit(data, None)
    np.testing.assert_array_equal(clf.classes_, ["a", "b", "c"])
    from skorch.dataset import Dataset

    with pytest.raises(ValueError, match="classes of this Dataset are unknown"):
        ImbalancedNeuralClassifier(**THREE).fit(Dataset(X, None), None)


def test_features_are_learnt_after_initialize_with_classes():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(90, 4)).astype(np.float32), columns=list("abcd"))
    clf = ImbalancedNeuralClassifier(classes=[0, 1, 2], **THREE).initialize()
    clf.partial_fit(X, np.arange(90) % 3)
    assert clf.n_features_in_ == 4
    assert list(clf.feature_names_in_) == list("abcd")


def test_dataset_partial_fit_takes_classes():
    data, y = _three_class_dataset(np.arange(300) % 3 != 2)
    clf = ImbalancedNeuralClassifier(**THREE).partial_fit(data, y, classes=[0, 1, 2])
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    np.testing.assert_array_equal(clf.class_counts_, [100, 100, 0])
    assert clf.predict_proba(data).shape == (200, 3)


@pytest.mark.parametrize("params, rows, match", [
    (dict(classes=["c", "a", "b"]), slice(None), "sorted and unique"),
    (dict(classes=["a", "b"]), slice(None), r"positions 0\.\.1"),
    ({}, np.arange(300) % 3 != 0, r"hold the classes \[1, 2\]"),
])
def test_dataset_targets_must_be_positions(params, rows, match):
    data, y = _three_class_dataset(rows)
    with pytest.raises(ValueError, match=match):
        ImbalancedNeuralClassifier(**params, **THREE).fit(data, y)


def test_a_bad_set_params_raises_before_changing_anything(binary_data):
    X, y = binary_data
    clf = ImbalancedNeuralClassifier(hidden_units=(16,), optimizer=torch.optim.Rprop,
                                     weight_decay=0, **FAST).fit(X, y)
    module, optimizer, proba = clf.module_, clf.optimizer_, clf.predict_proba(X)
    for bad, match in [(dict(hidden_units=(8,), weight_decay=0.1), "Rprop has no weight_decay"),
                       (dict(gamma=-1.0), "'gamma' parameter"),
                       (dict(class_weight={7: 2.0}), "keys that are not classes")]:
        with pytest.raises(ValueError, match=match):
            clf.set_params(**bad)
        assert clf.module_ is module and clf.optimizer_ is optimizer
        assert clf.weight_decay == 0 and clf.gamma == 2.0 and clf.class_weight is None
        np.testing.assert_array_equal(clf.predict_proba(X), proba)
    clf.set_params(hidden_units=(8,))
    assert clf.module_.layers[0].out_features == 8
    assert clf.optimizer_.param_groups[0]["params"][0] is clf.module_.layers[0].weight


def test_dataset_fit_resolves_auto_epochs_like_arrays(binary_data):
    X, y = binary_data
    params = dict(module=MLP, module__n_features=X.shape[1], module__n_classes=2,
                  random_state=0)
    data = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    from_dataset = ImbalancedNeuralClassifier(**params).fit(data, y)
    from_arrays = ImbalancedNeuralClassifier(**params).fit(X, y)
    assert len(from_dataset.history) == len(from_arrays.history) > 40


def test_warm_started_fits_draw_new_shuffles(binary_data):
    X, y = binary_data
    orders = []

    class Record(Callback):
        def on_batch_begin(self, net, batch=None, training=False, **kwargs):
            if training:
                orders[-1].append(batch[1].clone())

    clf = ImbalancedNeuralClassifier(warm_start=True, max_epochs=1, batch_size=16,
                                     random_state=0, callbacks=[("record", Record())])
    for _ in range(3):
        orders.append([])
        clf.fit(X, y)
    assert not torch.equal(torch.cat(orders[1]), torch.cat(orders[2]))


def test_a_rejected_dataset_refit_keeps_the_class_statistics():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 4)).astype(np.float32)
    y = np.arange(90) % 3
    data = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    clf = ImbalancedNeuralClassifier(class_weight={0: 1, 1: 1, 2: 2}, **THREE).fit(data, y)
    counts, shift = clf.class_counts_.copy(), clf.criterion_.logit_shift.clone()
    two = y != 2
    with pytest.raises(ValueError, match="not classes"):  # no class 2 in this fit
        clf.fit(torch.utils.data.TensorDataset(torch.from_numpy(X[two]),
                                               torch.from_numpy(y[two])), y[two])
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])
    np.testing.assert_array_equal(clf.class_counts_, counts)
    assert torch.equal(clf.criterion_.logit_shift, shift)
    clf.partial_fit(data, y)  # still whole
    np.testing.assert_array_equal(clf.class_counts_, counts * 2)


def test_refits_with_a_criterion_that_is_not_a_module(binary_data):
    import torch.nn.functional as F

    class PlainLoss:  # skorch takes any callable class
        def __call__(self, logits, target):
            return F.cross_entropy(logits, target, reduction="none")

    X, y = binary_data
    clf = ImbalancedNeuralClassifier(module=MLP, module__n_features=X.shape[1],
                                     module__n_classes=2, criterion=PlainLoss, **FAST)
    clf.fit(X, y).partial_fit(X, y)
    clf.fit(X, y)
    assert clf.predict(X).shape == y.shape


@pytest.mark.filterwarnings("ignore:class_weight='balanced' and logit_adjustment")
def test_a_rejected_fit_keeps_the_prior_shift_and_counts(binary_data):
    X, y = binary_data
    three = np.arange(len(y)) % 3
    clf = ImbalancedNeuralClassifier(module=MLP, module__n_features=X.shape[1],
                                     module__n_classes=3, classes=[0, 1, 2],
                                     class_weight="balanced", logit_adjustment=1.0,
                                     warm_start=True, **FAST)
    clf.initialize()
    shift = clf.criterion_.logit_shift.clone()  # uniform, before any data
    with pytest.raises(ValueError, match="needs rows of every class"):
        clf.fit(X[three != 2], three[three != 2])
    assert torch.equal(clf.criterion_.logit_shift, shift)
    # Early stopping's split is checked before the counts change.
    fitted = ImbalancedNeuralClassifier(early_stopping=True, **FAST).fit(X, y)
    counts = fitted.class_counts_.copy()
    with pytest.raises(ValueError, match="at least 2 samples of every class"):
        fitted.partial_fit(X[: len(y) // 2], np.r_[[0] * (len(y) // 2 - 1), [1]])
    np.testing.assert_array_equal(fitted.class_counts_, counts)
    fitted.set_params(early_stopping=False, device="cuda:99")  # no such device here
    with pytest.raises(ValueError, match="cuda:99"):
        fitted.partial_fit(X, y)
    np.testing.assert_array_equal(fitted.class_counts_, counts)


def test_set_params_rebuilds_what_it_configures(binary_data):
    X, y = binary_data
    clf = ImbalancedNeuralClassifier(criterion="ce", **FAST).fit(X, y)
    clf.set_params(class_weight={0: 1.0, 1: 5.0})
    np.testing.assert_array_equal(clf.class_weight_, [1.0, 5.0])
    np.testing.assert_array_equal(clf.criterion_.weight.numpy(), [1.0, 5.0])
    clf.set_params(hidden_units=(3,), dropout=0.0)
    assert [layer.out_features for layer in clf.module_.layers if hasattr(layer, "out_features")] == [3, 2]
    assert clf.optimizer_.param_groups[0]["params"][0] is next(clf.module_.parameters())
    clf.partial_fit(X, y)  # trains the new module with the new weights
    assert clf.module_.layers[0].out_features == 3
    clf.set_params(early_stopping=True)
    assert "early_stopping" in dict(clf.callbacks_)


def test_initialize_without_data_given_a_module_and_classes(binary_data):
    X, y = binary_data
    params = dict(module=MLP, module__n_features=X.shape[1], module__n_classes=2,
                  classes=[0, 1], **FAST)
    trained = ImbalancedNeuralClassifier(**params).fit(X, y)
    fresh = ImbalancedNeuralClassifier(**params).initialize()
    np.testing.assert_array_equal(fresh.classes_, [0, 1])
    fresh.module_.load_state_dict(trained.module_.state_dict())
    np.testing.assert_allclose(fresh.predict_proba(X), trained.predict_proba(X), rtol=1e-6)
    # The uniform prior of a net built without data is replaced by the data's.
    fresh.partial_fit(X, y)
    np.testing.assert_allclose(fresh.criterion_.logit_shift.numpy(),
                               np.log(np.bincount(y) / len(y)), rtol=1e-5)


def test_class_weight_of_a_net_initialized_without_data(binary_data):
    X, y = binary_data
    params = dict(module=MLP, module__n_features=X.shape[1], module__n_classes=2,
                  classes=[0, 1], criterion="focal", **FAST)
    fresh = ImbalancedNeuralClassifier(class_weight={0: 1.0, 1: 5.0}, **params).initialize()
    np.testing.assert_array_equal(fresh.criterion_.weight.numpy(), [1.0, 5.0])
    trained = ImbalancedNeuralClassifier(class_weight={0: 1.0, 1: 5.0}, **params).fit(X, y)
    fresh.criterion_.load_state_dict(trained.criterion_.state_dict())  # same buffers
    fresh.partial_fit(X, y)
    np.testing.assert_array_equal(fresh.class_weight_, [1.0, 5.0])
    # 'balanced' cannot be weighed before data: the first warm-started fit does it.
    balanced = ImbalancedNeuralClassifier(class_weight="balanced", warm_start=True, **params)
    balanced.initialize().fit(X, y)
    counts = np.bincount(y)
    np.testing.assert_allclose(balanced.criterion_.weight.numpy(),
                               len(y) / (2 * counts), rtol=1e-6)


def test_real_keel_file_learns_the_minority(keel):
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = keel("ecoli1")  # stored sorted by class: shuffling matters here
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    for params, floor in [(dict(criterion="ce", class_weight="balanced"), 0.85),
                          (dict(criterion="adaptive"), 0.8)]:
        model = make_pipeline(StandardScaler(), ImbalancedNeuralClassifier(random_state=0, **params))
        scores = cross_val_score(model, X, y, cv=cv, scoring="balanced_accuracy")
        assert scores.mean() > floor, (params, scores)


def test_iterator_options_fall_back_to_a_dataloader_with_weights(binary_data):
    X, y = binary_data
    clf = ImbalancedNeuralClassifier(iterator_train__drop_last=True, batch_size=64, **FAST)
    clf.fit(X, y, sample_weight=np.where(y == 1, 3.0, 1.0))
    sizes = clf.history[-1, "batches", :, "train_batch_size"]
    assert sizes == [64] * (len(X) // 64)  # drop_last honoured: skorch's DataLoader ran
    assert clf.predict(X).shape == y.shape


def test_classes_parameter_fixes_the_label_set(binary_data):
    X, y = binary_data
    clf = ImbalancedNeuralClassifier(classes=[0, 1, 2], **FAST).fit(X, y)
    assert list(clf.classes_) == [0, 1, 2]
    assert clf.predict_proba(X).shape == (len(X), 3)
    with pytest.raises(ValueError, match="not seen"):
        ImbalancedNeuralClassifier(classes=[0, 2], **FAST).fit(X, y)


# ---------------------------------------------------------------- review fixes


@pytest.mark.parametrize("criterion", ["adaptive", "adaptive-seed"])
def test_rows_of_weight_zero_do_not_move_the_importance(binary_data, criterion):
    # One full batch: the importance moves once, on the first predictions, which the
    # extra rows of weight 0 must not change.
    X, y = binary_data
    rng = np.random.RandomState(1)
    X_extra, y_extra = rng.randn(300, X.shape[1]).astype(np.float32), 1 - y
    settings = dict(criterion=criterion, alpha=0.5, batch_size=-1, max_epochs=1,
                    random_state=0, shuffle=False, dropout=0.0)  # no masks drawn per row
    alone = ImbalancedNeuralClassifier(**settings).fit(X, y)
    padded = ImbalancedNeuralClassifier(**settings).fit(
        np.vstack([X, X_extra]), np.r_[y, y_extra],
        sample_weight=np.r_[np.ones(len(y)), np.zeros(len(y))])
    np.testing.assert_allclose(padded.importance_, alone.importance_, rtol=1e-6)


def test_dataframe_column_of_numbers_in_object_dtype_is_accepted(binary_data):
    X, y = binary_data
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    mixed = frame.astype({"f0": object})
    a = ImbalancedNeuralClassifier(**FAST).fit(frame, y).predict_proba(frame)
    b = ImbalancedNeuralClassifier(**FAST).fit(mixed, y).predict_proba(mixed)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"non-numeric columns \['f0'\]"):
        ImbalancedNeuralClassifier(**FAST).fit(frame.assign(f0="a"), y)


def test_set_params_lr_and_tensors_reach_the_optimizer_and_criterion(binary_data):
    from skorch.callbacks import LRScheduler
    from torch.optim.lr_scheduler import StepLR

    X, y = binary_data
    clf = ImbalancedNeuralClassifier(max_epochs=3, random_state=0, lr=0.1, callbacks=[
        ("s", LRScheduler(StepLR, step_size=1, gamma=0.1))]).fit(X, y)
    assert clf.optimizer_.param_groups[0]["lr"] == pytest.approx(1e-4)
    clf.set_params(lr=0.1)  # the stored value, but the optimizer's has decayed
    assert clf.optimizer_.param_groups[0]["lr"] == pytest.approx(0.1)
    clf = ImbalancedNeuralClassifier(criterion=nn.CrossEntropyLoss, max_epochs=2,
                                     criterion__weight=torch.tensor([1.0, 5.0])).fit(X, y)
    clf.set_params(criterion__weight=torch.tensor([1.0, 2.0]))
    torch.testing.assert_close(clf.criterion_.weight, torch.tensor([1.0, 2.0]))


def test_a_failed_module_rebuild_fails_again_and_leaves_the_net(binary_data):
    class Net(nn.Module):
        def __init__(self, width=8):
            super().__init__()
            self.layers = nn.Sequential(nn.Linear(8, width), nn.ReLU(), nn.Linear(width, 2))

        def forward(self, X):
            return self.layers(X)

    X, y = binary_data
    clf = ImbalancedNeuralClassifier(module=Net, module__width=8, max_epochs=3,
                                     random_state=0).fit(X, y)
    module, proba = clf.module_, clf.predict_proba(X)
    for _ in range(2):  # the same bad value fails every time, the net as it was
        with pytest.raises(RuntimeError):
            clf.set_params(module__width=-1)
        assert clf.module_ is module
        np.testing.assert_array_equal(clf.predict_proba(X), proba)


def test_batches_are_in_the_history_while_the_epoch_runs(binary_data):
    # skorch's gradient-accumulation recipe counts the epoch's batches in train_step.
    X, y = binary_data
    seen = []

    class Counting(ImbalancedNeuralClassifier):
        def train_step(self, batch, **fit_params):
            seen.append(len(self.history[-1, "batches"]))
            return super().train_step(batch, **fit_params)

    clf = Counting(max_epochs=1, batch_size=100, random_state=0).fit(X, y)
    assert seen == [1, 2, 3]
    assert all(isinstance(b["train_loss"], float) for b in clf.history[-1, "batches"])


def test_validation_batches_have_batch_size_rows_and_prediction_large_ones(binary_data):
    from skorch.dataset import ValidSplit

    X, y = binary_data
    clf = ImbalancedNeuralClassifier(max_epochs=1, batch_size=50, random_state=0,
                                     train_split=ValidSplit(3, stratified=True)).fit(X, y)
    assert [b["valid_batch_size"] for b in clf.history[-1, "batches"]
            if "valid_batch_size" in b] == [50, 50]
    batches = list(clf.get_iterator(ArrayDataset(X.astype(np.float32)), training=False))
    assert len(batches) == 1  # rows without targets: prediction, in one large batch


def test_a_custom_dataset_class_is_used_for_array_input(binary_data):
    X, y = binary_data
    made = []

    class Recording(Dataset):
        def __init__(self, X, y=None, tag=None):
            made.append(tag)
            super().__init__(X, y)

    clf = ImbalancedNeuralClassifier(dataset=Recording, dataset__tag="mine", **FAST).fit(X, y)
    assert made and set(made) == {"mine"}
    assert clf.predict(X).shape == y.shape
    with pytest.raises(ValueError, match="sample_weight needs the default dataset"):
        clf.fit(X, y, sample_weight=np.ones(len(y)))


def test_save_params_and_load_params_restore_the_default_network(binary_data, tmp_path):
    X, y = binary_data
    labels = np.array(["neg", "pos"])[y]
    clf = ImbalancedNeuralClassifier(**FAST).fit(X, labels)
    clf.save_params(f_params=tmp_path / "params.pt")
    new = ImbalancedNeuralClassifier(classes=clf.classes_, module__n_features=X.shape[1])
    new.initialize().load_params(f_params=tmp_path / "params.pt")
    np.testing.assert_array_equal(new.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(new.predict(X), clf.predict(X))
    with pytest.raises(NotInitializedError, match="module__n_features=... and classes"):
        ImbalancedNeuralClassifier().initialize()


def test_initialize_without_data_given_a_module_and_no_classes(binary_data):
    X, y = binary_data
    clf = ImbalancedNeuralClassifier(MLP, module__n_features=X.shape[1], module__n_classes=2,
                                     criterion=nn.CrossEntropyLoss).initialize()
    assert clf.predict(X).shape == y.shape  # positions 0..C-1, as skorch returns
    with pytest.raises(NotInitializedError, match="keeps one importance per class"):
        ImbalancedNeuralClassifier(MLP, module__n_features=X.shape[1],
                                   module__n_classes=2).initialize()




def test_num_threads_is_set_for_the_call_and_restored(binary_data):
    from sk_imbaloss import _runtime

    X, y = binary_data
    seen = []

    class Recording(Callback):
        def on_epoch_end(self, net, **kwargs):
            seen.append(torch.get_num_threads())

    before = torch.get_num_threads()
    clf = ImbalancedNeuralClassifier(max_epochs=1, callbacks=[("r", Recording())],
                                     num_threads=2).fit(X, y)
    clf.set_params(num_threads="auto").fit(X, y)  # the default MLP: small work, 1 thread
    assert seen == [2, 1] and torch.get_num_threads() == before
    wide = nn.Linear(8, 2)
    assert _runtime.auto_threads(wide, 128) == 1
    assert 1 <= _runtime.auto_threads(nn.Linear(4096, 4096), 4096) <= torch.get_num_threads()
