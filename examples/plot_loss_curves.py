"""
Loss curves: cross entropy vs the margin loss, and the adaptive importance
=========================================================================

Two experiments read from the training history that skorch keeps in ``clf.history``.

1. Write-up 001 ("Variant loss function to fix sample-imbalanced problems") trains a
   classifier on a 2:1 binary problem with cross entropy and with its margin-gated
   cross entropy (``criterion='margin'``), and reports that the validation loss of
   cross entropy turns upwards after a few epochs while the margin loss keeps
   decreasing, at about the same accuracy. We repeat it on synthetic data.
2. The adaptive loss keeps one importance per class, a moving average of the class's
   false-negative rate; we plot it per epoch for two smoothing factors ``alpha``,
   under the write-up's rule (``criterion='adaptive-seed'``), whose importance is the
   class weight itself.
"""

# %%
# A 2:1 binary problem that a wide network can overfit
# ----------------------------------------------------
# 3000 samples as in the write-up, 50 features of which 5 are informative, 5 % of
# labels flipped.
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import make_classification
from skorch.callbacks import EpochScoring

from sk_imbaloss import ImbalancedNeuralClassifier

# A network this small trains fastest on one CPU thread; more threads only contend.
torch.set_num_threads(1)
images = Path(__file__).resolve().parent.parent / "docs" / "images"
images.mkdir(parents=True, exist_ok=True)

X, y = make_classification(
    n_samples=3000, n_features=50, n_informative=5, n_redundant=0, weights=[2 / 3],
    class_sep=0.8, flip_y=0.05, random_state=0,
)
print("samples per class:", np.bincount(y))

# %%
# Training and validation loss per epoch
# --------------------------------------
# ``early_stopping=True`` holds out a stratified 20 % validation split and scores it
# every epoch (``valid_score``, balanced accuracy); a patience longer than
# ``max_epochs`` keeps it from stopping. Each criterion reports its own loss, and the
# margin loss is zero on confidently right samples, so the two ``valid_loss`` curves
# are not on the same scale: the plain log loss of both models on the same
# validation split is recorded too (``neg_log_loss`` needs the labels 0/1 that
# skorch hands to its scorers, which is what this ``y`` holds). scikit-learn clips
# float32 probabilities at their machine epsilon, so for an overconfident model the
# log loss comes out a little below its cross-entropy ``valid_loss``.
histories = {}
for criterion in ["ce", "margin"]:
    clf = ImbalancedNeuralClassifier(
        criterion=criterion, logit_adjustment=0,  # the write-up's losses, unadjusted
        hidden_units=(256, 256), max_epochs=40, batch_size=64,
        early_stopping=True, validation_fraction=0.2, n_iter_no_change=1000,
        callbacks=[("valid_log_loss", EpochScoring("neg_log_loss", name="valid_log_loss"))],
        random_state=0,
    ).fit(X, y)
    h = clf.history
    histories[criterion] = h
    best = int(np.argmin(h[:, "valid_loss"]))
    print(
        f"{criterion:6s} valid_loss: epoch 1 {h[0, 'valid_loss']:.3f}, lowest "
        f"{h[best, 'valid_loss']:.3f} at epoch {best + 1}, last {h[-1, 'valid_loss']:.3f}"
        f" | valid log loss lowest {-max(h[:, 'valid_log_loss']):.3f},"
        f" last {-h[-1, 'valid_log_loss']:.3f}"
        f" | valid balanced accuracy last {h[-1, 'valid_score']:.3f}"
        f", best {max(h[:, 'valid_score']):.3f}"
    )

fig, axes = plt.subplots(1, 3, figsize=(14, 4))
epochs = np.arange(1, len(histories["ce"]) + 1)
for ax, criterion in zip(axes[:2], histories):
    h = histories[criterion]
    ax.plot(epochs, h[:, "train_loss"], label="train_loss")
    ax.plot(epochs, h[:, "valid_loss"], label="valid_loss")
    ax.set_title(f"criterion='{criterion}': its own loss")
    ax.set_xlabel("epoch")
    ax.legend()
for criterion, h in histories.items():
    axes[2].plot(epochs, -np.array(h[:, "valid_log_loss"]), label=f"log loss, '{criterion}'")
    axes[2].plot(epochs, h[:, "valid_score"], "--", label=f"balanced accuracy, '{criterion}'")
axes[2].set_title("validation split: the same metrics for both")
axes[2].set_xlabel("epoch")
axes[2].legend(fontsize=8)
fig.tight_layout()
fig.savefig(images / "loss_curves.png", dpi=110)
print("saved", images / "loss_curves.png")

# %%
# The adaptive importance per class
# ---------------------------------
# Three classes at 0.80 / 0.15 / 0.05. The importance is updated on every training
# batch and recorded after every epoch, one value per class in ``classes_`` order.
# With about 16 batches per epoch, ``alpha=0.01`` averages over roughly 6 epochs and
# ``alpha=0.1`` over less than one, so its curve follows the last batches' noise.
X3, y3 = make_classification(
    n_samples=1000, n_features=2, n_informative=2, n_redundant=0, n_classes=3,
    n_clusters_per_class=1, weights=[0.80, 0.15, 0.05], class_sep=1.0, random_state=0,
)
fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
for ax, alpha in zip(axes, [0.01, 0.1]):
    clf = ImbalancedNeuralClassifier(
        criterion="adaptive-seed", alpha=alpha, max_epochs=100, lr=1e-2, batch_size=64,
        random_state=0,
    ).fit(X3, y3)
    importance = np.array(clf.history[:, "importance"])  # (n_epochs, n_classes)
    print(f"alpha={alpha}: importance after the last epoch", np.round(importance[-1], 3),
          "| mean over the last 20 epochs", np.round(importance[-20:].mean(axis=0), 3))
    for label, column in zip(clf.classes_, importance.T):
        ax.plot(np.arange(1, len(column) + 1), column,
                label=f"class {label} ({np.mean(y3 == label):.0%})")
    ax.set_title(f"criterion='adaptive-seed', alpha={alpha}")
    ax.set_xlabel("epoch")
axes[0].set_ylabel("importance")
axes[0].legend()
fig.tight_layout()
fig.savefig(images / "adaptive_importance.png", dpi=110)
print("saved", images / "adaptive_importance.png")
