"""In-memory data and the batch iterator behind the fast training path.

skorch's default path indexes a ``Dataset`` one sample at a time and collates the
samples back into a batch through a ``DataLoader``; for tabular data that Python
overhead costs more than the arithmetic. Here the whole training set is one tensor on
the training device and a batch is a single ``index_select`` (or a view when not
shuffling).
With ``sampling='balanced'`` an epoch's rows are drawn instead, with class-balanced
probabilities (:class:`ClassBalancedDraws`), on this path and through a DataLoader.
"""

import math

import numpy as np
import torch
from scipy import sparse
from torch.utils.data import DataLoader, Dataset, Sampler, Subset

__all__ = ["ArrayDataset", "ClassBalancedDraws", "ClassBalancedSampler", "TensorBatches",
           "auto_epochs", "balanced_sampler", "prediction_rows"]

#: ``max_epochs='auto'``: this many epochs, or more to make at least _AUTO_STEPS steps.
_AUTO_EPOCHS = 40
_AUTO_STEPS = 500
#: At most this many values in a densified batch of sparse input at prediction (64 MiB
#: in float32): 8192 rows of a 5,000-column one-hot matrix would be 160 MiB.
_SPARSE_BATCH_VALUES = 2**24


def auto_epochs(n_rows, batch_size):
    """The epochs of ``max_epochs='auto'``: 40, or as many as make 500 gradient steps
    on ``n_rows`` rows in batches of ``batch_size`` (-1: one batch); 40 when the rows
    are not the training set's (``n_rows=None``: a partial_fit chunk)."""
    if n_rows is None:
        return _AUTO_EPOCHS
    per_epoch = 1 if batch_size == -1 else max(1, math.ceil(n_rows / batch_size))
    return max(_AUTO_EPOCHS, math.ceil(_AUTO_STEPS / per_epoch))


