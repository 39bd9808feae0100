"""The names of a comparison's methods and the columns of its results, in a module of
their own so that the report, the journal and the command line can name them without
importing the runner (torch).
"""

#: What identifies one fit: a row of the results, a row of the journal.
KEY = ("dataset", "method", "repeat", "fold")

#: The methods of :data:`sk_imbaloss.compare.METHODS`, in its order.
METHOD_NAMES = (
    "adaptive",
    "adaptive-seed",
    "focal",
    "margin",
    "ce",
    "ce-balanced",
    "ce-effective",
    "balanced-batches",
    "smote",
    "borderline-smote",
    "adasyn",
    "random-over",
    "random-under",
    "smote-tomek",
    "ce-threshold",
    "logreg-balanced",
    "balanced-rf",
    "hgb-balanced",
)

#: What ``sk-imbaloss compare`` runs when no ``--methods`` are given.
DEFAULT_METHODS = (
    "adaptive",
    "focal",
    "margin",
    "ce",
    "ce-balanced",
    "balanced-batches",
    "smote",
    "ce-threshold",
    "logreg-balanced",
    "balanced-rf",
)

#: The test-fold scores, in the order of the results' columns. ``brier`` scores
#: ``predict_proba`` as the method returns it (binary: the mean squared error of the
#: minority probability; multi-class: of every class's probability, summed over the
#: classes); the others score the predictions.
METRICS = (
    "balanced_accuracy",
    "g_mean",
    "roc_auc",
    "average_precision",
    "minority_f1",
    "mcc",
    "brier",
)

#: The metrics for which lower is better; higher is better for the others.
LOWER_IS_BETTER = ("brier",)

#: The columns of the results, in order; one row per (dataset, method, repeat, fold).
#: ``status`` is ``"ok"`` (scored), ``"failed"`` or ``"skipped"`` (the method does not
#: apply to the data set; not fitted); ``error`` says why for the last two.
COLUMNS = ("dataset", "method", "repeat", "fold", "seed", *METRICS, "fit_seconds",
           "status", "error")
