"""In-memory data and the batch iterator behind the fast training path.

skorch's default path indexes a ``Dataset`` one sample at a time and collates the
samples back into a batch through a ``DataLoader``; for tabular data that Python
overhead costs more than the arithmetic. Here the whole training set is one tensor on
the training device and a batch is a single ``index_select`` (or a view when not
shuffling).
"""

import math

import numpy as np
import torch
from torch.utils.data import Dataset, Subset

__all__ = ["ArrayDataset", "TensorBatches"]


class ArrayDataset(Dataset):
    """Features, encoded targets and optional sample weights held as tensors.

    ``X`` and ``y`` stay available as NumPy arrays (sharing memory with the tensors on
    CPU) because skorch's scoring callbacks read them through ``data_from_dataset``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32
    y : ndarray of shape (n_samples,), int64, or None
    sample_weight : ndarray of shape (n_samples,), float32, or None
    device : str or torch.device
    """

    def __init__(self, X, y=None, sample_weight=None, device="cpu"):
        self.X = X
        self.y = y
        self.sample_weight = sample_weight
        self.device = device
        self.X_t = torch.from_numpy(X).to(device)
        self.y_t = None if y is None else torch.from_numpy(y).to(device)
        self.w_t = None if sample_weight is None else torch.from_numpy(sample_weight).to(device)

    def __len__(self):
        return self.X.shape[0]

    def _target(self, index):
        if self.y_t is None:
            return None
        if self.w_t is None:
            return self.y_t[index]
        return self.y_t[index], self.w_t[index]

    def __getitem__(self, index):
        # Per-sample access for a DataLoader, should a user configure one; the
        # placeholder target lets the default collate run on unlabelled data.
        target = self._target(index)
        return self.X_t[index], torch.zeros(()) if target is None else target

    def subset(self, indices):
        """A new ``ArrayDataset`` holding the rows ``indices``."""
        indices = np.asarray(indices)
        return ArrayDataset(
            self.X[indices],
            None if self.y is None else self.y[indices],
            None if self.sample_weight is None else self.sample_weight[indices],
            device=self.device,
        )

    def batch(self, index):
        """Rows ``index`` (a slice or a long tensor) as a skorch batch ``(X, y)``."""
        X = self.X_t[index] if isinstance(index, slice) else self.X_t.index_select(0, index)
        return X, self._target(index)


def as_array_dataset(dataset):
    """``dataset`` as an ``ArrayDataset`` when it is one or a ``Subset`` of one."""
    if isinstance(dataset, ArrayDataset):
        return dataset
    if isinstance(dataset, Subset):
        inner = as_array_dataset(dataset.dataset)
        if inner is not None:
            return inner.subset(dataset.indices)
    return None


class TensorBatches:
    """Iterate over an ``ArrayDataset`` in batches, reshuffled on every pass.

    Parameters
    ----------
    dataset : ArrayDataset
    batch_size : int
        Rows per batch; ``-1`` for the whole set in one batch.
    shuffle : bool
        Draw a new permutation (from torch's global generator, so ``random_state``
        governs it) at the start of every pass.
    drop_last : bool, default=False
        Skip a last batch smaller than ``batch_size``.
    """

    def __init__(self, dataset, batch_size, shuffle, drop_last=False):
        self.dataset = dataset
        n = len(dataset)
        self.batch_size = n if batch_size == -1 else int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last

    def __len__(self):
        n = len(self.dataset)
        if self.drop_last:
            return n // self.batch_size
        return math.ceil(n / self.batch_size)

    def __iter__(self):
        n = len(self.dataset)
        stop = n - n % self.batch_size if self.drop_last else n
        if self.shuffle:
            # One host-to-device copy of the permutation per epoch, then device-only work.
            order = torch.randperm(n).to(self.dataset.device, non_blocking=True)
            for start in range(0, stop, self.batch_size):
                yield self.dataset.batch(order[start:start + self.batch_size])
        else:
            for start in range(0, stop, self.batch_size):
                yield self.dataset.batch(slice(start, start + self.batch_size))
