"""The default network: a plain multi-layer perceptron returning logits."""

from torch import nn

__all__ = ["MLP"]


class MLP(nn.Module):
    """Fully connected ReLU network ``in -> hidden... -> out`` that returns logits.

    Parameters
    ----------
    n_features : int
        Width of the input.
    n_classes : int
        Width of the output (one logit per class).
    hidden_units : sequence of int, default=(64, 64)
        Width of each hidden layer; empty for a linear (softmax regression) model.
    dropout : float, default=0.1
        Dropout probability after each hidden layer.
    """

    def __init__(self, n_features, n_classes, hidden_units=(64, 64), dropout=0.1):
        super().__init__()
        layers = []
        width = n_features
        for units in hidden_units:
            layers += [nn.Linear(width, units), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = units
        layers.append(nn.Linear(width, n_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, X):
        return self.layers(X)
