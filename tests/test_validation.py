"""Bad input gets a clear ValueError/TypeError naming the problem, never a torch traceback."""

import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.exceptions import NotFittedError

from sk_imbaloss import ImbalancedNeuralClassifier, TrainingDivergedError

FAST = dict(max_epochs=2, random_state=0)


@pytest.fixture
def data(binary_data):
    return binary_data


@pytest.mark.parametrize(
    "make_X, match",
    [
        (lambda X: np.where(np.arange(X.size).reshape(X.shape) == 5, np.nan, X), "NaN"),
        (lambda X: np.where(np.arange(X.size).reshape(X.shape) == 5, np.inf, X), "infinity"),
        (lambda X: X[:, 0], "Expected 2D array"),
        (lambda X: X[None], "dim 3"),
        (lambda X: X[:0], "0 sample"),
    ],
    ids=["nan", "inf", "1d", "3d", "zero-rows"],
)
def test_bad_X_at_fit(data, make_X, match):
    X, y = data
    bad = make_X(X)
    yy = y[: len(bad)] if bad.ndim == 2 else y
    with pytest.raises(ValueError, match=match):
        ImbalancedNeuralClassifier(**FAST).fit(bad, yy)


def test_non_numeric_columns_are_named(data):
    X, y = data
    frame = pd.DataFrame(X[:, :3], columns=["a", "b", "c"])
    frame["color"] = np.where(y == 1, "red", "blue")
    with pytest.raises(ValueError, match=r"non-numeric columns \['color'\]"):
        ImbalancedNeuralClassifier(**FAST).fit(frame, y)
    with pytest.raises(ValueError, match="could not convert string to float"):
        ImbalancedNeuralClassifier(**FAST).fit(frame.to_numpy(), y)


def test_one_class(data):
    X, _ = data
    with pytest.raises(ValueError, match="one class"):
        ImbalancedNeuralClassifier(**FAST).fit(X, np.zeros(len(X)))


def test_continuous_y(data):
    X, _ = data
    with pytest.raises(ValueError, match="Unknown label type"):
        ImbalancedNeuralClassifier(**FAST).fit(X, np.linspace(0, 1, len(X)))


def test_missing_y(data):
    X, _ = data
    with pytest.raises(ValueError, match="requires y"):
        ImbalancedNeuralClassifier(**FAST).fit(X, None)


def test_length_mismatch(data):
    X, y = data
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        ImbalancedNeuralClassifier(**FAST).fit(X, y[:-1])


def test_wrong_feature_count_at_predict(data):
    X, y = data
    clf = ImbalancedNeuralClassifier(**FAST).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :-1])
    with pytest.raises(ValueError, match="NaN"):
        clf.predict_proba(np.full_like(X, np.nan))


@pytest.mark.parametrize("method", ["predict", "predict_proba", "score"])
def test_predict_before_fit(data, method):
    X, y = data
    args = (X, y) if method == "score" else (X,)
    with pytest.raises(NotFittedError, match="not initialized yet"):
        getattr(ImbalancedNeuralClassifier(), method)(*args)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(criterion="hinge"), "'criterion' parameter"),
        (dict(alpha=0.0), "'alpha' parameter"),
        (dict(alpha=1.5), "'alpha' parameter"),
        (dict(gamma=-0.5), "'gamma' parameter"),
        (dict(margin=0.5), "'margin' parameter"),
        (dict(margin=1.0), "'margin' parameter"),
        (dict(class_weight="auto"), "'class_weight' parameter"),
        (dict(lr=0), "'lr' parameter"),
        (dict(max_epochs=0), "'max_epochs' parameter"),
        (dict(max_epochs="many"), "'max_epochs' parameter"),
        (dict(logit_adjustment=-1.0), "'logit_adjustment' parameter"),
        (dict(logit_adjustment="on"), "'logit_adjustment' parameter"),
        (dict(weight_decay=-0.1), "'weight_decay' parameter"),
        (dict(batch_size=0), "'batch_size' parameter"),
        (dict(dropout=1.0), "'dropout' parameter"),
        (dict(hidden_units=(64, -1)), "'hidden_units' parameter"),
        (dict(hidden_units=16), "'hidden_units' parameter"),
        (dict(early_stopping=True, scoring="nope"), "'nope' is not a valid scoring"),
        (dict(device="gpu0"), "not a valid torch device"),
        (dict(criterion="focal", criterion__reduction="sum"), "criterion__reduction only apply"),
    ],
)
def test_bad_hyperparameters_fail_at_fit_with_their_name(data, params, match):
    X, y = data
    clf = ImbalancedNeuralClassifier(**params)  # __init__ only stores
    with pytest.raises((ValueError, TypeError), match=match):
        clf.fit(X, y)


