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


# The target of unlabelled data (prediction): skorch batches are (X, y) pairs, the
# evaluation step ignores y, and a DataLoader can collate a 0-d tensor.
_NO_TARGET = torch.zeros(())


class ArrayDataset(Dataset):
    """Features, encoded targets and optional sample weights held as tensors.

    A batch is ``(X, y)``; with sample weights its ``X`` is the mapping
    ``{"X": X, "sample_weight": w}``, which the classifier unpacks before the module
    sees it. Keeping the weights beside the inputs leaves ``y`` a plain tensor, as
    skorch's scoring callbacks expect.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32
    y : ndarray of shape (n_samples,), int64, or None
        Targets encoded as indices into ``classes_``.
    sample_weight : ndarray of shape (n_samples,), float32, or None
    device : str or torch.device
    """

    def __init__(self, X, y=None, sample_weight=None, device="cpu"):
        # NumPy copies stay for skorch's ``data_from_dataset``; on CPU the tensors
        # share their memory.
        self.X = X
        self.y = y
        self.sample_weight = sample_weight
        self.device = device
        self.X_t = torch.from_numpy(X).to(device)
        self.y_t = None if y is None else torch.from_numpy(y).to(device)
        self.w_t = None if sample_weight is None else torch.from_numpy(sample_weight).to(device)

    def __len__(self):
        return self.X.shape[0]

    def _pack(self, X, index):
        if self.w_t is not None:
            X = {"X": X, "sample_weight": self.w_t[index]}
        return X, _NO_TARGET if self.y_t is None else self.y_t[index]

    def __getitem__(self, index):
        # Per-sample access, for a DataLoader a user configures.
        return self._pack(self.X_t[index], index)

    def batch(self, index):
        """Rows ``index`` (a slice or a long tensor) as a skorch batch ``(X, y)``."""
        X = self.X_t[index] if isinstance(index, slice) else self.X_t.index_select(0, index)
        return self._pack(X, index)

    def subset(self, indices):
        """A new ``ArrayDataset`` holding the rows ``indices``."""
        indices = np.asarray(indices)

        def take(array):
            return None if array is None else array[indices]

        return ArrayDataset(take(self.X), take(self.y), take(self.sample_weight),
                            device=self.device)


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
