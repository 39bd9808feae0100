"""Class statistics of the training data: counts, the prior and per-class weights.

Pure functions of the encoded targets (positions 0..C-1 in ``classes_``); the estimator
stores their results as ``class_counts_``, ``class_prior_`` and ``class_weight_``.
"""

import numpy as np
from sklearn.utils.class_weight import compute_class_weight

__all__ = ["class_counts", "class_prior", "class_stats", "class_weight_vector",
           "effective_number_weights", "prior_shift", "prior_vector"]


def class_counts(y_enc, n_classes, sample_weight=None, previous=None):
    """Rows per class (sums of ``sample_weight`` where given), added to ``previous``.

    ``previous`` holds the counts of the data trained on before (``partial_fit``,
    warm starts), so that the prior follows all the data seen.
    """
    counts = np.bincount(y_enc, weights=sample_weight, minlength=n_classes).astype(np.float64)
    return counts if previous is None else counts + previous


def class_prior(counts):
    """Each class's share of ``counts``, as float32.

    A class known (from ``classes``) but not seen yet counts as the rarest seen class,
    so that its logit is not shifted far beyond the others'.
    """
    seen = counts > 0
    counts = np.where(seen, counts, counts[seen].min())
    return (counts / counts.sum()).astype(np.float32)


def effective_number_weights(counts, beta):
    """Class-balanced weights of Cui et al. (CVPR 2019), summing to the number of classes.

    ``weight_c = (1 - beta) / (1 - beta**n_c)``, the inverse of class ``c``'s
    effective number of samples, scaled so that the weights sum to ``C``. ``beta=0``
    gives ones; as ``beta`` approaches 1 they approach the inverse class frequencies.

    Parameters
    ----------
    counts : ndarray of shape (n_classes,), all positive
    beta : float in [0, 1)

    Returns
    -------
    weight : ndarray of shape (n_classes,), float64
    """
    counts = np.asarray(counts, dtype=np.float64)
    if beta == 0:  # 0**n_c = 0 for every n_c > 0
        return np.ones_like(counts)
    # 1 - beta**n_c as -expm1(n_c * log(beta)): no cancellation where beta**n_c is
    # close to 1. The factor 1 - beta cancels in the scaling.
    weight = -1.0 / np.expm1(counts * np.log(beta))
    return weight * (len(counts) / weight.sum())


def class_weight_vector(class_weight, classes, counts=None, beta=0.999):
    """The per-class weights that ``class_weight`` describes, in ``classes`` order.

    Parameters
    ----------
    class_weight : None, 'balanced', 'effective' or dict
        ``'balanced'`` is scikit-learn's ``n / (n_classes * count)`` on ``counts``;
        ``'effective'`` the class-balanced weights of :func:`effective_number_weights`
        on ``counts`` and ``beta``; a dict maps labels to weights (missing labels
        weigh 1).
    classes : ndarray of shape (n_classes,)
    counts : ndarray of shape (n_classes,) or None
        The (sample-weighted) class counts; needed for ``'balanced'`` and
        ``'effective'`` only.
    beta : float in [0, 1), default=0.999
        The ``beta`` of ``'effective'``.

    Returns
    -------
    weight : ndarray of shape (n_classes,), float32

    Raises
    ------
    ValueError
        For dict keys that are not classes, ``'balanced'`` or ``'effective'`` without
        rows of every class, or weights that are not finite and non-negative.
    """
    weight = class_weight
    if isinstance(weight, dict):
        position = {label: i for i, label in enumerate(classes.tolist())}
        stray = [key for key in weight if key not in position]
        if stray:
            raise ValueError(
                f"class_weight has keys that are not classes: {stray!r}; the classes "
                f"are {classes.tolist()!r}."
            )
        weight = {position[key]: value for key, value in weight.items()}
    elif weight in ("balanced", "effective") and (counts is None or (counts <= 0).any()):
        missing = classes if counts is None else classes[counts <= 0]
        raise ValueError(
            f"class_weight={weight!r} needs rows of every class (with positive sample "
            f"weight) to weigh them; none of class {missing.tolist()!r}. Give "
            "class_weight as a dict, or train on data that holds every class."
        )
    if weight == "effective":
        vector = effective_number_weights(counts, beta).astype(np.float32)
    else:
        index = np.arange(len(classes))
        vector = compute_class_weight(weight, classes=index, y=index,
                                      sample_weight=counts).astype(np.float32)
    if not (np.isfinite(vector).all() and (vector >= 0).all()):
        raise ValueError(
            f"class_weight must hold finite, non-negative weights; got {class_weight!r}."
        )
    return vector


