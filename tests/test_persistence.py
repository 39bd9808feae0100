"""save and load: one pickle-free file that reloads the whole fitted model."""

import io
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from torch import nn

from sk_imbaloss import MLP, ImbalancedNeuralClassifier

FAST = dict(max_epochs=3, random_state=0)
FITTED = ("classes_", "n_features_in_", "max_epochs_", "class_counts_", "class_prior_",
          "class_weight_")


class Wide(nn.Module):
    """A user's network, defined outside the library."""

    def __init__(self, n_features=8, width=16):
        super().__init__()
        self.hidden = nn.Linear(n_features, width)
        self.out = nn.Linear(width, 2)

    def forward(self, X):
        return self.out(torch.relu(self.hidden(X)))


CONFIGS = {
    "adaptive": {},
    "adaptive-seed": dict(criterion="adaptive-seed"),
    "focal": dict(criterion="focal", gamma=1.0),
    "margin": dict(criterion="margin"),
    "ce": dict(criterion="ce"),
    "hidden-32": dict(hidden_units=(32,)),
    "no-dropout": dict(dropout=0.0, hidden_units=(16, 8, 4)),
    "balanced-weight": dict(criterion="ce", class_weight="balanced"),
    "dict-weight": dict(class_weight={"pos": 4.0}),
    "effective-weight": dict(criterion="focal", class_weight="effective", beta=0.99),
    "balanced-sampling": dict(sampling="balanced", logit_adjustment=0.5),
    "custom-module": dict(module=Wide, module__width=12, criterion=nn.CrossEntropyLoss),
}


def _same_params(left, right):
    assert left.keys() == right.keys()
    for name, value in left.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(value, right[name])
        else:
            assert value == right[name], name


@pytest.mark.parametrize("params", CONFIGS.values(), ids=CONFIGS.keys())
def test_a_reloaded_model_predicts_identically_and_keeps_its_attributes(
        binary_data, tmp_path, params):
    X, y = binary_data
    labels = np.array(["neg", "pos"])[y]
    clf = ImbalancedNeuralClassifier(**FAST, **params).fit(X, labels)
    clf.save(tmp_path / "model.pt")
    again = {"module": Wide, "criterion": nn.CrossEntropyLoss} if "module" in params else {}
    new = ImbalancedNeuralClassifier.load(tmp_path / "model.pt", **again)
    np.testing.assert_array_equal(new.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(new.predict(X), clf.predict(X))
    for name in FITTED:
        np.testing.assert_array_equal(getattr(new, name), getattr(clf, name), err_msg=name)
        assert np.asarray(getattr(new, name)).dtype == np.asarray(getattr(clf, name)).dtype
    if isinstance(clf.criterion, str) and clf.criterion.startswith("adaptive"):
        assert not np.allclose(clf.importance_, 1.0)  # the fitted values, not the start
        np.testing.assert_array_equal(new.importance_, clf.importance_)
    _same_params(new.get_params(deep=False), clf.get_params(deep=False))
    _same_params(clone(new).get_params(deep=False), clf.get_params(deep=False))
    new.set_params(warm_start=True).fit(X, labels)  # and it trains on
    assert len(new.history) == FAST["max_epochs"]


def test_int_labels_feature_names_and_a_file_object(binary_data):
    X, y = binary_data
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    clf = ImbalancedNeuralClassifier(class_weight={np.int64(4): 2.0}, **FAST).fit(frame, y + 3)
    buffer = io.BytesIO()
    clf.save(buffer)
    buffer.seek(0)
    new = ImbalancedNeuralClassifier.load(buffer)
    np.testing.assert_array_equal(new.feature_names_in_, clf.feature_names_in_)
    assert new.classes_.tolist() == [3, 4] and new.class_weight == {4: 2.0}
    np.testing.assert_array_equal(new.predict(frame), clf.predict(frame))


def test_a_random_state_instance_is_saved_as_none(binary_data, tmp_path):
    X, y = binary_data
    params = {**FAST, "random_state": np.random.RandomState(0)}
    clf = ImbalancedNeuralClassifier(**params).fit(X, y)
    clf.save(tmp_path / "model.pt")
    new = ImbalancedNeuralClassifier.load(tmp_path / "model.pt")
    assert new.random_state is None
    np.testing.assert_array_equal(new.predict_proba(X), clf.predict_proba(X))


def test_a_parameter_held_by_name_must_be_given_again(binary_data, tmp_path):
    X, y = binary_data
    ImbalancedNeuralClassifier(Wide, criterion=nn.CrossEntropyLoss, **FAST).fit(X, y).save(
        tmp_path / "model.pt")
    with pytest.raises(ValueError, match=r"module=.*Wide.*criterion=torch\.nn.*pass it "
                                         r"again.*module=\.\.\., criterion=\.\.\."):
        ImbalancedNeuralClassifier.load(tmp_path / "model.pt")


def test_a_load_into_another_shape_names_the_difference(binary_data, tmp_path):
    X, y = binary_data
    clf = ImbalancedNeuralClassifier(hidden_units=(32,), **FAST).fit(X, y)
    clf.save(tmp_path / "model.pt")
    with pytest.raises(ValueError, match=r"the saved network has hidden layers \(32,\), 8 "
                                         r"features and 2 classes; this one has hidden "
                                         r"layers \(64, 64\)"):
        ImbalancedNeuralClassifier.load(tmp_path / "model.pt", hidden_units=(64, 64))
    with pytest.raises(ValueError, match="'importance' is in the file only"):
        ImbalancedNeuralClassifier.load(tmp_path / "model.pt", criterion="focal")
    ImbalancedNeuralClassifier(Wide, criterion=nn.CrossEntropyLoss, **FAST).fit(X, y).save(
        tmp_path / "wide.pt")
    with pytest.raises(ValueError, match=r"'hidden.weight' has shape \(16, 8\) in the file, "
                                         r"\(4, 8\) here"):
        ImbalancedNeuralClassifier.load(tmp_path / "wide.pt", module=Wide,
                                        criterion=nn.CrossEntropyLoss, module__width=4)
    # skorch's load_params into a network of another shape, in the estimator's terms
    clf.save_params(f_params=tmp_path / "params.pt")
    other = ImbalancedNeuralClassifier(classes=[0, 1], module__n_features=8).initialize()
    with pytest.raises(ValueError, match=r"do not fit this network: the saved network has "
                                         r"hidden layers \(32,\), 8 features and 2 classes; "
                                         r"this one has hidden layers \(64, 64\)"):
        other.load_params(f_params=tmp_path / "params.pt")
    with open(tmp_path / "params.pt", "rb") as file, pytest.raises(
            ValueError, match="do not fit this network: Missing key.*layers.6.weight"):
        other.load_params(f_params=file)


class Trap:
    def __reduce__(self):
        return (print, ("code ran",))


def test_only_files_written_by_save_are_loaded(tmp_path, capsys):
    torch.save({"format": "other"}, tmp_path / "other.pt")
    (tmp_path / "trap.pt").write_bytes(pickle.dumps(Trap(), protocol=2))
    torch.save(MLP(8, 2).state_dict(), tmp_path / "weights.pt")
    for name in ("other.pt", "trap.pt", "weights.pt"):
        with pytest.raises(ValueError, match="is not a model written by "
                                             "ImbalancedNeuralClassifier.save"):
            ImbalancedNeuralClassifier.load(tmp_path / name)
    assert "code ran" not in capsys.readouterr().out


def test_save_needs_a_fitted_model(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        ImbalancedNeuralClassifier().save(tmp_path / "model.pt")
