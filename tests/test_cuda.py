"""Device placement and host-sync freedom on CUDA.

The GPU tests skip on machines without CUDA. The device-check tests below them patch
``torch.cuda`` (a mock, because no GPU is here) to exercise the error messages.
"""

from contextlib import contextmanager

import numpy as np
import pytest
import torch

from sk_imbaloss import ImbalancedNeuralClassifier
from sk_imbaloss._data import check_device as _check_device
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
@pytest.mark.parametrize("sampling", ["shuffle", "balanced"])
def test_sparse_input_on_cuda_and_a_reload_on_the_cpu(binary_data, tmp_path, sampling):
    from scipy import sparse

    X, y = binary_data
    X = np.where(np.abs(X) < 1.0, 0.0, X).astype(np.float32)
    params = dict(device="cuda", max_epochs=3, random_state=0, sampling=sampling)
    dense = ImbalancedNeuralClassifier(**params).fit(X, y, sample_weight=np.ones(len(y)))
    clf = ImbalancedNeuralClassifier(**params).fit(sparse.csr_matrix(X), y,
                                                   sample_weight=np.ones(len(y)))
    np.testing.assert_allclose(clf.predict_proba(sparse.csr_matrix(X)),
                               dense.predict_proba(X), rtol=1e-5, atol=1e-6)
    clf.save(tmp_path / "model.pt")
    cpu = ImbalancedNeuralClassifier.load(tmp_path / "model.pt", device="cpu")
    np.testing.assert_allclose(cpu.predict_proba(X), clf.predict_proba(X), atol=1e-5)


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


@cuda
@pytest.mark.parametrize("n", [64, 4096])
def test_focal_with_prior_on_cuda_matches_the_cpu(n):
    # Focal loss with a prior gives the same loss and gradient on both devices (the
    # CPU's log_softmax goes over the transpose below 16 classes on large batches).
    torch.manual_seed(0)
    logits = torch.randn(n, 10) * 4
    target = torch.randint(10, (n,))
    loss_fn = FocalLoss(2.0, prior=torch.arange(1.0, 11.0))
    values, grads = [], []
    for device in ("cpu", "cuda"):
        z = logits.to(device).detach().clone().requires_grad_()
        loss = loss_fn.to(device)(z, target.to(device))
        loss.backward()
        values.append(loss.detach().cpu())
        grads.append(z.grad.cpu())
    torch.testing.assert_close(values[1], values[0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-4, atol=1e-7)


def _syncs_during(fn):
    """How many device-to-host synchronisations ``fn()`` makes (sync debug mode 'warn')."""
    import warnings

    torch.cuda.synchronize()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            fn()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sum("synchroniz" in str(w.message) for w in caught)


@cuda
@pytest.mark.parametrize("criterion", ["adaptive", "focal", "margin", "ce-balanced"])
@pytest.mark.parametrize("early_stopping", [False, True])
def test_syncs_of_a_fit_do_not_grow_with_its_batches(criterion, early_stopping):
    # 10 and then 40 training batches per epoch: the same number of synchronisations,
    # so no step of the epoch waits for the host.
    from sklearn.datasets import make_classification

    kwargs = {"criterion": criterion}
    if criterion == "ce-balanced":
        kwargs = {"criterion": "ce", "class_weight": "balanced"}
    counts = []
    for batches in (10, 40):
        n = batches * 128 * (10 if early_stopping else 9) // 9
        X, y = make_classification(n_samples=n, n_features=8, weights=[0.9], random_state=0)
        clf = ImbalancedNeuralClassifier(device="cuda", max_epochs=2, random_state=0,
                                         early_stopping=early_stopping, **kwargs)
        clf.fit(X[:256].astype(np.float32), y[:256])  # warm-up: lazy CUDA set-up
        clf = clf.__class__(**clf.get_params())
        X = X.astype(np.float32)
        counts.append(_syncs_during(lambda clf=clf, X=X, y=y: clf.fit(X, y)))
    assert counts[0] == counts[1], counts


@cuda
def test_cuda_fit_matches_the_cpu_fit(binary_data):
    # Same seed, so the same starting weights; no dropout and no shuffle, so the same
    # batches: the nets trained on either device agree but for float rounding.
    X, y = binary_data
    settings = {"max_epochs": 5, "random_state": 0, "dropout": 0.0, "shuffle": False}
    cpu = ImbalancedNeuralClassifier(**settings).fit(X, y)
    gpu = ImbalancedNeuralClassifier(device="cuda", **settings).fit(X, y)
    np.testing.assert_allclose(gpu.predict_proba(X), cpu.predict_proba(X), atol=1e-4)
    np.testing.assert_allclose(gpu.criterion_.importance.cpu(), cpu.criterion_.importance,
                               atol=1e-5)


@cuda
@pytest.mark.parametrize("setting", [
    {"class_weight": {0: 1.0, 1: 3.0, 2: 5.0}, "criterion": "ce"}, {"criterion": "adaptive"},
    {"criterion": "focal", "class_weight": {0: 1.0, 1: 3.0, 2: 5.0}},
    {"early_stopping": True},
])
def test_multiclass_partial_fit_warm_start_and_pickle_on_cuda(multiclass_data, setting):
    import pickle

    # (class_weight='balanced' is refused by partial_fit by design; a dict is not.)
    X, y = multiclass_data
    clf = ImbalancedNeuralClassifier(device="cuda", max_epochs=2, random_state=0,
                                     warm_start=True, **setting)
    clf.fit(X, y).fit(X, y)
    clf.partial_fit(X[:100], y[:100])
    for tensor in [*clf.module_.parameters(), *clf.criterion_.buffers()]:
        assert tensor.is_cuda
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict(X), clf.predict(X))
    assert restored.predict_proba(X).shape == (len(X), 3)


@cuda
def test_grid_search_over_losses_on_cuda(binary_data):
    from sklearn.model_selection import GridSearchCV

    X, y = binary_data
    search = GridSearchCV(
        ImbalancedNeuralClassifier(device="cuda", max_epochs=2, random_state=0),
        {"criterion": ["adaptive", "focal", "margin"]}, cv=2, scoring="balanced_accuracy",
    ).fit(X, y)
    assert next(search.best_estimator_.module_.parameters()).is_cuda


def test_cuda_index_beyond_the_devices_is_a_clear_error(monkeypatch):
    # Mocked: no GPU here, so pretend torch sees exactly one.
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert _check_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(ValueError, match="only 1 CUDA device"):
        _check_device("cuda:3")
