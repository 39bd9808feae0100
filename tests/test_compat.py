"""The private skorch and scikit-learn names ``sk_imbaloss._compat`` relies on.

When an upstream release drops or moves one, these fail and name it.
"""

import importlib
import inspect

import pytest
import skorch
import sklearn
from skorch import NeuralNet

from sk_imbaloss import _compat


@pytest.mark.parametrize("name", _compat.SKORCH_PRIVATE)
def test_skorch_private_method_exists(name):
    assert callable(getattr(NeuralNet, name, None)), (
        f"skorch {skorch.__version__} has no NeuralNet.{name}; sk_imbaloss._compat "
        "relies on it")


def test_the_copied_epoch_loop_matches_the_installed_skorch():
    assert skorch.__version__.startswith(_compat.SKORCH_TESTED), (
        f"sk_imbaloss._compat copies NeuralNet.run_single_epoch of skorch "
        f"{_compat.SKORCH_TESTED}; compare it with skorch {skorch.__version__}'s")
    # The parts of skorch's loop the copy keeps, in skorch's own source.
    source = inspect.getsource(NeuralNet.run_single_epoch)
    for line in ('self.notify("on_batch_begin", batch=batch, training=training)',
                 'self.history.record_batch(prefix + "_batch_size", batch_size)',
                 'self.history.record(prefix + "_batch_count", batch_count)'):
        assert line in source, f"skorch's run_single_epoch no longer has {line!r}"


@pytest.mark.parametrize("module, name", [
    *(("sklearn.utils._param_validation", name) for name in (
        "validate_parameter_constraints", "Interval", "StrOptions", "Options", "HasMethods")),
    ("sklearn.utils.validation", "_check_sample_weight"),
])
def test_sklearn_private_name_exists(module, name):
    assert hasattr(importlib.import_module(module), name), (
        f"scikit-learn {sklearn.__version__} has no {module}.{name}; "
        "sk_imbaloss._compat imports it")


def test_skorch_partial_fit_takes_the_routing_method():
    assert "_routing_method" in inspect.getsource(NeuralNet.partial_fit), (
        f"skorch {skorch.__version__}'s partial_fit no longer takes _routing_method; "
        "ImbalancedNeuralClassifier._fit passes it")
