"""The callbacks: importance history, label scorers, early stopping, the print log."""


import numpy as np
import pytest
import torch
from skorch.callbacks import Callback

from sk_imbaloss import ImbalancedNeuralClassifier
from sk_imbaloss.callbacks import LabelScorer

FAST = dict(max_epochs=5, random_state=0)


def _history_losses(clf):
    return [[(b.get("train_loss"), b.get("valid_loss"), b.get("train_batch_size",
              b.get("valid_batch_size"))) for b in epoch["batches"]] for epoch in clf.history]


def test_adaptive_importance_attribute_and_history(binary_data):
    X, y = binary_data
    labels = np.array(["b", "a"])[y]  # minority "a" sorts first
    clf = ImbalancedNeuralClassifier(alpha=0.1, **FAST).fit(X, labels)
    assert clf.importance_.shape == (2,)
    history = np.array(clf.history[:, "importance"])
    assert history.shape == (5, 2)
    np.testing.assert_allclose(history[-1], clf.importance_, rtol=1e-6)
    # the minority ("a", column 0) is missed more often, so it ends up more important
    assert clf.importance_[0] > clf.importance_[1]
    with pytest.raises(AttributeError, match="adaptive"):
        ImbalancedNeuralClassifier(criterion="ce", **FAST).fit(X, y).importance_


def test_early_stopping_with_sample_weight(binary_data):
    X, y = binary_data
    clf = ImbalancedNeuralClassifier(early_stopping=True, max_epochs=3, random_state=0)
    clf.fit(X, y, sample_weight=np.where(y == 1, 5.0, 1.0))
    assert len(clf.history[:, "valid_score"]) == 3


def test_early_stopping_uses_a_stratified_split_and_restores_the_best_epoch(binary_data):
    X, y = binary_data
    clf = ImbalancedNeuralClassifier(early_stopping=True, n_iter_no_change=3, max_epochs=200,
                                     criterion="ce", class_weight="balanced", random_state=0)
    clf.fit(X, y)
    scores = clf.history[:, "valid_score"]
    assert len(clf.history) < 200
    assert "valid_loss" in clf.history[-1]
    assert max(scores) > 0.5
    # the weights in use are those of the best epoch, not the last
    stopper = dict(clf.callbacks_)["early_stopping"]
    assert stopper.best_epoch_ == int(np.argmax(scores)) + 1 < len(clf.history)
    for name, value in clf.module_.state_dict().items():
        torch.testing.assert_close(value, stopper.best_model_weights_[name])
    with_labels = ImbalancedNeuralClassifier(early_stopping=True, n_iter_no_change=3,
                                             max_epochs=200, scoring="f1_macro", criterion="ce",
                                             class_weight="balanced", random_state=0)
    assert max(with_labels.fit(X, np.array(["a", "b"])[y]).history[:, "valid_score"]) > 0.5


def test_callbacks_and_history_still_work(binary_data):
    from skorch.callbacks import EpochScoring

    X, y = binary_data
    labels = np.array(["no", "yes"])[y]
    scoring = EpochScoring(LabelScorer("accuracy"), on_train=True, name="train_acc_cb",
                           lower_is_better=False)
    clf = ImbalancedNeuralClassifier(callbacks=[("cb", scoring)], **FAST).fit(X, labels)
    assert clf.history[-1, "train_acc_cb"] > 0.85
    assert len(clf.history[:, "train_loss"]) == 5
    assert all(np.isfinite(clf.history[:, "train_loss"]))
    assert isinstance(clf.history[-1, "batches", -1, "train_loss"], float)
    assert "train_acc_cb" in clf.history[-1]


class _BatchRecorder(Callback):
    """Records what the per-batch hooks see, as a user's callback would."""

    def initialize(self):
        self.begin, self.end, self.grads = [], [], 0
        return self

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        # skorch has opened this batch's history entry before the hook runs
        self.begin.append((training, dict(net.history[-1, "batches", -1])))

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        self.end.append((training, kwargs["loss"].item()))

    def on_grad_computed(self, net, named_parameters, **kwargs):
        self.grads += 1


@pytest.mark.parametrize("early_stopping", [False, True])
def test_batch_hooks_see_every_batch_and_history_is_the_same(binary_data, early_stopping):
    X, y = binary_data
    params = dict(FAST, early_stopping=early_stopping)
    lean = ImbalancedNeuralClassifier(**params).fit(X, y)
    recorder = _BatchRecorder()
    hooked = ImbalancedNeuralClassifier(callbacks=[("rec", recorder)], **params).fit(X, y)
    # With or without a per-batch listener, the same training and the same history.
    assert _history_losses(lean) == _history_losses(hooked)
    np.testing.assert_array_equal(lean.predict_proba(X), hooked.predict_proba(X))
    np.testing.assert_allclose(lean.history[:, "train_loss"], hooked.history[:, "train_loss"])
    n_batches = sum(len(epoch["batches"]) for epoch in hooked.history)
    assert len(recorder.begin) == len(recorder.end) == n_batches
    assert all(entry == {} for _, entry in recorder.begin)
    train_steps = sum(training for training, _ in recorder.end)
    assert recorder.grads == train_steps == 5 * int(np.ceil(
        len(y) * (0.9 if early_stopping else 1) / 128))
    # The epoch loss is the batch-size-weighted mean of the batch losses, as in skorch.
    for epoch in lean.history:
        loss, size = zip(*[(b["train_loss"], b["train_batch_size"]) for b in epoch["batches"]
                          if "train_loss" in b])
        assert epoch["train_loss"] == pytest.approx(np.average(loss, weights=size))
        assert epoch["train_batch_count"] == len(loss)


