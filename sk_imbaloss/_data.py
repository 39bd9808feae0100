"""Checks of the estimator's array input and settings, each with a message that names
the problem: features, labels, sample weights, the hidden layers and the device."""

import math
from collections.abc import Mapping
from numbers import Integral

import numpy as np
import torch
from scipy import sparse
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from ._compat import check_sample_weight

__all__ = ["check_device", "check_early_stopping_split", "check_hidden_units",
           "check_sample_weights", "encode_labels", "fit_labels", "validate_features"]


def check_hidden_units(hidden_units):
    """``hidden_units`` as a tuple of positive ints, or a ValueError."""
    units = tuple(hidden_units) if np.iterable(hidden_units) else None
    if units is None or not all(
        isinstance(u, Integral) and not isinstance(u, bool) and u > 0 for u in units
    ):
        raise ValueError(
            "The 'hidden_units' parameter of ImbalancedNeuralClassifier must be a "
            f"sequence of positive ints, e.g. (64, 64). Got {hidden_units!r} instead."
        )
    return units


def check_device(device):
    """``device`` as a ``torch.device`` that exists on this machine, or a ValueError."""
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a valid torch device; use 'cpu', 'cuda' or 'cuda:N'."
        ) from exc
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but CUDA is not available on this "
                "machine (torch.cuda.is_available() is False); use device='cpu'."
            )
        count = torch.cuda.device_count()
        if parsed.index is not None and parsed.index >= count:
            raise ValueError(
                f"device={device!r} was requested but only {count} CUDA device(s) exist."
            )
    return parsed


def _holds_numbers(column):
    """Whether a DataFrame column of another dtype (object, say) holds numbers only."""
    try:
        np.asarray(column, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return True


def validate_features(estimator, X, reset, y=None):
    """Check ``X`` (and ``y``) the scikit-learn way; return ``X`` as float32 and ``y``.

    ``reset`` records ``n_features_in_`` (and ``feature_names_in_``) on the estimator.
    A ``scipy.sparse`` ``X`` comes back as a float32 CSR matrix: the batches densify
    its rows a batch at a time.
    """
    if isinstance(X, Mapping) and not sparse.issparse(X):  # a dok matrix is a dict
        raise ValueError(
            "X is a dict: inputs for a multi-input module go in a torch Dataset "
            "(e.g. skorch.dataset.Dataset(X, y)) passed with a module that takes them."
        )
    dtypes = getattr(X, "dtypes", None)
    if dtypes is not None and hasattr(dtypes, "items"):
        bad = [str(c) for c, dt in dtypes.items()
               if getattr(dt, "kind", "O") not in "biuf" and not _holds_numbers(X[c])]
        if bad:
            raise ValueError(
                f"X has non-numeric columns {bad}; encode them first, e.g. with "
                "sklearn.preprocessing.OneHotEncoder in a Pipeline."
            )
    check = dict(reset=reset, dtype=[np.float32, np.float64], ensure_min_samples=1,
                 accept_sparse="csr")
    if y is None:
        X = validate_data(estimator, X, **check)
    else:
        X, y = validate_data(estimator, X, y, **check)
        check_classification_targets(y)
    with np.errstate(over="ignore"):  # reported below, by name
        if sparse.issparse(X):
            X32 = X.astype(np.float32, copy=False)
            values = X32.data
        else:
            X32 = values = np.ascontiguousarray(X, dtype=np.float32)
    if X.dtype != np.float32 and not np.isfinite(values).all():
        raise ValueError(
            "X has values beyond the float32 range (|x| > 3.4e38) that the network "
            "computes in; scale the features (e.g. StandardScaler) first."
        )
    return X32, y


def fit_labels(y, classes, require_two, binary):
    """The labels of a fresh fit: ``classes`` where given (a superset of ``y``'s), else
    ``y``'s; ``require_two=False`` lets a first ``partial_fit`` batch hold one class,
    ``binary`` (``criterion='margin'``) allows two labels only."""
    labels = np.unique(y if classes is None else np.asarray(classes))
    if classes is not None and len(labels) < 2:
        raise ValueError(
            f"classes must list at least two labels (all the model will ever "
            f"see); got {labels.tolist()!r}."
        )
    if len(np.unique(y)) < 2 and require_two:
        raise ValueError(
            f"y has one class only ({labels[0].tolist()!r}); a classifier needs "
            "samples of at least two classes."
        )
    if binary and len(labels) != 2:
        raise ValueError(
            "Only binary classification is supported with criterion='margin' "
            f"(it is binary only), but y has {len(labels)} classes."
        )
    return labels


def check_early_stopping_split(y_enc, labels, validation_fraction):
    """Whether the encoded targets can be split for early stopping, stratified."""
    n_classes = len(labels)
    counts = np.bincount(y_enc, minlength=n_classes)
    if counts.min() < 2:
        raise ValueError(
            "early_stopping needs at least 2 samples of every class for its "
            f"stratified validation split; class {labels[counts.argmin()].tolist()!r} "
            f"has {counts.min()}."
        )
    n_valid = math.ceil(len(y_enc) * validation_fraction)
    for part, rows, fix in (("validation split", n_valid, "raise"),
                            ("training part", len(y_enc) - n_valid, "lower")):
        if rows < n_classes:
            raise ValueError(
                f"early_stopping's stratified {part} (validation_fraction="
                f"{validation_fraction} of {len(y_enc)} rows) holds {rows} row(s); it "
                f"needs one of every class ({n_classes}). {fix.capitalize()} "
                "validation_fraction, train on more rows or turn early_stopping off."
            )


def encode_labels(classes, y):
    """``y`` as positions in ``classes`` (sorted); a ValueError for a label not there."""
    try:
        y_enc = np.searchsorted(classes, y)
    except TypeError:  # e.g. text labels in an object array against int classes
        raise ValueError(
            f"y's labels cannot be compared with the classes known to the classifier "
            f"{classes.tolist()!r} (labels {y[:3].tolist()!r}... are of another "
            "type); pass labels of the classes' type."
        ) from None
    y_enc = np.clip(y_enc, 0, len(classes) - 1)
    unseen = classes[y_enc] != y
    if unseen.any():
        raise ValueError(
            f"y contains labels outside the classes known to the classifier (not seen "
            f"in the first fit, nor given as `classes`): "
            f"{np.unique(y[unseen]).tolist()}; known classes: {classes.tolist()}."
        )
    return y_enc.astype(np.int64)


def check_sample_weights(sample_weight, X):
    """Non-negative, finite float32 weights of one per row, or None."""
    if sample_weight is None:
        return None
    sample_weight = check_sample_weight(sample_weight, X, dtype=np.float32,
                                        ensure_non_negative=True)
    if not np.isfinite(sample_weight).all():
        raise ValueError("sample_weight contains NaN or infinity.")
    return sample_weight
