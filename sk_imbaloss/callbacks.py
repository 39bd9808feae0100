"""skorch callbacks used by :class:`~sk_imbaloss.ImbalancedNeuralClassifier`."""

import torch
from skorch.callbacks import Callback

__all__ = ["ImportanceHistory"]


class ImportanceHistory(Callback):
    """Record the adaptive importance per class in the history after every epoch.

    Does nothing for criteria without an ``importance`` buffer. Values are in
    ``classes_`` order: ``net.history[:, 'importance']``.
    """

    def on_epoch_end(self, net, **kwargs):
        importance = getattr(getattr(net, "criterion_", None), "importance", None)
        if isinstance(importance, torch.Tensor):
            net.history.record("importance", importance.tolist())
