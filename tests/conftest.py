"""Shared fixtures: fixed seeds, small data sets and the KEEL folder beside the repo."""

from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification

KEEL_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "imbalanced"

# The suite runs in parallel (pytest -n 2): one torch thread per worker. Several workers
# each spinning a multi-threaded pool on small matrices slow each other down manyfold.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    np.random.seed(0)
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def binary_data():
    """300 rows, 8 features, about 10 % minority."""
    X, y = make_classification(
        n_samples=300, n_features=8, n_informative=4, weights=[0.9], random_state=0
    )
    return X.astype(np.float32), y


@pytest.fixture(scope="session")
def multiclass_data():
    X, y = make_classification(
        n_samples=300, n_features=8, n_informative=5, n_classes=3,
        weights=[0.7, 0.2, 0.1], random_state=0,
    )
    return X.astype(np.float32), y


def load_keel(name):
    """A KEEL data set from ``../shared/data/imbalanced`` as (X, y), or skip."""
    path = KEEL_DIR / f"{name}.csv.gz"
    if not path.exists():
        pytest.skip(f"KEEL data folder not found at {KEEL_DIR} (it lies beside the repo)")
    import pandas as pd

    frame = pd.read_csv(path)
    return frame.drop(columns="target"), frame["target"].to_numpy()


@pytest.fixture(scope="session")
def keel():
    """``keel(name)`` loads a KEEL data set, or skips when the folder is absent."""
    return load_keel
