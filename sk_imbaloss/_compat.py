"""The one module that relies on private names of skorch and scikit-learn.

What it relies on, checked by ``tests/test_compat.py`` (which names the one missing
when an upstream release drops it):

skorch (``skorch.NeuralNet``)
    ``_initialize_module``, ``_initialize_criterion``, ``_initialize_optimizer``,
    ``_initialize_callbacks``
        rebuild one part of an initialized net after ``set_params`` changed a
        top-level parameter (device placement and skorch's re-init messages included),
        as skorch's own ``set_params`` does for ``module__*`` keys.
    ``_get_param_names``
        overridden to leave skorch's private ``_params_to_validate`` out of
        ``get_params`` and ``clone``.
    ``partial_fit(..., _routing_method=...)``
        the estimator's ``fit`` trains through skorch's ``partial_fit``, as skorch's
        own ``fit`` does, and names itself for metadata routing as skorch's does.
    ``run_single_epoch`` (copied from skorch 1.4; :data:`SKORCH_TESTED` lists the
    versions it was compared with)
        the same loop with the batch losses kept on the device until the epoch ends:
        one device-to-host transfer per epoch instead of one ``.item()`` per batch.
scikit-learn
    ``sklearn.utils._param_validation``: ``validate_parameter_constraints`` and the
    constraint types, the same checks and messages as scikit-learn's estimators (skorch
    shadows ``_validate_params``, so the estimator calls them itself).
    ``sklearn.utils.validation._check_sample_weight``.
"""

import math
import warnings

import skorch
import torch
from sklearn.utils._param_validation import (  # noqa: F401 - re-exported
    HasMethods,
    Interval,
    Options,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.validation import _check_sample_weight as check_sample_weight
from skorch.dataset import get_len

__all__ = [
    "SKORCH_PRIVATE",
    "SKORCH_TESTED",
    "SyncFreeEpochs",
    "check_sample_weight",
    "validate_parameter_constraints",
]

#: skorch's private methods the estimator calls or overrides.
SKORCH_PRIVATE = ("_initialize_module", "_initialize_criterion", "_initialize_optimizer",
                  "_initialize_callbacks", "_get_param_names")
#: skorch releases whose ``NeuralNet.run_single_epoch`` the copy below follows.
SKORCH_TESTED = ("1.4",)

if not skorch.__version__.startswith(SKORCH_TESTED):
    warnings.warn(
        f"sk_imbaloss copies skorch's run_single_epoch as of skorch "
        f"{', '.join(SKORCH_TESTED)}; skorch {skorch.__version__} is installed and may "
        "have changed it.", RuntimeWarning, stacklevel=2)


class TrainingDivergedError(FloatingPointError):
    """The loss or the weights became NaN or infinite in training; the fit was abandoned."""


class SyncFreeEpochs:
    """A mixin for a skorch net: ``run_single_epoch`` without a host sync per batch."""

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        # skorch 1.4's loop, with two changes: a batch's loss is recorded as a detached
        # tensor and turned into floats once, after the last batch (on a GPU, skorch's
        # ``.item()`` per batch waits for every step to finish), and a loss that is not
        # finite stops the fit with an error naming the epoch.
        if iterator is None:
            return
        losses = []
        try:
            for batch in iterator:
                self.notify("on_batch_begin", batch=batch, training=training)
                step = step_fn(batch, **fit_params)
                losses.append(step["loss"].detach())
                self.history.record_batch(prefix + "_loss", losses[-1])
                batch_size = (get_len(batch[0]) if isinstance(batch, (tuple, list))
                              else get_len(batch))
                self.history.record_batch(prefix + "_batch_size", batch_size)
                self.notify("on_batch_end", batch=batch, training=training, **step)
        finally:  # an interrupted epoch keeps floats in the history too
            values = torch.stack(losses).tolist() if losses else []
            entries = [b for b in self.history[-1]["batches"] if prefix + "_loss" in b]
            for entry, value in zip(entries[-len(values):], values):
                entry[prefix + "_loss"] = value
        self.history.record(prefix + "_batch_count", len(losses))
        bad = next((v for v in values if not math.isfinite(v)), None)
        if bad is not None:
            raise TrainingDivergedError(
                f"The {'training' if training else 'validation'} loss became {bad} in "
                f"epoch {len(self.history)}; the network diverged. Lower lr, scale the "
                "features (e.g. StandardScaler) or check the data and sample weights."
            )

    def _get_param_names(self):
        # skorch lists every attribute without a trailing underscore, which leaks its
        # private ``_params_to_validate`` into get_params/clone.
        return [name for name in super()._get_param_names() if not name.startswith("_")]
