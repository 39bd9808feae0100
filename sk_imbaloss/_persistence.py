"""A fitted estimator in one file without pickle: ``save`` and ``load``.

The file is a ``torch.save`` of plain data only, read back with ``torch.load(...,
weights_only=True)``, which builds tensors, numbers, strings, lists and dicts and runs
no code: the state dicts of ``module_`` and ``criterion_`` (skorch's ``f_params`` and
``f_criterion``: the weights, and the importance, prior and class weight buffers), and
a JSON text of the constructor parameters and the fitted attributes that shape and
describe the network (``classes_``, ``n_features_in_``, the class statistics).
A parameter JSON cannot hold (a module class, a custom criterion, callbacks) is
recorded by name only, and ``load`` asks for it again.
"""

import inspect
import json
import os
import pickle
import re
from collections.abc import Mapping

import numpy as np
import torch

from ._data import check_device

__all__ = ["SavedModel", "state_mismatch"]

_FORMAT = "sk_imbaloss.ImbalancedNeuralClassifier/1"
_SCALARS = (type(None), bool, int, float, str)
#: Fitted attributes saved beside the parameters, with the dtype each is restored in.
_FITTED_ARRAYS = {"class_counts_": np.float64, "class_prior_": np.float32,
                  "class_weight_": np.float32}


def _plain(value):
    """``value`` as JSON data that reads back equal, or a TypeError."""
    if isinstance(value, (np.ndarray, np.generic)):
        value = value.tolist()
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, Mapping) and all(isinstance(key, str) for key in value):
        return {key: _plain(item) for key, item in value.items()}
    raise TypeError(f"{type(value).__name__} is not plain data")


def _named(value):
    """How the file names a parameter it cannot hold."""
    if inspect.isclass(value) or inspect.isfunction(value):
        return f"{value.__module__}.{value.__qualname__}"
    kind = type(value)
    return f"a {kind.__module__}.{kind.__qualname__} instance"


def _same(value, default):
    try:
        return value is default or bool(value == default)
    except (TypeError, ValueError):  # e.g. arrays
        return False


def _save(net, path):
    """Write the fitted ``net`` to ``path`` (see :meth:`SavedModel.save`)."""
    net.check_is_fitted()
    defaults = {name: p.default for name, p in
                inspect.signature(type(net).__init__).parameters.items()}
    params, by_name = {}, {}
    for name, value in net.get_params(deep=False).items():
        try:
            if name == "class_weight" and isinstance(value, Mapping):
                # Labels of any type as keys: JSON would turn them into strings.
                value = {"pairs": _plain(list(value.items()))}
            params[name] = _plain(value)
        except TypeError:
            if name == "random_state":
                params[name] = None  # a RandomState seeds training only, not prediction
            elif not _same(value, defaults.get(name, inspect.Parameter.empty)):
                by_name[name] = _named(value)
    fitted = {name: _plain(getattr(net, name, None))
              for name in ("n_features_in_", "max_epochs_", *_FITTED_ARRAYS)}
    if hasattr(net, "feature_names_in_"):
        fitted["feature_names_in_"] = _plain(net.feature_names_in_)
    if net._has_classes():
        fitted["classes_"] = _plain(net.classes_)
        fitted["classes_dtype"] = net.classes_.dtype.str
    text = json.dumps({"params": params, "by_name": by_name, "fitted": fitted})
    torch.save({"format": _FORMAT, "estimator": text,
                "module": net.module_.state_dict(),
                "criterion": net.criterion_.state_dict()}, path)


def _read(path):
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        if not (isinstance(state, dict) and state.get("format") == _FORMAT):
            raise ValueError
        return state, json.loads(state["estimator"])
    except (pickle.UnpicklingError, RuntimeError, ValueError, KeyError, EOFError) as exc:
        raise ValueError(
            f"{path} is not a model written by ImbalancedNeuralClassifier.save (a pickle "
            "or another torch file is not loaded: it could run code)."
        ) from exc


def _load(cls, path, params):
    """The model saved at ``path`` (see :meth:`SavedModel.load`)."""
    state, saved = _read(path)
    missing = {name: kind for name, kind in saved["by_name"].items() if name not in params}
    if missing:
        listed = ", ".join(f"{name}={kind}" for name, kind in missing.items())
        again = ", ".join(f"{name}=..." for name in missing)
        raise ValueError(
            f"{path} was saved with {listed}, which the file names but does not hold "
            f"(loading code is what pickle would do): pass it again, "
            f"{cls.__name__}.load({str(path)!r}, {again})."
        )
    kwargs = dict(saved["params"])
    if isinstance(kwargs.get("class_weight"), dict):
        kwargs["class_weight"] = {key: value for key, value in kwargs["class_weight"]["pairs"]}
    if isinstance(kwargs.get("hidden_units"), list):
        kwargs["hidden_units"] = tuple(kwargs["hidden_units"])
    net = cls(**{**kwargs, **params})
    fitted = saved["fitted"]
    if "classes_" in fitted:
        net.classes_inferred_ = np.array(fitted["classes_"], dtype=fitted["classes_dtype"])
    for name, dtype in _FITTED_ARRAYS.items():
        value = fitted[name]
        setattr(net, name, None if value is None else np.array(value, dtype=dtype))
    for name in ("n_features_in_", "max_epochs_"):
        if fitted[name] is not None:
            setattr(net, name, fitted[name])
    if "feature_names_in_" in fitted:
        net.feature_names_in_ = np.array(fitted["feature_names_in_"], dtype=object)
    check_device(net.device)  # a model saved on a GPU, loaded where there is none
    net.initialize()
    for part in ("module", "criterion"):
        current = getattr(net, part + "_")
        problem = state_mismatch(state[part], current.state_dict(), part)
        if problem:
            raise ValueError(f"{path}: {problem}")
        current.load_state_dict(state[part])
    return net


