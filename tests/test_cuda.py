"""Device placement and host-sync freedom on CUDA.

The GPU tests skip on machines without CUDA. The device-check tests below them patch
``torch.cuda`` (a mock, because no GPU is here) to exercise the error messages.
"""

from contextlib import contextmanager

import numpy as np
import pytest
import torch

from sk_imbaloss import ImbalancedNeuralClassifier
from sk_imbaloss.classifier import _check_device
from sk_imbaloss.losses import AdaptiveCrossEntropy, FocalLoss, MarginCrossEntropy

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@contextmanager
def no_host_sync():
    """Raise on any device-to-host synchronisation inside the block."""
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        yield
    finally:
        torch.cuda.set_sync_debug_mode("default")


@cuda
@pytest.mark.parametrize("criterion", ["adaptive", "focal", "margin", "ce"])
def test_fit_and_predict_on_cuda(binary_data, criterion):
    X, y = binary_data
    clf = ImbalancedNeuralClassifier(criterion=criterion, device="cuda", max_epochs=3,
                                     random_state=0).fit(X, y)
    assert next(clf.module_.parameters()).is_cuda
    proba = clf.predict_proba(X)
    assert isinstance(proba, np.ndarray) and proba.shape == (len(X), 2)
    if criterion == "adaptive":
        assert clf.criterion_.importance.is_cuda


@cuda
def test_batch_scoring_on_cuda(binary_data):
    # BatchScoring hands the scorer the batch on the device; it predicts from a copy.
    from skorch.callbacks import BatchScoring

    X, y = binary_data
    clf = ImbalancedNeuralClassifier(
        device="cuda", max_epochs=2, random_state=0, train_split=None,
        callbacks=[BatchScoring("balanced_accuracy", on_train=True, name="b")],
    ).fit(X, y)
    assert 0.0 <= clf.history[-1, "b"] <= 1.0


@cuda
@pytest.mark.parametrize(
    "criterion, classes",
    [(lambda: AdaptiveCrossEntropy(5, alpha=0.1), 5),
     (lambda: AdaptiveCrossEntropy(5, alpha=0.1, prior=torch.arange(1.0, 6.0)), 5),
     (lambda: AdaptiveCrossEntropy(5, alpha=0.1, offset=0.0), 5), (lambda: FocalLoss(2.0), 5),
     (lambda: FocalLoss(0.5, weight=torch.ones(5)), 5),
     (lambda: FocalLoss(2.0, prior=torch.arange(1.0, 6.0)), 5),
     (lambda: MarginCrossEntropy(0.7), 2),
     (lambda: MarginCrossEntropy(0.7, prior=torch.tensor([0.9, 0.1])), 2)],
)
def test_loss_step_has_no_host_sync(criterion, classes):
    loss_fn = criterion().cuda().train()
    logits = torch.randn(512, classes, device="cuda", requires_grad=True)
    target = torch.randint(classes, (512,), device="cuda")
    loss_fn(logits, target).backward()  # warm-up outside the check
    with no_host_sync():
        loss_fn(logits, target).backward()


@cuda
@pytest.mark.parametrize("criterion", ["adaptive", "focal", "margin", "ce"])
def test_training_step_of_the_net_has_no_host_sync(binary_data, criterion):
    X, y = binary_data
    clf = ImbalancedNeuralClassifier(criterion=criterion, device="cuda", max_epochs=1,
                                     random_state=0).fit(X, y)
    dataset, _ = clf._prepare_fit_data(X, y, np.ones(len(y)), reset=False)
    batch = dataset.batch(torch.arange(64, device="cuda"))
    clf.train_step(batch)  # warm-up
    with no_host_sync():
        clf.train_step(batch)


def test_cuda_index_beyond_the_devices_is_a_clear_error(monkeypatch):
    # Mocked: no GPU here, so pretend torch sees exactly one.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert _check_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(ValueError, match="only 1 CUDA device"):
        _check_device("cuda:3")
