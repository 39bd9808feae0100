"""sampling='balanced': class-balanced draws of an epoch's training rows."""

import numpy as np
import pytest
import torch
from sklearn.model_selection import GridSearchCV
from sklearn.utils.estimator_checks import parametrize_with_checks
from skorch.callbacks import Callback
from skorch.dataset import Dataset
from torch import nn

from sk_imbaloss import ImbalancedNeuralClassifier
from sk_imbaloss._batching import (ArrayDataset, ClassBalancedDraws, ClassBalancedSampler,
                                   TensorBatches)

from test_estimator_checks import EXPECTED_FAILED_CHECKS

FAST = dict(max_epochs=3, random_state=0)


class TrainingTargets(Callback):
    """Records the targets of every training and validation batch, per epoch."""

    def on_train_begin(self, net, **kwargs):
        self.train, self.valid = [], []

    def on_epoch_begin(self, net, **kwargs):
        self.train.append([])
        self.valid.append([])

    def on_batch_begin(self, net, batch, training, **kwargs):
        (self.train if training else self.valid)[-1].append(batch[1].cpu())

    def epochs(self, which="train"):
        return [torch.cat(batches).numpy() for batches in getattr(self, which)]


def _fit_recording(X, y, **params):
    record = TrainingTargets()
    clf = ImbalancedNeuralClassifier(callbacks=[("record", record)], **{**FAST, **params})
    return clf.fit(X, y), record


def test_draws_give_each_class_an_equal_share():
    y = np.repeat([0, 1, 2], [900, 90, 10])
    rows = ClassBalancedDraws(y)(30_000).numpy()
    np.testing.assert_allclose(np.bincount(y[rows]) / len(rows), [1 / 3] * 3, atol=0.02)
    # Within a class every row is equally likely: the 10 rows of class 2 about 1000 each.
    per_row = np.bincount(rows[y[rows] == 2], minlength=1000)[990:]
    assert per_row.min() > 800 and per_row.max() < 1200


def test_a_class_without_rows_is_not_drawn():
    # Class 1 is known (a partial_fit chunk) but has no rows: the two others share.
    y = np.array([0] * 50 + [2] * 5)
    rows = ClassBalancedDraws(y)(10_000).numpy()
    assert set(np.unique(y[rows])) == {0, 2}
    assert abs((y[rows] == 2).mean() - 0.5) < 0.03


