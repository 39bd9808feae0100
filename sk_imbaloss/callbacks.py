"""skorch callbacks used by :class:`~sk_imbaloss.ImbalancedNeuralClassifier`."""

import numpy as np
import torch
from sklearn.metrics import get_scorer
from skorch.callbacks import Callback

__all__ = ["ImportanceHistory", "LabelScorer"]


class ImportanceHistory(Callback):
    """Record the adaptive importance per class in the history after every epoch.

    Does nothing for criteria without an ``importance`` buffer. Values are in
    ``classes_`` order: ``net.history[:, 'importance']``.
    """

    def on_epoch_end(self, net, **kwargs):
        importance = getattr(getattr(net, "criterion_", None), "importance", None)
        if isinstance(importance, torch.Tensor):
            net.history.record("importance", importance.tolist())


class LabelScorer:
    """A scikit-learn scorer for skorch's ``EpochScoring`` that sees the user's labels.

    During training skorch hands scoring callbacks the targets as the network sees
    them, encoded as positions in ``classes_``, while ``predict`` returns the user's
    labels. This scorer decodes the targets first, so any scorer name works with any
    labels: ``EpochScoring(LabelScorer("f1_macro"), lower_is_better=False)``.

    Parameters
    ----------
    scoring : str
        A name accepted by :func:`sklearn.metrics.get_scorer`.
    """

    def __init__(self, scoring):
        self.scoring = scoring

    def __call__(self, net, X, y):
        return get_scorer(self.scoring)(net, X, net.classes_[np.asarray(y)])
