"""skorch's own tests of ``NeuralNet`` and ``NeuralNetClassifier``, run against
``ImbalancedNeuralClassifier`` with skorch's defaults (see conftest.py).

Each class below subclasses one of skorch's test classes and overrides the fixtures
that name ``NeuralNetClassifier``; the tests are inherited unchanged. Not included:
``TestNeuralNetBinaryClassifier`` (another estimator, ``NeuralNetBinaryClassifier``).
"""

import inspect
import os

import pytest
import torch
import skorch
from skorch.callbacks import ProgressBar
from skorch.tests import test_classifier as skorch_test_classifier
from skorch.tests import test_net as skorch_test_net

from sk_imbaloss import ImbalancedNeuralClassifier

#: SKORCH_SUITE_CONTROL=1: plain skorch, as conftest.py reads it.
CONTROL = os.environ.get("SKORCH_SUITE_CONTROL", "") not in ("", "0")

#: skorch's default train_split: the very object NeuralNetClassifier.__init__ holds.
_SKORCH_TRAIN_SPLIT = (
    inspect.signature(skorch.NeuralNetClassifier.__init__).parameters["train_split"].default
)


class NeuralNetClassifier(ImbalancedNeuralClassifier):
    """``ImbalancedNeuralClassifier`` with the defaults of ``skorch.NeuralNetClassifier``.

    Named after skorch's class, whose place it takes: skorch's tests compare messages
    that name the net's class (``This NeuralNetClassifier instance is not ...``), and
    the estimator's own messages name ``type(self).__name__`` as skorch's do.

    skorch's NLLLoss on the module's probabilities, SGD at lr 0.01, 10 epochs, its
    stratified 5-fold validation split and verbose output. skorch's ``get_iterator``
    passes no ``shuffle`` to the ``DataLoader``, whose default is ``False``: no
    shuffling; and skorch adds no weight decay. The other parameters (batch_size=128,
    iterators, dataset, callbacks, predict_nonlinearity='auto', device, ...) have
    skorch's defaults already; the estimator's own (hidden_units, alpha, ...) act only
    on the default MLP and criteria by name, which a skorch module and criterion bypass.
    """

    def __init__(
        self,
        module,
        *,
        criterion=torch.nn.NLLLoss,
        optimizer=torch.optim.SGD,
        lr=0.01,
        max_epochs=10,
        train_split=_SKORCH_TRAIN_SPLIT,
        verbose=1,
        weight_decay=0,
        shuffle=False,
        **kwargs,
    ):
        super().__init__(
            module,
            criterion=criterion,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            train_split=train_split,
            verbose=verbose,
            weight_decay=weight_decay,
            shuffle=shuffle,
            **kwargs,
        )


#: What the tests train: the estimator, or plain skorch for the control run.
NET_CLS = skorch.NeuralNetClassifier if CONTROL else NeuralNetClassifier


class _OurNet:
    """skorch's test class with its net_cls fixture returning NET_CLS."""

    @pytest.fixture(scope="module")
    @classmethod
    def net_cls(cls):
        return NET_CLS


class TestNet(_OurNet, skorch_test_net.TestNeuralNet):
    pass


class TestClassifier(_OurNet, skorch_test_classifier.TestNeuralNet):
    pass


class TestNetSparseInput(_OurNet, skorch_test_net.TestNetSparseInput):
    pass


class TestTorchCompile(_OurNet, skorch_test_net.TestTorchCompile):
    pass


class TestMetadataRouting(_OurNet, skorch_test_net.TestMetadataRouting):
    pass


class TestTrimForPrediction(skorch_test_net.TestTrimForPrediction):
    # skorch's fixtures build NeuralNetClassifier themselves; these are theirs with
    # NET_CLS in its place.
    @pytest.fixture
    def net_untrained(self, classifier_module):
        return NET_CLS(classifier_module, max_epochs=2, callbacks=[ProgressBar()])

    @pytest.fixture
    def net_2_criteria(self, classifier_module, classifier_data):
        class MyNet(NET_CLS):
            def initialize_criterion(self):
                super().initialize_criterion()
                self.criterion2_ = classifier_module()
                return self

        X, y = classifier_data
        return MyNet(classifier_module, max_epochs=2, callbacks="disable").fit(X, y)


def test_defaults_are_skorchs():
    """The harness's net has skorch's default for every parameter skorch has, and
    neither shuffles nor decays weights (skorch's DataLoader and SGD defaults)."""
    ours = inspect.signature(NeuralNetClassifier.__init__).parameters
    mixed = {**inspect.signature(ImbalancedNeuralClassifier.__init__).parameters, **ours}
    skorch_params = {
        **inspect.signature(skorch.NeuralNet.__init__).parameters,
        **inspect.signature(skorch.NeuralNetClassifier.__init__).parameters,
    }
    for name, param in skorch_params.items():
        if param.default is inspect.Parameter.empty or name not in mixed:
            continue
        default = mixed[name].default
        assert default is param.default or default == param.default, name
    assert ours["shuffle"].default is False and ours["weight_decay"].default == 0


def test_expected_failures_name_tests(request):
    """Every entry of EXPECTED_FAILURES names a test of this module (a skorch upgrade
    that renames or drops one leaves no stale entry behind)."""
    here = os.path.join(os.path.dirname(__file__), "conftest.py")
    conftest = next(plugin for plugin in request.config.pluginmanager.get_plugins()
                    if getattr(plugin, "__file__", None) == here)
    for key in conftest.EXPECTED_FAILURES:
        cls_name, test = key.split("::")
        assert hasattr(globals().get(cls_name), test.split("[")[0]), key