def test_scoring_callbacks_compare_labels_with_labels(binary_data):
    # skorch hands scoring callbacks the encoded targets; the estimator decodes them,
    # so a score does not depend on how the labels are spelled.
    from skorch.callbacks import BatchScoring, EpochScoring

    X, y = binary_data

    def history(labels):
        callbacks = [("acc", EpochScoring("accuracy", on_train=True, name="acc")),
                     ("bacc", BatchScoring("balanced_accuracy", on_train=True, name="bacc"))]
        clf = ImbalancedNeuralClassifier(callbacks=callbacks, **FAST).fit(X, labels[y])
        return clf.history[:, "acc"], clf.history[:, "bacc"]

    plain = history(np.array([0, 1]))
    spelled = history(np.array(["neg", "pos"]))
    assert plain == history(np.array([10, 20])) == spelled
    assert plain[0][-1] > 0.8  # the encoded targets against the labels scored 0


@pytest.mark.parametrize("on_train", [True, False])
def test_batch_scoring_of_a_fit_with_sample_weight(binary_data, on_train):
    # The batches of a weighted fit are {"X": ..., "sample_weight": ...}: the scorer
    # predicts from their X (before: a TypeError from check_array).
    from skorch.callbacks import BatchScoring
    from skorch.dataset import ValidSplit

    X, y = binary_data
    params = dict(callbacks=[BatchScoring("balanced_accuracy", on_train=on_train, name="b")],
                  train_split=None if on_train else ValidSplit(5, stratified=True), **FAST)
    weighted = ImbalancedNeuralClassifier(**params).fit(X, y, sample_weight=np.ones(len(y)))
    plain = ImbalancedNeuralClassifier(**params).fit(X, y)
    assert weighted.history[:, "b"] == plain.history[:, "b"]
    assert weighted.history[-1, "b"] > 0.6  # chance is 0.5


def test_label_scorer_names_itself_and_takes_no_targets(binary_data):
    from skorch.callbacks import EpochScoring

    X, y = binary_data
    scoring = EpochScoring(LabelScorer("f1_macro"), lower_is_better=False, on_train=True)
    clf = ImbalancedNeuralClassifier(callbacks=[scoring], **FAST).fit(X, y)
    assert len(clf.history[:, "f1_macro"]) == len(clf.history)
    # skorch's y=None (a Dataset without targets) reaches the scorer as None.
    seen = []
    scorer = LabelScorer(lambda net, X, y: seen.append(y) or 0.0)
    assert scorer(clf, X, None) == 0.0 and seen == [None]


def test_early_stopping_restores_the_best_epochs_importance(binary_data):
    X, y = binary_data
    clf = ImbalancedNeuralClassifier(early_stopping=True, n_iter_no_change=2,
                                     max_epochs=60, random_state=0).fit(X, y)
    stopper = dict(clf.callbacks_)["early_stopping"]
    assert stopper.best_epoch_ < len(clf.history)  # it did stop after its best epoch
    best = clf.history[stopper.best_epoch_ - 1]
    np.testing.assert_allclose(clf.importance_, best["importance"], rtol=1e-6)
    assert not np.allclose(clf.importance_, clf.history[-1]["importance"])


def test_early_stopping_score_is_weighted_by_the_sample_weights():
    from sklearn.datasets import make_classification
    from sklearn.metrics import balanced_accuracy_score
    from sklearn.model_selection import train_test_split

    X, y = make_classification(400, 5, random_state=0)
    noise = np.random.RandomState(0).rand(400) < 0.4
    y_noisy, weight = np.where(noise, 1 - y, y), (~noise).astype(float)
    clf = ImbalancedNeuralClassifier(max_epochs=1, random_state=0, early_stopping=True,
                                     validation_fraction=0.5)
    clf.fit(X, y_noisy, sample_weight=weight)
    _, valid = train_test_split(np.arange(400), test_size=0.5, stratify=y_noisy,
                                random_state=clf.split_seed_)
    expected = balanced_accuracy_score(y_noisy[valid], clf.predict(X[valid]),
                                       sample_weight=weight[valid])
    assert clf.history[-1, "valid_score"] == pytest.approx(expected)


