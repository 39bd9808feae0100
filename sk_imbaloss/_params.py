"""The estimator's hyperparameters: their constraints and the checks across them.

Validated the scikit-learn way (``_parameter_constraints``), so that a bad ``gamma``
gets the same message as a bad parameter of any scikit-learn estimator; skorch shadows
``_validate_params``, so :func:`check_params` calls scikit-learn's check itself.
"""

import inspect
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.metrics import get_scorer

from ._compat import HasMethods, Interval, Options, StrOptions, validate_parameter_constraints
from ._data import check_hidden_units

__all__ = ["CRITERIA", "PARAMETER_CONSTRAINTS", "check_params", "check_partial_fit"]

#: The criteria selectable by name.
CRITERIA = ("adaptive", "adaptive-seed", "focal", "margin", "ce")

PARAMETER_CONSTRAINTS = {
    "module": [None, HasMethods("forward"), callable],
    "criterion": [StrOptions(set(CRITERIA)), callable],
    "alpha": [Interval(Real, 0, 1, closed="right")],
    "gamma": [Interval(Real, 0, None, closed="left")],
    "margin": [Interval(Real, 0.5, 1, closed="neither")],
    "class_weight": [None, StrOptions({"balanced", "effective"}), dict],
    "beta": [Interval(Real, 0, 1, closed="left")],
    "dropout": [Interval(Real, 0, 1, closed="left")],
    "lr": [Interval(Real, 0, None, closed="neither")],
    "max_epochs": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
    "logit_adjustment": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
    "weight_decay": [Interval(Real, 0, None, closed="left")],
    "batch_size": [Interval(Integral, 1, None, closed="left"), Options(Integral, {-1})],
    "shuffle": ["boolean"],
    "sampling": [StrOptions({"shuffle", "balanced"})],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
    "scoring": [str],
    "random_state": ["random_state"],
    "device": [str, torch.device],
    "num_threads": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
    "verbose": ["verbose"],
}


def check_params(estimator, params=None):
    """Validate ``estimator``'s hyperparameters, ``params`` taking precedence.

    Raises a ValueError naming the parameter; ``set_params`` calls it before assigning,
    ``fit`` before training.
    """
    names = (*PARAMETER_CONSTRAINTS, "hidden_units", "optimizer")
    params = {k: getattr(estimator, k) for k in names} | (params or {})
    validate_parameter_constraints(
        PARAMETER_CONSTRAINTS, {k: params[k] for k in PARAMETER_CONSTRAINTS},
        caller_name=type(estimator).__name__,
    )
    check_hidden_units(params["hidden_units"])
    if params["sampling"] == "balanced" and not params["shuffle"]:
        raise ValueError(
            "sampling='balanced' draws the rows of every epoch at random, which "
            "shuffle=False rules out; keep shuffle=True with it, or use "
            "sampling='shuffle'."
        )
    if params["early_stopping"]:
        get_scorer(params["scoring"])  # an unknown name raises a ValueError naming it
    by_name = isinstance(params["criterion"], str)
    if not by_name and (params["class_weight"] is not None
                        or params["logit_adjustment"] not in ("auto", 0)):
        name = getattr(params["criterion"], "__name__", repr(params["criterion"]))
        raise ValueError(
            "class_weight and logit_adjustment configure a criterion chosen by name; "
            f"{name} is built from its own criterion__* parameters (e.g. "
            "criterion__weight), so set class_weight=None and logit_adjustment='auto'."
        )
    weighted = params["class_weight"] in ("balanced", "effective")
    if by_name and weighted and params["logit_adjustment"] not in ("auto", 0):
        # Both correct for the class frequencies: together they favour the rare
        # classes twice (on 3 classes of 80/15/5 %, balanced accuracy 0.81 -> 0.72).
        warnings.warn(
            f"class_weight={params['class_weight']!r} and logit_adjustment="
            f"{params['logit_adjustment']!r} both correct for the class frequencies, "
            "which favours the rare classes twice. Keep logit_adjustment='auto' (the "
            "weights then replace the adjustment), or set class_weight=None (the "
            "adjustment alone), or give the weights as a dict (a cost on top).",
            UserWarning, stacklevel=4,
        )
    optimizer = params["optimizer"]
    if (params["weight_decay"] and "optimizer__weight_decay" not in vars(estimator)
            and "weight_decay" not in inspect.signature(optimizer).parameters):
        name = getattr(optimizer, "__name__", repr(optimizer))
        raise ValueError(
            f"weight_decay={params['weight_decay']!r} but {name} has no weight_decay "
            "parameter; set weight_decay=0 for this optimizer."
        )
    stray = sorted(k for k in vars(estimator) if k.startswith("criterion__"))
    if by_name and stray:
        raise ValueError(
            f"{', '.join(stray)} only apply to a criterion class; with "
            f"criterion={params['criterion']!r} use the top-level alpha, gamma, "
            "margin and class_weight parameters."
        )


def check_partial_fit(class_weight, classes, fitted_classes):
    """Refuse what ``partial_fit`` cannot do: weights from a chunk's class counts, or
    ``classes`` other than those of the net's first fit (``fitted_classes``; None
    before it)."""
    if class_weight in ("balanced", "effective"):
        raise ValueError(
            f"class_weight={class_weight!r} is not supported for partial_fit (a chunk's "
            "class counts are not the data's); as in scikit-learn, compute the weights "
            "on all the data (e.g. sklearn.utils.class_weight.compute_class_weight) and "
            "pass them as a dict."
        )
    if classes is not None and fitted_classes is not None:
        given = np.unique(np.asarray(classes))
        if not np.array_equal(given, fitted_classes):
            raise ValueError(
                f"classes={given.tolist()!r} differs from the classes the classifier "
                f"was first fitted or initialized with, {fitted_classes.tolist()!r}."
            )
