"""The columns of a comparison's results, in a module of its own so that the report,
the journal and the command line can name them without importing the runner (torch).
"""

#: The test-fold scores, in the order of the results' columns; all higher-is-better.
METRICS = (
    "balanced_accuracy",
    "g_mean",
    "roc_auc",
    "average_precision",
    "minority_f1",
    "mcc",
)

#: The columns of the results, in order; one row per (dataset, method, repeat, fold).
#: ``status`` is ``"ok"`` (scored), ``"failed"`` or ``"skipped"`` (the method does not
#: apply to the data set; not fitted); ``error`` says why for the last two.
COLUMNS = ("dataset", "method", "repeat", "fold", "seed", *METRICS, "fit_seconds",
           "status", "error")