def _mlp_layers(state):
    """(features, hidden layers, classes) of the default MLP's state dict, or None."""
    weights = sorted(((int(m.group(1)), value) for key, value in state.items()
                      if (m := re.fullmatch(r"layers\.(\d+)\.weight", key))),
                     key=lambda item: item[0])
    if not weights or len(weights) * 2 != len(state):
        return None
    shapes = [tuple(value.shape) for _, value in weights]
    return shapes[0][1], tuple(shape[0] for shape in shapes[:-1]), shapes[-1][0]


def _describe(layers):
    features, hidden, classes = layers
    return f"hidden layers {hidden}, {features} features and {classes} classes"


def state_mismatch(saved, current, part="module"):
    """What differs between a saved and a current state dict, in words; None if they fit.

    The default MLP is described by its hidden layers, features and classes; any other
    module or criterion by the tensors that differ.
    """
    keys = sorted(saved.keys() | current.keys())
    differ = [key for key in keys if key not in saved or key not in current
              or saved[key].shape != current[key].shape]
    if not differ:
        return None
    if part == "module":
        before, now = _mlp_layers(saved), _mlp_layers(current)
        if before and now and before != now:
            return (f"the saved network has {_describe(before)}; this one has "
                    f"{_describe(now)}.")
    details = []
    for key in differ[:3]:
        if key not in current:
            details.append(f"{key!r} is in the file only")
        elif key not in saved:
            details.append(f"{key!r} is in this {part} only")
        else:
            details.append(f"{key!r} has shape {tuple(saved[key].shape)} in the file, "
                           f"{tuple(current[key].shape)} here")
    more = f" (and {len(differ) - 3} more)" if len(differ) > 3 else ""
    return f"the saved {part} does not fit this one: {'; '.join(details)}{more}."


def _load_params_mismatch(net, error, files):
    """The message for skorch's ``load_params`` into a network of another shape.

    ``error`` is torch's ``load_state_dict`` error; ``files`` maps ``'module'`` and
    ``'criterion'`` to the paths given (file objects are read already: torch's first
    difference is named instead).
    """
    for part, path in files.items():
        if isinstance(path, (str, os.PathLike)):
            saved = torch.load(path, map_location="cpu", weights_only=True)
            problem = state_mismatch(saved, getattr(net, part + "_").state_dict(), part)
            if problem:
                break
    else:
        problem = str(error).splitlines()[1].strip()  # torch's first difference
    return (f"The saved parameters do not fit this network: {problem} "
            f"{type(net).__name__}.save and .load keep the whole model in one file and "
            "build the network it describes.")


class SavedModel:
    """``save`` and ``load`` of a whole fitted estimator, and skorch's ``load_params``
    with a mismatch named in the estimator's terms; mixed into
    :class:`~sk_imbaloss.ImbalancedNeuralClassifier`."""

    def save(self, path):
        """Save the fitted model to one file, without pickle.

        The file holds the network's weights and the criterion's state (as skorch's
        ``save_params(f_params=..., f_criterion=...)`` do), the constructor parameters
        and the fitted attributes: ``classes_``, ``n_features_in_``,
        ``feature_names_in_``, ``class_counts_``, ``class_prior_``,
        ``class_weight_``, ``importance_`` and ``max_epochs_``. A parameter that is
        not plain data (a ``module`` class, a criterion class, callbacks) is recorded
        by name only: :meth:`load` asks for it; a ``RandomState`` instance as
        ``random_state`` is saved as ``None`` (it seeds training, not prediction). Not
        saved: the optimizer's state and the history (skorch's
        ``save_params(f_optimizer=..., f_history=...)``).

        Parameters
        ----------
        path : str, path-like or writable binary file
        """
        _save(self, path)

    @classmethod
    def load(cls, path, **params):
        """The model :meth:`save` wrote to ``path``, predicting as it did.

        The file is read with ``torch.load(..., weights_only=True)``, which runs no
        code, so a file from anywhere is safe to load.

        Parameters
        ----------
        path : str, path-like or readable binary file
        **params
            Constructor parameters the file holds by name only (e.g. ``module=MyNet``),
            or to change (e.g. ``device='cpu'`` for a model saved on a GPU).

        Returns
        -------
        ImbalancedNeuralClassifier
            Initialized, with the saved weights and fitted attributes.

        Raises
        ------
        ValueError
            When the file is not one :meth:`save` wrote, a parameter held by name is
            not given, or the network built from the parameters has another shape
            than the saved one (the message names the difference).
        """
        return _load(cls, path, params)

    def load_params(self, f_params=None, f_optimizer=None, f_criterion=None,
                    f_history=None, checkpoint=None, use_safetensors=False, **kwargs):
        try:
            return super().load_params(f_params, f_optimizer, f_criterion, f_history,
                                       checkpoint, use_safetensors, **kwargs)
        except RuntimeError as exc:
            if "Error(s) in loading state_dict" not in str(exc):
                raise
            files = {} if use_safetensors else {"module": f_params, "criterion": f_criterion}
            raise ValueError(_load_params_mismatch(self, exc, files)) from None