def test_margin_with_three_classes(multiclass_data):
    X, y = multiclass_data
    with pytest.raises(ValueError, match="binary only.*3 classes"):
        ImbalancedNeuralClassifier(criterion="margin", **FAST).fit(X, y)


def test_cuda_without_cuda_is_a_clear_error(data):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    X, y = data
    for device in ["cuda", "cuda:1"]:
        with pytest.raises(ValueError, match="CUDA is not available"):
            ImbalancedNeuralClassifier(device=device, **FAST).fit(X, y)


@pytest.mark.parametrize(
    "weights, match",
    [
        (lambda n: -np.ones(n), "Negative values"),
        (lambda n: np.ones(n - 1), r"sample_weight.shape == \(299,\)"),
        (lambda n: np.r_[np.nan, np.ones(n - 1)], "NaN"),
        (lambda n: np.ones((n, 2)), "1D array or scalar"),
    ],
    ids=["negative", "mis-sized", "nan", "2d"],
)
def test_bad_sample_weight(data, weights, match):
    X, y = data
    with pytest.raises(ValueError, match=match):
        ImbalancedNeuralClassifier(**FAST).fit(X, y, sample_weight=weights(len(y)))


def test_sample_weight_with_a_scalar_criterion(data):
    X, y = data
    clf = ImbalancedNeuralClassifier(criterion=torch.nn.CrossEntropyLoss, **FAST)
    with pytest.raises(ValueError, match="reduction='none'"):
        clf.fit(X, y, sample_weight=np.ones(len(y)))


def test_diverging_training_stops_with_an_error_and_no_model(data):
    X, y = data
    clf = ImbalancedNeuralClassifier(criterion="ce", lr=1e30, optimizer=torch.optim.SGD,
                                     max_epochs=20, random_state=0)
    with pytest.raises(TrainingDivergedError, match="training loss became (nan|inf) in epoch"):
        clf.fit(X * 1e6, y)
    with pytest.raises(NotFittedError):
        clf.predict(X)


def test_early_stopping_needs_two_samples_per_class(data):
    X, y = data
    y = y.copy()
    y[:] = 0
    y[:5] = 1
    y[5] = 2  # a class with one sample cannot be split
    with pytest.raises(ValueError, match="class 2 has 1"):
        ImbalancedNeuralClassifier(early_stopping=True, **FAST).fit(X, y)


def test_default_module_needs_data():
    with pytest.raises(NotFittedError, match="sized from the training data"):
        ImbalancedNeuralClassifier().initialize()


def _linear_dataset(X, y):
    return torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y))


def test_torch_dataset_input_errors(data):
    X, y = data
    dataset = _linear_dataset(X, y)
    module = dict(module=torch.nn.Linear, module__in_features=X.shape[1],
                  module__out_features=2)
    with pytest.raises(ValueError, match="sample_weight is for array input"):
        ImbalancedNeuralClassifier(**module, **FAST).fit(dataset, y, sample_weight=np.ones(len(y)))
    with pytest.raises(ValueError, match="pass a module"):
        ImbalancedNeuralClassifier(**FAST).fit(dataset, y)
    with pytest.raises(ValueError, match="early_stopping makes its stratified split"):
        ImbalancedNeuralClassifier(early_stopping=True, **module, **FAST).fit(dataset, y)


@pytest.mark.parametrize("params", [dict(class_weight="balanced"),
                                    dict(logit_adjustment=0.5)])
def test_name_only_parameters_with_a_criterion_class(data, params):
    X, y = data
    clf = ImbalancedNeuralClassifier(criterion=torch.nn.CrossEntropyLoss, **params, **FAST)
    with pytest.raises(ValueError, match="configure a criterion chosen by name"):
        clf.fit(X, y)
    # logit_adjustment=0 asks for nothing: accepted.
    ImbalancedNeuralClassifier(criterion=torch.nn.CrossEntropyLoss, logit_adjustment=0,
                               **FAST).fit(X, y)


def test_class_weight_keys_must_be_classes(data):
    X, y = data
    with pytest.raises(ValueError, match=r"keys that are not classes: \[5\]"):
        ImbalancedNeuralClassifier(class_weight={5: 2.0}, **FAST).fit(X, y)


def test_balanced_needs_every_class(data):
    X, y = data
    with pytest.raises(ValueError, match=r"none of class \[2\]"):
        ImbalancedNeuralClassifier(class_weight="balanced", classes=[0, 1, 2],
                                   **FAST).fit(X, y)
    with pytest.raises(ValueError, match="not supported for partial_fit"):
        ImbalancedNeuralClassifier(class_weight="balanced", **FAST).partial_fit(X, y)