def prediction_rows(dataset, rows):
    """Rows per prediction batch of ``dataset``: ``rows``, fewer for sparse input so
    that a densified batch stays within _SPARSE_BATCH_VALUES."""
    if dataset.X_t is not None:
        return rows
    return min(rows, _SPARSE_BATCH_VALUES // max(1, dataset.X.shape[1]))


# The target of unlabelled data (prediction): skorch batches are (X, y) pairs, the
# evaluation step ignores y, and a DataLoader can collate a 0-d tensor.
_NO_TARGET = torch.zeros(())


class ArrayDataset(Dataset):
    """Features, encoded targets and optional sample weights held as tensors.

    A batch is ``(X, y)``; with sample weights its ``X`` is the mapping
    ``{"X": X, "sample_weight": w}``, which the classifier unpacks before the module
    sees it. Keeping the weights beside the inputs leaves ``y`` a plain tensor, as
    skorch's scoring callbacks expect.

    A ``scipy.sparse`` CSR ``X`` stays sparse in memory; a batch densifies its rows only
    (on the CPU, then copied to the device).

    Parameters
    ----------
    X : ndarray or scipy.sparse CSR matrix of shape (n_samples, n_features), float32
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
        self.X_t = None if sparse.issparse(X) else torch.from_numpy(X).to(device)
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
        if self.X_t is None:
            return self._pack(self._dense_rows([index])[0], index)
        return self._pack(self.X_t[index], index)

    def batch(self, index):
        """Rows ``index`` (a slice or a long tensor) as a skorch batch ``(X, y)``."""
        if self.X_t is None:
            X = self._dense_rows(index if isinstance(index, slice) else index.cpu().numpy())
        elif isinstance(index, slice):
            X = self.X_t[index]
        else:
            X = self.X_t.index_select(0, index)
        return self._pack(X, index)

    def _dense_rows(self, rows):
        """Rows of the sparse ``X`` as a dense tensor on the device."""
        return torch.from_numpy(self.X[rows].toarray()).to(self.device)

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


class ClassBalancedDraws:
    """Row indices drawn with replacement, each class equally likely.

    Row ``i`` of class ``c`` has probability ``1 / (C * n_c)``, ``n_c`` the rows of
    class ``c`` in ``y`` and ``C`` the classes that have rows, as with
    ``torch.utils.data.WeightedRandomSampler`` on those weights. A draw picks a class
    uniformly, then a row of it uniformly: the same distribution, with no limit on the
    number of rows (``torch.multinomial`` takes at most 2**24 categories) and no host
    sync on a GPU. The draws come from torch's generator for ``device``, so
    ``random_state`` governs them.

    Parameters
    ----------
    y : ndarray of shape (n_samples,), int
        Targets encoded as 0..C-1.
    device : str or torch.device, default='cpu'
    """

    def __init__(self, y, device="cpu"):
        y = np.asarray(y, dtype=np.int64)
        counts = np.bincount(y)
        present = np.flatnonzero(counts)
        first = np.cumsum(counts) - counts
        self.device = device
        # The rows sorted by class: class c's rows are rows[first[c]:first[c] + n_c].
        self.rows = torch.from_numpy(np.argsort(y, kind="stable")).to(device)
        self.first = torch.from_numpy(first[present]).to(device)
        self.counts = torch.from_numpy(counts[present]).to(device)

    def __call__(self, n):
        """``n`` row indices, a long tensor on the device."""
        cls = torch.randint(len(self.counts), (n,), device=self.device)
        # An int64 draw modulo n_c: uniform up to a bias below n_c / 2**62.
        within = torch.randint(2**62, (n,), device=self.device) % self.counts[cls]
        return self.rows[self.first[cls] + within]


class ClassBalancedSampler(Sampler):
    """A DataLoader sampler of ``len(y)`` class-balanced draws per epoch.

    The draws of :class:`ClassBalancedDraws` on the CPU, for skorch's DataLoader path.
    """

    def __init__(self, y):
        self.draws = ClassBalancedDraws(y)
        self.n = len(y)

    def __len__(self):
        return self.n

    def __iter__(self):
        return iter(self.draws(self.n).tolist())


def balanced_sampler(dataset, iterator, kwargs):
    """The sampler of ``sampling='balanced'`` for a DataLoader, or a ValueError.

    ``dataset`` is the training data as an ``ArrayDataset`` (None when it is not array
    input), ``iterator`` and ``kwargs`` the ``iterator_train`` class and parameters.
    """
    if dataset is None or dataset.y is None:
        raise ValueError(
            "sampling='balanced' draws from the targets of array input (X and y as "
            "arrays, with the default dataset); with a torch Dataset or dataset=..., set "
            "sampling='shuffle' and pass iterator_train__sampler="
            "torch.utils.data.WeightedRandomSampler(...)."
        )
    if not (isinstance(iterator, type) and issubclass(iterator, DataLoader)):
        raise ValueError(
            f"sampling='balanced' gives a sampler to a torch DataLoader; iterator_train="
            f"{getattr(iterator, '__name__', iterator)!r} is not one. Set "
            "sampling='shuffle' and draw the rows in the iterator."
        )
    clash = sorted({"sampler", "batch_sampler", "shuffle"} & set(kwargs))
    if clash:
        raise ValueError(
            f"iterator_train__{', iterator_train__'.join(clash)} and sampling='balanced' "
            "both choose the training rows; drop one of them."
        )
    return ClassBalancedSampler(dataset.y)


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
    balanced : bool, default=False
        Draw each pass's rows with :class:`ClassBalancedDraws` instead (as many rows
        as the data set holds; ``shuffle`` is then not used).
    """

    def __init__(self, dataset, batch_size, shuffle, drop_last=False, balanced=False):
        self.dataset = dataset
        n = len(dataset)
        self.batch_size = n if batch_size == -1 else int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.draws = ClassBalancedDraws(dataset.y, dataset.device) if balanced else None

    def __len__(self):
        n = len(self.dataset)
        if self.drop_last:
            return n // self.batch_size
        return math.ceil(n / self.batch_size)

    def __iter__(self):
        n = len(self.dataset)
        stop = n - n % self.batch_size if self.drop_last else n
        if self.draws is not None:
            order = self.draws(n)
        elif self.shuffle:
            # One host-to-device copy of the permutation per epoch, then device-only work.
            order = torch.randperm(n).to(self.dataset.device, non_blocking=True)
        else:
            for start in range(0, stop, self.batch_size):
                yield self.dataset.batch(slice(start, start + self.batch_size))
            return
        if self.dataset.X_t is None:  # sparse rows are gathered on the CPU
            order = order.cpu()
        for start in range(0, stop, self.batch_size):
            yield self.dataset.batch(order[start:start + self.batch_size])
