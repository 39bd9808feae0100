"""sk_imbaloss: scikit-learn neural network classifiers trained with imbalance-aware losses.

The estimator and the losses are imported on first use, so that the command line
(``sk-imbaloss compare --help``) starts without importing torch.
"""

from importlib import import_module

__version__ = "0.1.0"

# Public name -> the module that defines it.
_LAZY = {
    "AdaptiveCrossEntropy": ".losses",
    "CRITERIA": ".classifier",
    "FocalLoss": ".losses",
    "ImbalancedNeuralClassifier": ".classifier",
    "MLP": ".modules",
    "MarginCrossEntropy": ".losses",
    "TrainingDivergedError": ".classifier",
}

__all__ = [*sorted(_LAZY), "__version__"]


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_LAZY[name], __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__():
    return sorted({*globals(), *_LAZY})