def test_the_fast_iterator_draws_n_balanced_rows_per_epoch(multiclass_data):
    X, y = multiclass_data
    clf = ImbalancedNeuralClassifier(sampling="balanced", batch_size=32, **FAST).fit(X, y)
    dataset = ArrayDataset(X, y)
    iterator = clf.get_iterator(dataset, training=True)
    assert isinstance(iterator, TensorBatches) and iterator.draws is not None
    seen = np.concatenate([[torch.cat([b[1] for b in iterator]).numpy()] for _ in range(20)])
    assert seen.shape == (20, len(y))  # the epoch's length is unchanged
    assert len(iterator) == -(-len(y) // 32)
    np.testing.assert_allclose(np.bincount(seen.ravel()) / seen.size, [1 / 3] * 3, atol=0.03)
    # Prediction and validation read every row once, in order.
    valid = torch.cat([b[1] for b in clf.get_iterator(dataset, training=False)]).numpy()
    np.testing.assert_array_equal(valid, y)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_draws_on_cuda_make_no_host_sync(binary_data):
    X, y = binary_data
    batches = TensorBatches(ArrayDataset(X, y, np.ones(len(y), np.float32), device="cuda"),
                            32, shuffle=True, balanced=True)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        seen = [batch[1] for batch in batches]
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert all(targets.is_cuda for targets in seen)
    assert sum(len(targets) for targets in seen) == len(y)


def test_default_sampling_sees_every_row_once(binary_data):
    X, y = binary_data
    _, record = _fit_recording(X, y)
    for epoch in record.epochs():
        np.testing.assert_array_equal(np.sort(epoch), np.sort(y))


def test_minority_share_in_training(binary_data):
    X, y = binary_data
    assert y.mean() < 0.15
    _, record = _fit_recording(X, y, sampling="balanced", max_epochs=10)
    epochs = record.epochs()
    assert all(len(epoch) == len(y) for epoch in epochs)
    assert abs(np.concatenate(epochs).mean() - 0.5) < 0.05


def test_early_stopping_balances_the_training_split_only(binary_data):
    X, y = binary_data
    clf, record = _fit_recording(X, y, sampling="balanced", early_stopping=True,
                                 max_epochs=8, n_iter_no_change=20)
    n_valid = int(np.ceil(0.1 * len(y)))
    train, valid = record.epochs("train"), record.epochs("valid")
    assert all(len(epoch) == len(y) - n_valid for epoch in train)
    assert abs(np.concatenate(train).mean() - 0.5) < 0.06
    # The validation split keeps its rows and their class shares, every epoch.
    assert all(len(epoch) == n_valid for epoch in valid)
    assert all(np.array_equal(epoch, valid[0]) for epoch in valid)
    assert valid[0].mean() < 0.2


def test_reproducible_under_random_state(binary_data):
    X, y = binary_data
    first, rec_a = _fit_recording(X, y, sampling="balanced")
    again, rec_b = _fit_recording(X, y, sampling="balanced")
    other, rec_c = _fit_recording(X, y, sampling="balanced", random_state=1)
    for a, b in zip(rec_a.epochs(), rec_b.epochs()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(first.predict_proba(X), again.predict_proba(X))
    assert not np.array_equal(first.predict_proba(X), other.predict_proba(X))


def test_the_dataloader_path_balances_too(binary_data):
    # A configured iterator goes through a DataLoader, given a ClassBalancedSampler.
    X, y = binary_data
    params = dict(sampling="balanced", iterator_train__num_workers=0, max_epochs=10)
    clf, record = _fit_recording(X, y, **params)
    iterator = clf.get_iterator(ArrayDataset(X, y), training=True)
    assert isinstance(iterator.sampler, ClassBalancedSampler)
    assert len(iterator.sampler) == len(y)
    epochs = record.epochs()
    assert all(len(epoch) == len(y) for epoch in epochs)
    assert abs(np.concatenate(epochs).mean() - 0.5) < 0.05
    _, again = _fit_recording(X, y, **params)
    for a, b in zip(epochs, again.epochs()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("criterion", ["adaptive", "adaptive-seed", "focal", "margin", "ce"])
def test_every_criterion(binary_data, criterion):
    X, y = binary_data
    clf = ImbalancedNeuralClassifier(criterion=criterion, sampling="balanced",
                                     class_weight="balanced", **FAST).fit(X, y)
    assert set(clf.predict(X)) <= {0, 1}


def test_sample_weight_still_weighs_the_loss(binary_data):
    X, y = binary_data
    weight = np.where(y == 1, 3.0, 1.0)
    params = dict(sampling="balanced", early_stopping=True, max_epochs=4)
    weighted, rec_w = _fit_recording(X, y, **params)
    weighted.fit(X, y, sample_weight=weight)
    plain, rec_p = _fit_recording(X, y, **params)
    # The same rows are drawn (weights do not move the draws), the losses differ.
    for a, b in zip(rec_w.epochs(), rec_p.epochs()):
        np.testing.assert_array_equal(a, b)
    assert weighted.history[-1, "train_loss"] != plain.history[-1, "train_loss"]


def test_partial_fit_balances_each_chunk(multiclass_data):
    X, y = multiclass_data
    record = TrainingTargets()
    clf = ImbalancedNeuralClassifier(sampling="balanced", callbacks=[("record", record)],
                                     **FAST)
    chunk = y != 2  # a first chunk without class 2: the two others share its epochs
    clf.partial_fit(X[chunk], y[chunk], classes=[0, 1, 2])
    seen = np.concatenate(record.epochs())
    assert len(seen) == 3 * chunk.sum() and set(seen) == {0, 1}
    assert abs(seen.mean() - 0.5) < 0.06
    clf.partial_fit(X, y)
    np.testing.assert_allclose(np.bincount(np.concatenate(record.epochs())) / (3 * len(y)),
                               [1 / 3] * 3, atol=0.05)


def test_grid_search_over_sampling(binary_data):
    X, y = binary_data
    search = GridSearchCV(ImbalancedNeuralClassifier(**FAST),
                          {"sampling": ["shuffle", "balanced"]}, cv=2,
                          scoring="balanced_accuracy").fit(X, y)
    assert search.best_params_["sampling"] in ("shuffle", "balanced")
    assert len(search.cv_results_["params"]) == 2


@pytest.mark.parametrize("params, match", [
    (dict(sampling="smote"), "'sampling' parameter"),
    (dict(sampling="balanced", shuffle=False), "shuffle=False rules out"),
    (dict(sampling="balanced", iterator_train__shuffle=True),
     "iterator_train__shuffle and sampling='balanced'"),
    (dict(sampling="balanced", iterator_train=list), "'list' is not one"),
    (dict(sampling="balanced", dataset=Dataset, dataset__length=None),
     "targets of array input"),
])
def test_what_balanced_sampling_refuses(binary_data, params, match):
    X, y = binary_data
    with pytest.raises(ValueError, match=match):
        ImbalancedNeuralClassifier(**{**FAST, **params}).fit(X, y)


def test_a_torch_dataset_is_refused(binary_data):
    X, y = binary_data
    module = nn.Sequential(nn.Linear(X.shape[1], 2))
    clf = ImbalancedNeuralClassifier(module, sampling="balanced", **FAST)
    with pytest.raises(ValueError, match="with a torch Dataset or dataset=..., set "
                                         "sampling='shuffle'"):
        clf.fit(Dataset(X, y), y)


# partial_fit refuses class_weight='effective' by design, as it refuses 'balanced': a
# chunk's class counts are not the data's. These checks call partial_fit.
_PARTIAL_FIT_CHECKS = dict.fromkeys(
    ("check_fit_score_takes_y", "check_n_features_in_after_fitting",
     "check_estimators_partial_fit_n_features"),
    "partial_fit refuses class_weight='effective' by design (a chunk's class counts are "
    "not the data's), as it refuses 'balanced'.",
)


@parametrize_with_checks(
    [ImbalancedNeuralClassifier(sampling="balanced", class_weight="effective", max_epochs=20)],
    expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS | _PARTIAL_FIT_CHECKS,
)
def test_sklearn_checks_with_balanced_sampling(estimator, check):
    check(estimator)