def test_partial_fit_classes_must_not_change(data):
    X, y = data
    clf = ImbalancedNeuralClassifier(**FAST).partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="differs from the classes the classifier was first"):
        clf.partial_fit(X, y, classes=[0, 1, 2])
    clf.partial_fit(X, y, classes=[1, 0])  # the same classes in another order


def test_values_beyond_float32_are_named(data):
    X, y = data
    big = X.astype(np.float64)
    big[3, 1] = 1e39
    with pytest.raises(ValueError, match="beyond the float32 range"):
        ImbalancedNeuralClassifier(**FAST).fit(big, y)
    clf = ImbalancedNeuralClassifier(**FAST).fit(X, y)
    with pytest.raises(ValueError, match="beyond the float32 range"):
        clf.predict_proba(big)


def test_divergence_in_the_last_step_is_caught(data):
    # The loss of the one step is finite; the step itself breaks the network. Its
    # outputs are NaN: predict_proba says so instead of returning NaN (and predict
    # instead of returning the first class everywhere).
    X, y = data
    clf = ImbalancedNeuralClassifier(max_epochs=1, batch_size=-1, lr=1e30, random_state=0)
    clf.fit(X, y)
    for method in (clf.predict_proba, clf.predict):
        with pytest.raises(ValueError, match=r"outputs are NaN or infinite for 300 of 300"):
            method(X)


def test_weights_that_overflow_in_the_last_step_are_caught(data):
    X, y = data
    clf = ImbalancedNeuralClassifier(max_epochs=1, batch_size=-1, lr=1e38, random_state=0,
                                     optimizer=torch.optim.SGD, weight_decay=0)
    with pytest.raises(TrainingDivergedError, match="weights became NaN or infinite"):
        clf.fit(X, y, sample_weight=np.full(len(y), 1e6))  # a finite loss, then inf weights
    assert not clf.initialized_


def test_divergence_seen_first_by_the_validation_split(data):
    # With early stopping the validation loss of an epoch is computed before the next
    # epoch's training loss: it must stop the fit the same way.
    X, y = data
    clf = ImbalancedNeuralClassifier(max_epochs=3, batch_size=-1, lr=1e30, random_state=0,
                                     early_stopping=True)
    with pytest.raises(TrainingDivergedError, match="validation loss became nan"):
        clf.fit(X, y)
    assert not clf.initialized_


def test_set_params_on_a_net_without_callbacks(data):
    X, y = data
    clf = ImbalancedNeuralClassifier(callbacks="disable", **FAST).fit(X, y)
    clf.set_params(scoring="f1", early_stopping=True)
    assert clf.callbacks_ == []


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda C, X, y: C(criterion="ce", **FAST).partial_fit(X[y == 0], y[y == 0], classes=[0]),
         "at least two labels"),
        (lambda C, X, y: C(classes=[0], **FAST).partial_fit(X[y == 0], y[y == 0]),
         "at least two labels"),
        (lambda C, X, y: C(**FAST).partial_fit(
            X, pd.Series(np.array(["a", "b"], dtype=object)[y]), classes=[0, 1]),
         "cannot be compared with the classes"),
        (lambda C, X, y: C(early_stopping=True, **FAST).fit(X[:10], np.r_[[0] * 5, [1] * 5]),
         "validation split .* Raise validation_fraction"),
        (lambda C, X, y: C(early_stopping=True, validation_fraction=0.95, **FAST).fit(
            X[:20], np.r_[[0] * 10, [1] * 10]), "training part .* Lower validation_fraction"),
        (lambda C, X, y: C(module__dropout=0.2, **FAST).fit(X, y), "module__dropout"),
        (lambda C, X, y: C(**FAST).fit({"a": X[:, :2], "b": X[:, 2:]}, y), "X is a dict"),
        (lambda C, X, y: C(class_weight={0: -1.0, 1: 1.0}, **FAST).fit(X, y),
         "class_weight must hold finite, non-negative"),
    ],
    ids=["one-class-classes", "one-class-init", "object-labels", "early-stopping-split",
         "early-stopping-train",
         "module-dropout", "dict-X", "negative-class-weight"],
)
def test_unclear_errors_name_the_problem(data, call, match):
    X, y = data
    with pytest.raises(ValueError, match=match):
        call(ImbalancedNeuralClassifier, X, y)


def test_a_fit_diverging_to_huge_finite_losses_warns(data):
    from sklearn.exceptions import ConvergenceWarning

    X, y = data
    with pytest.warns(ConvergenceWarning, match="training loss grew from .* the fit diverged"):
        ImbalancedNeuralClassifier(lr=1e3, max_epochs=5, random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        ImbalancedNeuralClassifier(max_epochs=5, random_state=0).fit(X, y)