def test_early_stopping_messages_follow_verbose_at_fit_time(binary_data, capsys):
    X, y = binary_data
    clf = ImbalancedNeuralClassifier(max_epochs=60, early_stopping=True, n_iter_no_change=2,
                                     lr=0.2, random_state=0, warm_start=True).fit(X, y)
    assert capsys.readouterr().out == ""
    clf.set_params(verbose=1).fit(X, y)
    assert "Stopping since valid_score has not improved" in capsys.readouterr().out


def test_validation_score_of_a_user_split_is_weighted():
    from skorch.dataset import ValidSplit
    from sklearn.datasets import make_classification
    from sklearn.metrics import balanced_accuracy_score

    X, y = make_classification(300, 5, weights=[0.85], random_state=0)
    weight = np.random.RandomState(1).rand(len(y)) ** 4
    seen = {}

    class Keep(Callback):  # the validation rows skorch scored
        def on_epoch_end(self, net, dataset_valid=None, **kwargs):
            seen["index"] = np.asarray(dataset_valid.indices)

    clf = ImbalancedNeuralClassifier(
        max_epochs=1, random_state=0, early_stopping=True,
        train_split=ValidSplit(5, stratified=True), callbacks=[("keep", Keep())],
    ).fit(X, y, sample_weight=weight)
    index = seen["index"]
    expected = balanced_accuracy_score(y[index], clf.predict(X[index]),
                                       sample_weight=weight[index])
    assert clf.history[-1, "valid_score"] == pytest.approx(expected)


def test_training_score_of_shuffled_weighted_batches_is_the_unweighted_score():
    # EpochScoring(on_train=True) scores the rows in the epoch's shuffled order, so it
    # cannot pair them with their weights: it scores them unweighted, rightly.
    from skorch.callbacks import EpochScoring
    from sklearn.datasets import make_classification
    from sklearn.metrics import accuracy_score

    X, y = make_classification(300, 5, weights=[0.85], random_state=0)
    weight = np.random.RandomState(1).rand(len(y)) ** 4
    clf = ImbalancedNeuralClassifier(
        max_epochs=1, random_state=0, lr=1e-12, dropout=0.0, criterion="ce",
        callbacks=[EpochScoring("accuracy", on_train=True, name="train_acc")],
    ).fit(X, y, sample_weight=weight)
    assert clf.history[-1, "train_acc"] == pytest.approx(accuracy_score(y, clf.predict(X)))


def test_a_label_scorer_pickled_before_weighted_existed_still_scores(binary_data):
    X, y = binary_data
    clf = ImbalancedNeuralClassifier(**FAST).fit(X, y)
    old = LabelScorer("balanced_accuracy")
    del old.__dict__["weighted"]  # as unpickled from an earlier version
    assert 0.0 <= old(clf, X, clf.classes_.searchsorted(y)) <= 1.0


def test_epoch_scoring_without_caching_reads_the_targets_of_the_split(binary_data):
    from skorch.callbacks import EpochScoring
    from sklearn.metrics import accuracy_score
    from sklearn.model_selection import train_test_split

    X, y = binary_data
    clf = ImbalancedNeuralClassifier(
        max_epochs=2, random_state=0, early_stopping=True,
        callbacks=[("acc", EpochScoring("accuracy", use_caching=False, name="acc"))],
    ).fit(X, y)
    _, valid = train_test_split(np.arange(len(y)), test_size=0.1, stratify=y,
                                random_state=clf.split_seed_)
    assert clf.history[-1, "acc"] == pytest.approx(accuracy_score(y[valid],
                                                                  clf.predict(X[valid])))


def test_set_params_callbacks_on_a_fitted_net_rebuilds_them(binary_data):
    from skorch.callbacks import EpochScoring

    X, y = binary_data
    clf = ImbalancedNeuralClassifier(**FAST).fit(X, y)
    clf.set_params(callbacks=[("acc", EpochScoring("accuracy", name="acc", on_train=True))])
    assert "acc" in dict(clf.callbacks_)
    clf.partial_fit(X, y)
    assert "acc" in clf.history[-1]
    clf.set_params(callbacks=None)
    assert "acc" not in dict(clf.callbacks_)


def test_verbose_prints_a_short_log(binary_data, capsys):
    X, y = binary_data
    ImbalancedNeuralClassifier(verbose=1, random_state=0).fit(X[:100], y[:100])  # 500 epochs
    lines = capsys.readouterr().out.strip().splitlines()
    assert 10 <= len(lines) <= 25
    assert lines[-1].split()[0] == "500"


def test_verbose_prints_the_epoch_early_stopping_ends_on(binary_data, capsys):
    X, y = binary_data
    clf = ImbalancedNeuralClassifier(max_epochs=200, early_stopping=True, n_iter_no_change=2,
                                     lr=0.2, verbose=1, random_state=0).fit(X, y)
    last = len(clf.history)
    assert last < 200  # stopped early, after an epoch that is not a multiple of 10
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    epochs = [int(row[0]) for row in rows if row and row[0].isdigit()]
    assert epochs[-1] == last and epochs == sorted(set(epochs))
