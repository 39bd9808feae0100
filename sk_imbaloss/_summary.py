"""What the results of a comparison say, computed once: :class:`Summary`.

Per data set the means, then the average ranks, the Friedman and Nemenyi tests, the
leaders and the methods not significantly different from them, and what each method
costs to fit. ``sk-imbaloss compare``'s terminal tables, ``summary.md`` and the plain
words (:mod:`sk_imbaloss.report`) are all written from one.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._ranks import _TIE_TOLERANCE, _average, _friedman, _rank_matrix, skipped_methods
from ._results import METRICS

__all__ = ["HEADLINE_METRICS", "METRIC_NAMES", "Summary", "as_summary", "failures",
           "summarize"]

#: The metrics the report leads with, each with its own tables, test and figures.
HEADLINE_METRICS = ("g_mean", "average_precision", "balanced_accuracy", "roc_auc")

#: Display names of the result columns.
METRIC_NAMES = {
    "balanced_accuracy": "balanced accuracy",
    "g_mean": "G-mean",
    "roc_auc": "ROC-AUC",
    "average_precision": "average precision",
    "minority_f1": "minority F1",
    "mcc": "MCC",
    "brier": "Brier score",
    "fit_seconds": "fit seconds",
}

#: Ranked, tested and led beside the metrics a report is given: minority F1, which the
#: plain words weigh against a balanced decision, and the Brier score, the quality of
#: the probabilities.
_ALSO_RANKED = ("minority_f1", "brier")


def summarize(results, metrics=METRICS + ("fit_seconds",)):
    """Mean and standard deviation over the folds, per data set and method.

    Parameters
    ----------
    results : pandas.DataFrame
        As returned by :func:`~sk_imbaloss.compare.run_comparison`.
    metrics : sequence of str, default=METRICS + ("fit_seconds",)

    Returns
    -------
    summary : pandas.DataFrame
        Indexed by ``(dataset, method)`` in the results' order, with columns
        ``(metric, "mean")`` and ``(metric, "std")``. Failed folds are left out; a
        method that failed on every fold of a data set has NaN there.
    """
    metrics = [m for m in metrics if m in results]
    return results.groupby(["dataset", "method"], sort=False)[metrics].agg(["mean", "std"])


def failures(results):
    """The data set and method pairs with folds that were not scored.

    Parameters
    ----------
    results : pandas.DataFrame
        As returned by :func:`~sk_imbaloss.compare.run_comparison`.

    Returns
    -------
    failures : pandas.DataFrame
        One row per pair, in the results' order, with columns ``dataset``, ``method``,
        ``status`` (``"failed"`` or ``"skipped"``), ``folds`` (``"not scored/all"``,
        e.g. ``"1/10"``) and ``reason`` (the first fold's ``error``); empty when every
        fold was scored.
    """
    columns = ["dataset", "method", "status", "folds", "reason"]
    if "status" not in results:  # a frame of scores made by hand
        return pd.DataFrame(columns=columns)
    pairs = results.groupby(["dataset", "method"], sort=False)
    table = results[results["status"] != "ok"].groupby(
        ["dataset", "method"], sort=False
    ).agg(status=("status", "first"), n=("status", "size"), reason=("error", "first"))
    table["folds"] = table["n"].astype(str) + "/" + pairs.size().loc[table.index].astype(str)
    return table.reset_index()[columns]


@dataclass(frozen=True)
class Summary:
    """What the results of a comparison say, computed once: the terminal tables of
    ``sk-imbaloss compare``, ``summary.md`` and the plain words are written from it,
    so they agree. Made by :meth:`build`.

    Attributes
    ----------
    results : pandas.DataFrame
        As returned by :func:`~sk_imbaloss.compare.run_comparison`.
    metrics : tuple of str
        The metrics the report leads with: a critical-difference diagram and box plots
        each.
    ranked : tuple of str
        ``metrics``, then minority F1 and the Brier score where the results have
        them: ranked, tested and led.
    tabled : tuple of str
        ``metrics``, then every other metric of the results: a table of means each.
    alpha : float
        Significance level of the tests.
    datasets : pandas.DataFrame or None
        Per data set (the index, in the results' order), its ``rows``, ``features``,
        ``classes`` and ``minority`` (the rows of its smallest class); ``None`` when
        built without the data.
    means : pandas.DataFrame
        :func:`summarize` of the results.
    ranks : pandas.DataFrame
        The average rank (1 = best) of each method (index) on each metric of
        ``ranked`` (columns), best first on the first; without the methods that do
        not apply to every data set (:func:`skipped_methods`).
    tests : dict of str to FriedmanResult
        Per metric of ``ranked``.
    leaders : dict of str to tuple of str
        Per metric of ``ranked``, the methods sharing the best average rank.
    alike : dict of str to tuple of str or None
        Per metric of ``ranked``, the other methods not significantly different from
        the first leader: all of them where the Friedman test finds no difference,
        those the Nemenyi test does not tell from it where it does; ``None`` where
        untested.
    fit_seconds : pandas.Series
        The median seconds per fit of each method, over its scored folds.
    skipped : dict of str to list of str
        :func:`skipped_methods`.
    failures : pandas.DataFrame
        :func:`failures`.
    """

    results: pd.DataFrame
    metrics: tuple
    ranked: tuple
    tabled: tuple
    alpha: float
    datasets: pd.DataFrame | None
    means: pd.DataFrame
    ranks: pd.DataFrame
    tests: dict
    leaders: dict
    alike: dict
    fit_seconds: pd.Series
    skipped: dict
    failures: pd.DataFrame

    @classmethod
    def build(cls, results, metrics=HEADLINE_METRICS, alpha=0.05, datasets=None):
        """Rank, test and describe the results.

        Parameters
        ----------
        results : pandas.DataFrame
            As returned by :func:`~sk_imbaloss.compare.run_comparison`.
        metrics : sequence of str, default=HEADLINE_METRICS
        alpha : float, default=0.05
        datasets : list of (name, X, y), default=None
            The data sets of the run, as given to
            :func:`~sk_imbaloss.compare.run_comparison`: their sizes are described,
            and advice that holds for binary data only (tuning the decision
            threshold) is left out when one has more than two classes. Without them
            that advice says it is for binary data.

        Returns
        -------
        summary : Summary
        """
        metrics = tuple(m for m in metrics if m in results)
        ranked = (*metrics, *(m for m in _ALSO_RANKED if m in results and m not in metrics))
        tabled = (*metrics, *(m for m in METRICS if m in results and m not in metrics))
        # One rank matrix per metric, for both the average ranks and the test.
        matrices = {m: _rank_matrix(results, m) for m in ranked}
        ranks = (pd.concat([_average(matrices[m], m) for m in ranked], axis=1)
                 .sort_values(ranked[0], kind="stable") if ranked else pd.DataFrame())
        tests = {m: _friedman(matrices[m], m) for m in ranked}
        # No method to rank where each is skipped on some data set.
        by_metric = {m: ranks[m].sort_values(kind="stable") for m in ranked if len(ranks)}
        scored = results if "status" not in results else results[results["status"] == "ok"]
        seconds = (scored.groupby("method", sort=False)["fit_seconds"].median()
                   if "fit_seconds" in results else pd.Series(dtype=float))
        return cls(
            results=results, metrics=metrics, ranked=ranked, tabled=tabled, alpha=alpha,
            datasets=_describe(datasets), means=summarize(results), ranks=ranks,
            tests=tests, leaders={m: _leaders(r) for m, r in by_metric.items()},
            alike={m: _alike(r, tests[m], alpha) for m, r in by_metric.items()},
            fit_seconds=seconds, skipped=skipped_methods(results),
            failures=failures(results),
        )

    @property
    def binary(self):
        """Whether every data set has two classes; ``None`` when built without them."""
        return None if self.datasets is None else bool((self.datasets["classes"] == 2).all())


def _describe(datasets):
    if datasets is None:
        return None
    rows = []
    for name, X, y in datasets:
        _, counts = np.unique(np.asarray(y), return_counts=True)
        rows.append(dict(dataset=name, rows=len(y), features=np.shape(X)[1],
                         classes=len(counts), minority=counts.min()))
    return pd.DataFrame(rows).set_index("dataset")


def _leaders(ranks):
    """The methods sharing the best average rank (``ranks`` sorted, best first)."""
    return tuple(ranks.index[ranks <= ranks.iloc[0] + _TIE_TOLERANCE])


def _alike(ranks, test, alpha):
    """The other methods not significantly different from the first of ``ranks``."""
    leader, others = ranks.index[0], tuple(ranks.index[1:])
    if np.isnan(test.pvalue):
        return None
    if test.pvalue >= alpha:  # Friedman finds no difference: the post-hoc is not read
        return others
    if test.posthoc is None:
        return None
    return tuple(m for m in others if test.posthoc.loc[leader, m] >= alpha)


def as_summary(results, metrics, alpha):
    return (results if isinstance(results, Summary)
            else Summary.build(results, metrics, alpha))
