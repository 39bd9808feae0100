"""sk_imbaloss: scikit-learn neural network classifiers trained with imbalance-aware losses."""

from .classifier import CRITERIA, ImbalancedNeuralClassifier, TrainingDivergedError
from .losses import AdaptiveCrossEntropy, FocalLoss, MarginCrossEntropy
from .modules import MLP

__version__ = "0.1.0"

__all__ = [
    "AdaptiveCrossEntropy",
    "CRITERIA",
    "FocalLoss",
    "ImbalancedNeuralClassifier",
    "MLP",
    "MarginCrossEntropy",
    "TrainingDivergedError",
    "__version__",
]
