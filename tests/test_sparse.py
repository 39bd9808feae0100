"""scipy.sparse input: kept sparse, densified a batch at a time, predicting as dense."""

import numpy as np
import pandas as pd
import pytest
from scipy import sparse
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sk_imbaloss import ImbalancedNeuralClassifier

FAST = dict(max_epochs=3, random_state=0)


@pytest.fixture(scope="module")
def mostly_zero(binary_data):
    X, y = binary_data
    X = np.where(np.abs(X) < 1.0, 0.0, X).astype(np.float32)  # about two thirds zeros
    return X, y


@pytest.mark.parametrize("params", [
    {}, dict(sampling="balanced", class_weight="balanced"), dict(early_stopping=True),
    dict(iterator_train__shuffle=True),  # skorch's DataLoader path, row by row
], ids=["default", "balanced", "early-stopping", "dataloader"])
def test_sparse_and_dense_fits_predict_the_same(mostly_zero, params):
    X, y = mostly_zero
    weight = np.linspace(0.5, 2.0, len(y))
    dense = ImbalancedNeuralClassifier(**FAST, **params).fit(X, y, sample_weight=weight)
    sparse_fit = ImbalancedNeuralClassifier(**FAST, **params).fit(
        sparse.csr_matrix(X), y, sample_weight=weight)
    np.testing.assert_array_equal(sparse_fit.predict_proba(sparse.csr_matrix(X)),
                                  dense.predict_proba(X))
    np.testing.assert_array_equal(dense.predict(sparse.csc_array(X)), dense.predict(X))


def test_partial_fit_on_sparse_chunks(mostly_zero):
    X, y = mostly_zero
    dense = ImbalancedNeuralClassifier(**FAST)
    sparse_fit = ImbalancedNeuralClassifier(**FAST)
    for chunk in np.array_split(np.arange(len(y)), 3):
        dense.partial_fit(X[chunk], y[chunk], classes=[0, 1])
        sparse_fit.partial_fit(sparse.coo_matrix(X[chunk]), y[chunk], classes=[0, 1])
    np.testing.assert_array_equal(sparse_fit.predict_proba(X), dense.predict_proba(X))


def test_one_hot_of_a_300_level_column_in_a_pipeline():
    rng = np.random.RandomState(0)
    n = 3000
    city = rng.randint(300, size=n)
    frame = pd.DataFrame({"city": [f"c{c}" for c in city], "x": rng.randn(n)})
    # The minority lives in a few cities: the one-hot columns carry the signal.
    y = np.where((city < 15) & (rng.rand(n) < 0.8), "rare", "common")
    encode = ColumnTransformer([("city", OneHotEncoder(handle_unknown="ignore"), ["city"]),
                                ("x", StandardScaler(), ["x"])])
    assert sparse.issparse(encode.fit_transform(frame))  # what the classifier receives
    model = make_pipeline(encode, ImbalancedNeuralClassifier(max_epochs=10, random_state=0))
    model.fit(frame, y)
    recall = (model.predict(frame)[y == "rare"] == "rare").mean()
    assert recall > 0.5
    assert model.predict_proba(frame.iloc[:5]).shape == (5, 2)


@pytest.mark.parametrize("value, match", [(np.nan, "NaN"), (1e39, "float32 range")])
def test_bad_sparse_values_are_named(mostly_zero, value, match):
    X, y = mostly_zero
    bad = sparse.csr_matrix(X.astype(np.float64))
    bad.data[3] = value
    with pytest.raises(ValueError, match=match):
        ImbalancedNeuralClassifier(**FAST).fit(bad, y)
