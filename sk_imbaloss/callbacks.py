"""skorch callbacks used by :class:`~sk_imbaloss.ImbalancedNeuralClassifier`."""

import inspect
import math
import warnings
from collections.abc import Mapping
from copy import deepcopy

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import check_scoring, get_scorer
from skorch.callbacks import Callback, EarlyStopping, EpochScoring, PrintLog
from skorch.callbacks.scoring import ScoringBase
from torch.utils.data import Subset

from ._batching import ArrayDataset
from ._compat import TrainingDivergedError

__all__ = ["CriterionEarlyStopping", "DivergenceCheck", "ImportanceHistory", "LabelScorer",
           "SparsePrintLog", "early_stopping_callbacks", "score_labels"]


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


class CriterionEarlyStopping(EarlyStopping):
    """skorch's ``EarlyStopping`` that restores the best epoch's criterion state too.

    skorch restores the module's weights only; the adaptive importance (and so
    ``importance_``, and a warm start's starting point) would stay the last epoch's.
    """

    def on_train_begin(self, net, **kwargs):
        super().on_train_begin(net, **kwargs)
        self.best_criterion_state_ = None

    def on_epoch_end(self, net, **kwargs):
        # skorch raises to stop only after an epoch that did not improve, so an epoch
        # that did always reaches the copy below.
        super().on_epoch_end(net, **kwargs)
        if self.load_best and self.best_epoch_ == net.history[-1, "epoch"]:
            self.best_criterion_state_ = deepcopy(net.criterion_.state_dict())

    def on_train_end(self, net, **kwargs):
        restore = (self.load_best and self.best_epoch_ != net.history[-1, "epoch"]
                   and self.best_criterion_state_ is not None)
        super().on_train_end(net, **kwargs)
        if restore:
            net.criterion_.load_state_dict(self.best_criterion_state_)


class SparsePrintLog(PrintLog):
    """skorch's ``PrintLog`` that prints at most about :attr:`max_lines` epochs.

    A fit of many short epochs (``max_epochs='auto'`` makes at least 500 gradient
    steps) would print hundreds of rows: this prints the first epoch, every k-th and
    the last one of the fit, with ``k`` chosen from ``net.max_epochs_`` for at most
    ``max_lines`` rows, and skips building the table when the net is not verbose.
    The last epoch is printed also when early stopping (or Ctrl-C) ends the fit
    before ``max_epochs_``.
    """

    max_lines = 20

    def on_train_begin(self, net, **kwargs):
        super().on_train_begin(net, **kwargs)
        self.epochs_before_ = len(net.history)
        self.printed_ = None

    def on_epoch_end(self, net, **kwargs):
        if not net.verbose:
            return
        epoch = len(net.history) - getattr(self, "epochs_before_", 0)  # in this fit
        total = getattr(net, "max_epochs_", None) or epoch
        every = math.ceil(total / self.max_lines)
        if epoch == 1 or epoch % every == 0 or epoch == total:
            super().on_epoch_end(net, **kwargs)
            self.printed_ = len(net.history)

    def on_train_end(self, net, **kwargs):
        # Early stopping stops the loop by raising in its own on_epoch_end, which runs
        # before this one's: the epoch it stopped after was not printed yet.
        last = len(net.history)
        if (net.verbose and last > getattr(self, "epochs_before_", last)
                and getattr(self, "printed_", None) != last
                and "train_loss" in net.history[-1]):
            super().on_epoch_end(net, **kwargs)


class DivergenceCheck(Callback):
    """At the end of a fit: raise when the weights are not finite, and warn with a
    ``ConvergenceWarning`` when the training loss ended over ten times above the first
    step's (and above 1): a fit gone to huge but finite losses predicts no better than
    chance. (A loss that is not finite stops the fit at once, in the epoch loop.)
    """

    def on_train_begin(self, net, **kwargs):
        self.first_epoch_ = len(net.history)

    def on_train_end(self, net, **kwargs):
        finite = [torch.isfinite(p).all() for p in net.module_.parameters()]
        if finite and not bool(torch.stack(finite).all()):  # one host sync per fit
            raise TrainingDivergedError(
                "The network's weights became NaN or infinite in the last step; the "
                "network diverged. Lower lr, scale the features (e.g. StandardScaler) "
                "or check the data and sample weights."
            )
        first = getattr(self, "first_epoch_", 0)
        batches = [b for b in net.history[-1]["batches"] if "train_loss" in b]
        if len(net.history) <= first or not batches:
            return  # interrupted before a step
        start = net.history[first]["batches"][0]["train_loss"]
        end = np.average([b["train_loss"] for b in batches],
                         weights=[b["train_batch_size"] for b in batches])
        if end > max(10 * start, 1.0):
            warnings.warn(
                f"The training loss grew from {start:.3g} in the first step to {end:.3g} "
                f"in the last epoch: the fit diverged. Lower lr (now {net.lr}), scale "
                "the features (e.g. StandardScaler) or check the sample weights.",
                ConvergenceWarning, stacklevel=6)


def early_stopping_callbacks(scoring, patience):
    """The estimator's ``early_stopping``: score the validation split with ``scoring``
    after each epoch, stop after ``patience`` epochs without improvement and restore
    the best epoch."""
    return [
        ("valid_score", EpochScoring(LabelScorer(scoring), name="valid_score",
                                     lower_is_better=False)),
        ("early_stopping", CriterionEarlyStopping(
            monitor="valid_score", patience=patience, lower_is_better=False,
            load_best=True, sink=print,  # skorch prints to print only while net.verbose
        )),
    ]


def score_labels(callbacks):
    """Wrap the scorer of every scoring callback in ``callbacks`` (``net.callbacks_``)
    in a :class:`LabelScorer`.

    skorch scores the encoded targets 0..C-1 against ``predict``'s labels; the wrapper
    decodes them, so that every score compares labels with labels.
    """
    for _, callback in callbacks:
        if isinstance(callback, ScoringBase) and not isinstance(callback.scoring_,
                                                                 LabelScorer):
            callback.scoring_ = LabelScorer(callback.scoring_)
        if isinstance(callback, EpochScoring) and callback.on_train:
            # It scores the training rows in the epoch's shuffled order, while their
            # weights are in the data set's: scored unweighted.
            callback.scoring_ = LabelScorer(callback.scoring_.scoring, weighted=False)
