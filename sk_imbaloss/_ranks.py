"""Ranks and statistical tests across data sets, as Demšar (JMLR 2006) recommends.

On each data set the methods are ranked by their mean score over the folds, the ranks
are averaged over data sets, the Friedman test asks whether any method differs, and a
Nemenyi post-hoc test says which pairs do. :mod:`sk_imbaloss.report` re-exports the
public names.
"""

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import friedmanchisquare

from ._results import LOWER_IS_BETTER

__all__ = ["FriedmanResult", "average_ranks", "friedman", "skipped_methods"]

_EXTRA_HINT = ('pip install matplotlib scikit-posthocs (the "report" extra: '
               'pip install ".[report]" in the repository)')


def _mean_scores(results, metric):
    """Data sets x methods matrix of mean scores, in the results' order."""
    means = results.groupby(["dataset", "method"], sort=False)[metric].mean()
    return means.unstack("method").reindex(
        index=results["dataset"].unique(), columns=results["method"].unique()
    )


def skipped_methods(results):
    """Methods that do not apply to some data set (e.g. binary-only ones on multi-class
    data): ``{method: [data sets]}``, in the results' order.

    They are left out of the ranks and the tests, which need every method on every
    data set; ranking them last there would count "not applicable" as "worst".
    """
    if "status" not in results:  # a frame of scores made by hand
        return {}
    skipped = results[results["status"] == "skipped"]
    return {method: rows["dataset"].unique().tolist()
            for method, rows in skipped.groupby("method", sort=False)}


#: Scores closer than this tie. Metrics of the same predictions can differ in the last
#: bits (an average precision of 1 comes out as 0.9999999999999999 or
#: 1.0000000000000002 depending on the fold), and so can means summed in another order.
_TIE_TOLERANCE = 1e-9


def _tied_ranks(values):
    """Ranks, 1 = smallest; values within the tolerance tie and share their average rank."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values))
    start = 0
    for end in range(1, len(values) + 1):
        if end < len(values) and (
            values[order[end]] == values[order[end - 1]]
            or values[order[end]] - values[order[end - 1]] <= _TIE_TOLERANCE
        ):
            continue
        ranks[order[start:end]] = (start + end + 1) / 2
        start = end
    return ranks


def _rank_matrix(results, metric):
    """Per data set, rank 1 for the best mean score (the lowest for the metrics
    :data:`LOWER_IS_BETTER`, the highest for the others); ties (within 1e-9) get their
    average rank.

    A method with no score on a data set because every fold failed ranks last there,
    so that failing never beats trying. Methods skipped as not applicable to a data
    set (:func:`skipped_methods`) are left out.
    """
    scores = _mean_scores(results, metric).drop(columns=list(skipped_methods(results)))
    losses = scores if metric in LOWER_IS_BETTER else -scores
    ranks = np.apply_along_axis(_tied_ranks, 1, losses.fillna(np.inf).to_numpy())
    return pd.DataFrame(ranks, index=scores.index, columns=scores.columns)


def average_ranks(results, metric):
    """Average rank of each method over the data sets (1 = best).

    Parameters
    ----------
    results : pandas.DataFrame
        As returned by :func:`~sk_imbaloss.compare.run_comparison`.
    metric : str
        A metric column, e.g. ``"g_mean"``.

    Returns
    -------
    ranks : pandas.Series
        Indexed by method, best first; without the methods that do not apply to
        every data set (:func:`skipped_methods`).
    """
    return _average(_rank_matrix(results, metric), metric)


def _average(rank_matrix, metric):
    ranks = rank_matrix.mean().sort_values(kind="stable")
    ranks.index.name = "method"
    return ranks.rename(metric)


@dataclass
class FriedmanResult:
    """Outcome of :func:`friedman` for one metric.

    Attributes
    ----------
    metric : str
    statistic, pvalue : float
        Friedman's chi-square and its p-value; NaN when the test was not run.
    posthoc : pandas.DataFrame or None
        Nemenyi p-values between every pair of methods, or ``None``.
    reason : str or None
        Why the test or the post-hoc was not run.
    """

    metric: str
    statistic: float = math.nan
    pvalue: float = math.nan
    posthoc: pd.DataFrame | None = None
    reason: str | None = None


def friedman(results, metric):
    """Friedman test over data sets, then a Nemenyi post-hoc test between methods.

    Parameters
    ----------
    results : pandas.DataFrame
        As returned by :func:`~sk_imbaloss.compare.run_comparison`.
    metric : str
        A metric column.

    Returns
    -------
    result : FriedmanResult
        The test is run only with at least 3 data sets and 3 methods (otherwise
        ``reason`` says so); the post-hoc needs scikit-posthocs.
    """
    return _friedman(_rank_matrix(results, metric), metric)


def _friedman(ranks, metric):
    """:func:`friedman` on a rank matrix (data sets x methods)."""
    n_datasets, n_methods = ranks.shape
    if n_datasets < 3 or n_methods < 3:
        return FriedmanResult(metric, reason=(
            f"the Friedman test needs at least 3 data sets and 3 methods; this run has "
            f"{n_datasets} data set(s) and {n_methods} method(s)"
        ))
    # The test only looks at ranks within each data set, so the rank matrix (which
    # places failed methods last) is as good an input as the scores.
    statistic, pvalue = friedmanchisquare(*ranks.to_numpy().T)
    if not np.isfinite(statistic):
        return FriedmanResult(metric, reason="every method ties on every data set")
    result = FriedmanResult(metric, float(statistic), float(pvalue))
    try:
        import scikit_posthocs
    except ImportError:
        result.reason = f"the post-hoc test needs scikit-posthocs: {_EXTRA_HINT}"
        return result
    result.posthoc = scikit_posthocs.posthoc_nemenyi_friedman(ranks)
    return result
