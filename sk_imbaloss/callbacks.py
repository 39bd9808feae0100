"""skorch callbacks used by :class:`~sk_imbaloss.ImbalancedNeuralClassifier`."""

import inspect
from collections.abc import Mapping

import numpy as np
import torch
from sklearn.metrics import check_scoring, get_scorer
from skorch.callbacks import Callback
from torch.utils.data import Subset

from ._batching import ArrayDataset

__all__ = ["ImportanceHistory", "LabelScorer"]


class ImportanceHistory(Callback):
    """Record the adaptive importance per class in the history after every epoch.

    Does nothing for criteria without an ``importance`` buffer. Values are in
    ``classes_`` order: ``net.history[:, 'importance']``.
    """

    def on_epoch_end(self, net, **kwargs):
        importance = getattr(getattr(net, "criterion_", None), "importance", None)
        if isinstance(importance, torch.Tensor):
            net.history.record("importance", importance.tolist())


class LabelScorer:
    """A scikit-learn scorer for skorch's scoring callbacks that sees the user's labels.

    During training skorch hands scoring callbacks the targets as the network sees
    them, encoded as positions in ``classes_``, while ``predict`` returns the user's
    labels. This scorer decodes the targets first, so that a score compares labels
    with labels. :class:`~sk_imbaloss.ImbalancedNeuralClassifier` wraps the scoring of
    every ``EpochScoring`` and ``BatchScoring`` callback in one, so ``EpochScoring(
    "f1_macro", on_train=True)`` is enough there; for another net, ``EpochScoring(
    LabelScorer("f1_macro"), lower_is_better=False)``. A scorer that needs a
    positive label (``'f1'``, ``'average_precision'``) needs it as in scikit-learn:
    labels 0/1 or -1/1, or ``make_scorer(..., pos_label=...)``.

    Parameters
    ----------
    scoring : str, callable or None
        A name accepted by :func:`sklearn.metrics.get_scorer`, a scorer
        ``scorer(net, X, y)``, or None for the net's ``score`` (accuracy). When the
        fit has sample weights, a scorer that takes ``sample_weight`` (scikit-learn's
        all do) is weighted by them, as the loss is.
    weighted : bool, default=True
        Whether to weight the score by the fit's sample weights. The classifier turns
        it off for ``EpochScoring(on_train=True)``, which scores the training rows in
        the order of the epoch's shuffled batches (their weights are in the data
        set's order).
    """

    weighted = True  # for scorers pickled before the parameter existed

    def __init__(self, scoring, weighted=True):
        self.scoring = scoring
        self.weighted = weighted
        # skorch names a scoring callback after its scorer's __name__
        self.__name__ = scoring if isinstance(scoring, str) else getattr(
            scoring, "__name__", "score")

    def __call__(self, net, X, y):
        if isinstance(self.scoring, str):
            scorer = get_scorer(self.scoring)
        else:
            scorer = check_scoring(net, self.scoring)
        # The rows come as the network saw them: the validation split, a batch tensor
        # on the net's device, or {"X": ..., "sample_weight": ...} when the fit had
        # weights, which then weigh the score as they weigh the loss.
        sample_weight = _rows_of(X, "sample_weight")  # EpochScoring's data set
        if y is None:  # EpochScoring(use_caching=False) hands over the data set alone
            y = _rows_of(X, "y")
        if isinstance(X, Mapping) and "X" in X:  # BatchScoring's batch
            sample_weight = X.get("sample_weight")
            X = X["X"]
        if not self.weighted:
            sample_weight = None
        if torch.is_tensor(X):
            X = X.detach().cpu().numpy()
        if torch.is_tensor(sample_weight):
            sample_weight = sample_weight.detach().cpu().numpy()
        if y is not None:  # skorch allows a Dataset without targets
            if torch.is_tensor(y):
                y = y.detach().cpu().numpy()
            y = net.classes_[np.asarray(y)]
        if sample_weight is None or not _takes_sample_weight(scorer):
            return scorer(net, X, y)
        return scorer(net, X, y, sample_weight=sample_weight)


def _rows_of(dataset, name):
    """The array ``name`` (``'y'``, ``'sample_weight'``) of an ``ArrayDataset``'s rows,
    or of a ``Subset``'s, in its order; None for other data or when it has none."""
    if isinstance(dataset, ArrayDataset):
        return getattr(dataset, name)
    if isinstance(dataset, Subset):
        inner = _rows_of(dataset.dataset, name)
        return None if inner is None else inner[np.asarray(dataset.indices)]
    return None


def _takes_sample_weight(scorer):
    """Whether ``scorer`` accepts ``sample_weight`` (scikit-learn's scorers do; a
    plain ``scorer(net, X, y)`` callable is called without it)."""
    try:
        parameters = inspect.signature(scorer).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(p.name == "sample_weight" or p.kind is p.VAR_KEYWORD for p in parameters)