def class_stats(classes, y_enc, sample_weight, class_weight, needs_counts, previous=None,
                beta=0.999):
    """The counts, prior and weights of a fit whose encoded targets are ``y_enc``.

    ``beta`` is that of ``class_weight='effective'``.

    ``y_enc=None`` (a Dataset without readable targets) gives None for each, or a
    ValueError when ``needs_counts`` (``class_weight`` or the logit adjustment).
    """
    if y_enc is None:
        if needs_counts:
            raise ValueError(
                "class_weight and the logit adjustment need the class frequencies: "
                "pass y (the encoded targets 0..C-1) along with the Dataset, or set "
                "class_weight=None and logit_adjustment=0."
            )
        return None, None, None
    counts = class_counts(y_enc, len(classes), sample_weight, previous)
    return counts, class_prior(counts), class_weight_vector(class_weight, classes, counts, beta)


def prior_vector(prior, classes, train_prior):
    """The class frequencies that ``prior`` describes, in ``classes`` order, summing to 1.

    Parameters
    ----------
    prior : 'train', 'balanced', array-like of shape (n_classes,) or dict
        ``'train'``: ``train_prior``; ``'balanced'``: every class equally frequent; an
        array: frequencies (or counts) in ``classes`` order; a dict: the same by label,
        one entry per class.
    classes : ndarray of shape (n_classes,)
    train_prior : ndarray of shape (n_classes,)
        The training data's class frequencies.

    Returns
    -------
    prior : ndarray of shape (n_classes,), float64

    Raises
    ------
    ValueError
        For an unknown name, a dict that does not name every class exactly, a vector
        of the wrong length, or values that are not finite, non-negative frequencies
        with a positive sum.
    """
    if isinstance(prior, str):
        if prior == "balanced":
            return np.full(len(classes), 1.0 / len(classes))
        if prior != "train":
            raise ValueError(
                f"prior must be 'train', 'balanced', an array of class frequencies in "
                f"classes_ order or a dict by label; got {prior!r}."
            )
        vector = np.asarray(train_prior, dtype=np.float64)
    elif isinstance(prior, dict):
        labels = classes.tolist()
        stray = [key for key in prior if key not in labels]
        missing = [label for label in labels if label not in prior]
        if stray or missing:
            raise ValueError(
                f"prior as a dict needs one frequency per class, {labels!r}; "
                f"missing {missing!r}, not classes {stray!r}."
            )
        vector = np.array([prior[label] for label in labels], dtype=np.float64)
    else:
        try:
            vector = np.asarray(prior, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"prior must hold numbers; got {prior!r}.") from None
        if vector.shape != (len(classes),):
            raise ValueError(
                f"prior must hold one frequency per class ({len(classes)}, in classes_ "
                f"order {classes.tolist()!r}); got shape {vector.shape}."
            )
    if not (np.isfinite(vector).all() and (vector >= 0).all() and vector.sum() > 0):
        raise ValueError(
            f"prior must hold finite, non-negative class frequencies with a positive "
            f"sum; got {vector.tolist()!r}."
        )
    return vector / vector.sum()


def prior_shift(prior, classes, train_prior, class_weight, tau, balanced_sampling=False):
    """What ``predict_proba(X, prior)`` adds to the logits before the softmax.

    ``softmax(z + tau * log(train_prior))`` estimates the posterior under the class
    frequencies the weighted loss trained for, ``trained`` (``train_prior`` times
    ``class_weight``; uniform times ``class_weight`` with balanced sampling); Bayes'
    rule moves it to ``prior``'s (:func:`prior_vector`). ``train_prior`` is None
    after a fit on a Dataset without targets: a ValueError says so.

    Returns
    -------
    shift : ndarray of shape (n_classes,), float32
    """
    if train_prior is None:
        raise ValueError(
            "prior needs the training class frequencies, which a fit on a Dataset "
            "without y does not record: pass y along with the Dataset."
        )
    target = prior_vector(prior, classes, train_prior)
    trained = class_weight * (1.0 if balanced_sampling else train_prior)
    if not (trained > 0).all():
        raise ValueError(
            f"class_weight gives {classes[trained <= 0].tolist()!r} a weight of 0: the "
            "network never learned their frequency, so no prior applies."
        )
    with np.errstate(divide="ignore"):  # a class absent where deployed: P = 0
        log_target = np.log(target)
    return (tau * np.log(train_prior) - np.log(trained) + log_target).astype(np.float32)
