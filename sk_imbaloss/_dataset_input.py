"""Checks for a torch ``Dataset`` passed to ``fit`` or ``partial_fit``.

A Dataset goes through skorch's own path: it yields its targets as positions 0..C-1
in ``classes_`` (as for skorch), and the estimator cannot size the default MLP, make
its stratified early-stopping split or weigh rows from it.
"""

import numpy as np
from skorch.dataset import Dataset
from skorch.utils import data_from_dataset, to_numpy

__all__ = ["check_dataset_fit", "dataset_classes"]


def check_dataset_fit(net, sample_weight):
    """What a fit on a torch Dataset cannot do, as ValueErrors naming the way out."""
    if sample_weight is not None:
        raise ValueError(
            "sample_weight is for array input; with a torch Dataset, yield the "
            "weights from the Dataset and use a criterion with reduction='none'."
        )
    if net.module is None:
        raise ValueError(
            "The default MLP is sized from array input; with a torch Dataset, pass "
            "a module (module=..., with its module__* parameters)."
        )
    if net.early_stopping and net.train_split is None:
        raise ValueError(
            "early_stopping makes its stratified split of array input; with a torch "
            "Dataset, pass a train_split too (e.g. skorch.dataset.ValidSplit(10, "
            "stratified=True)) and early stopping scores that split."
        )


def _targets(X, y):
    """The targets of a Dataset fit: ``y``, or those skorch can read from ``X``."""
    if y is not None:
        return np.asarray(to_numpy(y) if not isinstance(y, np.ndarray) else y)
    if isinstance(X, Dataset) and X.y is None:  # skorch's Dataset(X, None)
        return None
    try:
        return np.asarray(to_numpy(data_from_dataset(X)[1]))
    except AttributeError:  # a Dataset skorch cannot read targets from
        return None


def dataset_classes(X, y, given):
    """The classes of a fit on a torch Dataset, and its targets (or None).

    ``given`` (the ``classes`` parameter, or those of an earlier fit) fixes them;
    otherwise they are the targets' values, which must be the positions 0..C-1.
    """
    targets = _targets(X, y)
    if given is not None:
        labels = np.asarray(given)
        if not np.array_equal(np.unique(labels), labels) or len(labels) < 2:
            raise ValueError(
                f"classes={labels.tolist()!r}: with a torch Dataset the targets are "
                "positions in classes, which must list at least two labels, sorted "
                "and unique (as classes_ is)."
            )
    elif targets is None:
        raise ValueError(
            "The classes of this Dataset are unknown (it has no targets skorch can "
            "read): pass y, the targets as positions 0..C-1, or classes=[...]."
        )
    else:
        labels = np.unique(targets)
        if not np.array_equal(labels, np.arange(len(labels))):
            raise ValueError(
                f"The targets hold the classes {labels.tolist()!r}; with a torch Dataset "
                "they are positions 0..C-1. Pass classes=... (all the labels, sorted) "
                "when a first fit does not see every class."
            )
    if targets is not None:
        stray = np.setdiff1d(np.unique(targets), np.arange(len(labels)))
        if stray.size:
            raise ValueError(
                f"y holds {stray.tolist()!r}; with a torch Dataset the targets are "
                f"positions 0..{len(labels) - 1} in the classes known to the "
                f"classifier, {labels.tolist()!r}."
            )
    return labels, targets
