"""Summaries, ranks, statistical tests and figures from :func:`~sk_imbaloss.compare.run_comparison`.

Methods are compared across data sets as Demšar (JMLR 2006) recommends: on each data
set the methods are ranked by their mean score over the folds, the ranks are averaged
over data sets, the Friedman test asks whether any method differs, and a Nemenyi
post-hoc test (shown as a critical-difference diagram) says which pairs do.

The figures and the post-hoc test need the ``report`` extra (``pip install
".[report]"`` in the repository: matplotlib and scikit-posthocs); without it the CSV
and the markdown summary are still written.
"""

import math
import re
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from ._ranks import (
    _EXTRA_HINT,
    _TIE_TOLERANCE,
    FriedmanResult,
    _average,
    _friedman,
    _rank_matrix,
    average_ranks,
    friedman,
    skipped_methods,
)
from ._results import LOWER_IS_BETTER, METRICS
from .journal import Journal

__all__ = [
    "HEADLINE_METRICS",
    "METRIC_NAMES",
    "FriedmanResult",
    "Summary",
    "average_ranks",
    "failures",
    "friedman",
    "in_plain_words",
    "report_files",
    "skipped_methods",
    "summarize",
    "write_report",
]

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


# ---------------------------------------------------------------------- tables
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


# ---------------------------------------------------------------------- the summary
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


def _as_summary(results, metrics, alpha):
    return (results if isinstance(results, Summary)
            else Summary.build(results, metrics, alpha))


# ---------------------------------------------------------------------- markdown
def _fmt(value, digits=3):
    return "–" if pd.isna(value) else f"{value:.{digits}f}"


# Characters that markdown would read as syntax in a table cell: a "|" in a data set's
# name would end its cell, a "*" or "_" start emphasis.
_MARKDOWN_SYNTAX = re.compile(r"([\\`*_\[\]<>|])")


def _cell(value):
    """A table cell showing ``value`` as it is."""
    return _MARKDOWN_SYNTAX.sub(r"\\\1", " ".join(str(value).splitlines()))


def _code(name):
    """A name as inline code, whatever backticks it holds."""
    name = " ".join(str(name).splitlines())
    fence = "`" * (max(map(len, re.findall("`+", name)), default=0) + 1)
    pad = " " if name.startswith("`") or name.endswith("`") else ""
    return f"{fence}{pad}{name}{pad}{fence}"


def _markdown_table(frame):
    """A pipe table of a frame, the index as the first column; every cell escaped."""
    header = [_cell(frame.index.name or ""), *map(_cell, frame.columns)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, row in frame.iterrows():
        lines.append("| " + " | ".join([_cell(label), *map(_cell, row)]) + " |")
    return "\n".join(lines)


def _mean_std_table(means, metric, digits=3):
    """Methods x data sets, each cell ``mean ± std``."""
    cells = means[metric].apply(
        lambda r: f"{_fmt(r['mean'], digits)} ± {_fmt(r['std'], digits)}", axis=1
    )
    table = cells.unstack("dataset")
    table = table.reindex(
        index=means.index.get_level_values("method").unique(),
        columns=means.index.get_level_values("dataset").unique(),
    )
    table.index.name = "method"
    return table


def _skipped_note(skipped):
    """A sentence naming the methods left out of the ranks, or None."""
    if not skipped:
        return None
    listed = "; ".join(f"{_code(m)} (not run on {', '.join(map(_code, sets))})"
                       for m, sets in skipped.items())
    return ("Left out of the ranks and the tests, which need every method on every "
            f"data set: {listed}.")


def _direction(metrics):
    """Which way is better, for the metrics given."""
    lower = [METRIC_NAMES[m] for m in metrics if m in LOWER_IS_BETTER]
    if not lower:
        return "for every metric higher is better"
    return (f"higher is better for every metric but the {_join(lower)} (of the "
            "probabilities of `predict_proba`, as each method returns them), where lower is")


def _overview(summary):
    results = summary.results
    n_splits = results.groupby(["dataset", "method"])[["repeat", "fold"]].nunique()
    folds, repeats = int(n_splits["fold"].max()), int(n_splits["repeat"].max())
    datasets = ", ".join(map(_code, results["dataset"].unique()))
    methods = ", ".join(map(_code, results["method"].unique()))
    text = (
        f"Data sets: {datasets}.\n\nMethods: {methods}.\n\n"
        f"Repeated stratified {folds}-fold cross-validation, {repeats} repeat(s). "
        f"Scores are on the test folds, as mean ± standard deviation over the "
        f"{folds * repeats} folds; {_direction(summary.tabled)}, and the minority class "
        "is the positive class."
    )
    if summary.datasets is not None:
        text += "\n\n" + _markdown_table(summary.datasets.rename_axis("data set"))
    return text


def _join(words):
    """``a``, ``a and b``, ``a, b and c``."""
    words = list(words)
    return ", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else "".join(words)


def _by_reason(tests, not_run):
    """Metrics grouped by the reason their test (``not_run``) or post-hoc was not run."""
    groups = {}
    for metric, test in tests.items():
        if np.isnan(test.statistic) == not_run and test.posthoc is None and test.reason:
            groups.setdefault(test.reason, []).append(metric)
    return groups


def _for_metrics(group, among):
    """`` for G-mean and ROC-AUC``, or nothing when the group is every one of ``among``."""
    if len(group) == len(among):
        return ""
    return " for " + _join(METRIC_NAMES[m] for m in group)


def _tests_section(tests, figures, alpha):
    lines = []
    # A reason shared by several metrics (too few data sets, no scikit-posthocs) is
    # said once.
    run = [m for m, test in tests.items() if not np.isnan(test.statistic)]
    for reason, group in _by_reason(tests, not_run=True).items():
        lines.append(f"Not run{_for_metrics(group, tests)}: {reason}.\n")
    for reason, group in _by_reason(tests, not_run=False).items():
        lines.append(f"No post-hoc test{_for_metrics(group, run)}: {reason}.\n")
    for metric in run:
        test = tests[metric]
        lines.append(f"### {METRIC_NAMES[metric]}\n")
        verdict = "differ" if test.pvalue < alpha else "do not differ"
        lines.append(
            f"Friedman χ² = {test.statistic:.3f}, p = {test.pvalue:.3g}: at α = {alpha} "
            f"the methods {verdict} significantly.\n"
        )
        if test.posthoc is None:
            continue
        table = test.posthoc.map(lambda p: f"{p:.3g}")
        table.index.name = ""
        lines.append("Nemenyi post-hoc p-values (shown whatever the Friedman outcome; "
                     "read them only where it is significant):\n\n" + _markdown_table(table) + "\n")
        if metric in figures.get("cd", {}):
            path = figures["cd"][metric]
            lines.append(f"![critical difference diagram, {METRIC_NAMES[metric]}]"
                         f"({path.name})\n")
    return "\n".join(lines)


def _summary_markdown(summary, figures, figure_note):
    parts = ["# sk-imbaloss compare\n", _overview(summary) + "\n"]

    table = summary.failures.set_index("dataset")
    if len(table):
        parts.append("## Failed or skipped fits\n\nTheir folds are left out of the "
                     "means; a method whose every fold failed on a data set ranks last "
                     "there, and one skipped as not applicable is left out of the ranks "
                     "and tests.\n")
        parts.append(_markdown_table(table) + "\n")

    for metric in summary.tabled:
        parts.append(f"## {METRIC_NAMES[metric]}\n")
        parts.append(_markdown_table(_mean_std_table(summary.means, metric)) + "\n")

    parts.append("## Average ranks\n\nOn each data set the methods are ranked by mean "
                 "score (1 = best, ties share the average rank); the table averages "
                 "the ranks over the data sets.\n")
    note = _skipped_note(summary.skipped)
    if note:
        parts.append(note + "\n")
    ranks = summary.ranks.rename(columns=METRIC_NAMES)
    parts.append(_markdown_table(ranks.map(lambda r: f"{r:.2f}")) + "\n")

    parts.append("## Statistical tests\n")
    parts.append(_tests_section(summary.tests, figures, summary.alpha))

    parts.append("## Fit time\n\nSeconds per fit on the training fold; the last column "
                 "is the median over every scored fold, the one the plain words give.\n")
    table = _mean_std_table(summary.means, "fit_seconds", digits=2)
    table["median"] = summary.fit_seconds.reindex(table.index).map(_fmt_seconds)
    parts.append(_markdown_table(table) + "\n")

    parts.append("## Figures\n")
    if figure_note:
        parts.append(figure_note + "\n")
    for metric, path in figures.get("box", {}).items():
        parts.append(f"![{METRIC_NAMES[metric]} per method]({path.name})\n")

    parts.append("## In plain words\n")
    parts += [p + "\n" for p in in_plain_words(summary, markdown=True)]
    return "\n".join(parts).rstrip("\n") + "\n"


# ---------------------------------------------------------------------- plain words
#: A decision balanced between the classes scores well on these: minority recall
#: counts as much as majority recall.
_BALANCED_METRICS = ("g_mean", "balanced_accuracy")

_TUNE_F1 = 'TunedThresholdClassifierCV(model, scoring="f1")'


def _fmt_seconds(seconds):
    """0.042, 4.1, 37, 412: two significant digits, none after the point from 100."""
    if pd.isna(seconds):
        return "–"
    return f"{seconds:.2g}" if seconds < 100 else f"{seconds:.0f}"


def _leads(summary, name):
    """Which method leads on which metric."""
    groups = {}
    for metric in summary.ranked:
        groups.setdefault(summary.leaders[metric], []).append(
            f"{METRIC_NAMES[metric]} ({summary.ranks[metric].min():.2f})")
    n_datasets = summary.results["dataset"].nunique()
    where = (f"Average rank over {n_datasets} data sets" if n_datasets > 1
             else "Rank on the one data set")
    clauses = [f"{_join(map(name, leaders))} "
               f"{'leads' if len(leaders) == 1 else 'tie for the lead'} on {_join(on)}"
               for leaders, on in groups.items()]
    return (f"{where} (1 = best of {len(summary.ranks)}): " + "; ".join(clauses) + ".")


def _significance(summary, name, markdown):
    """What is and is not significant, metric by metric."""
    tests, alpha, sentences = summary.tests, summary.alpha, []
    for reason, group in _by_reason(tests, not_run=True).items():
        why = "see Statistical tests" if markdown else reason
        sentences.append(f"Significance{_for_metrics(group, tests)}: not tested ({why}), "
                         "so no difference in these ranks is shown to be more than chance.")
    def on(metrics, verdict):
        # .3g, as in Statistical tests: at .2g a p of 0.0498 would read 0.05, i.e. alpha.
        ps = _join(f"{tests[m].pvalue:.3g}" for m in metrics)
        return (f"On {_join(METRIC_NAMES[m] for m in metrics)} the methods {verdict} "
                f"(Friedman p = {ps}, at α = {alpha}).")

    alike = [m for m, t in tests.items() if t.pvalue >= alpha]
    if alike:
        sentences.append(on(alike, "are not significantly different"))
    differ = [m for m, t in tests.items() if t.pvalue < alpha]
    if differ:
        sentences.append(on(differ, "differ significantly"))
    for reason, group in _by_reason({m: tests[m] for m in differ}, not_run=False).items():
        sentences.append(f"Which pairs differ{_for_metrics(group, differ)} needs the "
                         f"post-hoc test ({'see Statistical tests' if markdown else reason}).")
    return " ".join(sentences)


def _times(ratios):
    """``155``, ``3.9`` or ``131 to 155``: how many times cheaper."""
    low, high = (f"{r:.0f}" if r >= 10 else f"{r:.1f}" for r in (min(ratios), max(ratios)))
    return low if low == high else f"{low} to {high}"


def _cheaper(leaders, alike, seconds, name):
    """The cheapest method of ``alike`` (and ``leaders``), when every other leader costs
    at least twice as much: a sentence, or None."""
    costs = seconds.reindex(list(dict.fromkeys([*leaders, *alike]))).dropna()
    if costs.empty or not costs.min() > 0:
        return None
    cheapest = costs.idxmin()
    others = [m for m in leaders if m != cheapest and m in costs]
    ratios = [costs[m] / costs[cheapest] for m in others]
    if not ratios or min(ratios) < 2:
        return None
    return (f"{name(cheapest)} ({_fmt_seconds(costs[cheapest])} s) is not significantly "
            f"worse there and {_times(ratios)} times cheaper to fit than "
            f"{_join(map(name, others))}.")


def _costs(summary, name):
    """For the leader of each tested metric: the methods as good and what each costs."""
    seconds, methods = summary.fit_seconds, summary.ranks.index
    everyone, some = {}, {}  # leader -> metrics; (leader, alike) -> metrics
    for metric in summary.ranked:
        alike = summary.alike[metric]
        if alike is None:
            continue
        leader = summary.leaders[metric][0]
        if len(alike) == len(methods) - 1:
            everyone.setdefault(leader, []).append(metric)
        else:
            some.setdefault((leader, alike), []).append(metric)
    if not everyone and not some:
        return None

    def on(metrics):
        return _join(METRIC_NAMES[m] for m in metrics)

    def cost(method):
        return f"{name(method)} ({_fmt_seconds(seconds.get(method))} s)"

    known = seconds.reindex(methods).dropna().sort_values(kind="stable")
    sentences = ["Median seconds per fit: "
                 + ", ".join(f"{name(m)} {_fmt_seconds(s)}" for m, s in known.items()) + "."
                 ] if len(known) else []
    if everyone:
        leads = "; ".join(f"{name(leader)} at {_fmt_seconds(seconds.get(leader))} s on "
                          f"{on(metrics)}" for leader, metrics in everyone.items())
        sentences.append(f"On {on(m for ms in everyone.values() for m in ms)} no method is "
                         f"significantly worse than the leader ({leads}).")
        sentences.append(_cheaper(list(everyone), methods, seconds, name))
    for (leader, alike), metrics in some.items():
        head = f"{cost(leader)}, first on {on(metrics)},"
        if not alike:
            sentences.append(f"{head} is significantly better than every other method "
                             "(Nemenyi).")
            continue
        worse = [m for m in methods if m != leader and m not in alike]
        sentences.append(f"{head} is significantly better than {_join(map(name, worse))} "
                         f"(Nemenyi) and not significantly different from "
                         f"{_join(map(cost, alike))}.")
        sentences.append(_cheaper([leader], alike, seconds, name))
    return " ".join(s for s in sentences if s)


def _trade_off(summary, name):
    """A balanced decision against minority F1: who leads each, and how to get the other."""
    ranks = summary.ranks
    balanced = [m for m in _BALANCED_METRICS if m in ranks]
    if not balanced or "minority_f1" not in ranks:
        return None
    on_balanced = ranks[balanced].mean(axis=1).sort_values(kind="stable")
    on_f1 = ranks["minority_f1"]
    b, f = on_balanced.index[0], on_f1.idxmin()
    which = _join(METRIC_NAMES[m] for m in balanced)
    # TunedThresholdClassifierCV raises for more than two classes.
    tune = None if summary.binary is False else (
        f"tune the decision threshold for F1, {name(_TUNE_F1)} from sklearn.model_selection, "
        "on a method that ranks well on average precision"
        + (" (binary data only)" if summary.binary is None else ""))
    if on_f1[b] <= on_f1[f] + _TIE_TOLERANCE:
        return (f"{name(b)} leads both on a balanced decision ({which}, average rank "
                f"{on_balanced[b]:.2f}) and on minority F1 ({on_f1[b]:.2f}): these data "
                "show no trade-off between the two."
                + (f" Where minority precision matters more than minority recall, {tune}."
                   if tune else ""))
    return (
        f"A balanced decision and minority F1 pull apart: {name(b)} ranks best on {which} "
        f"(average rank {on_balanced[b]:.2f}) but {on_f1[b]:.2f} on minority F1, where "
        f"{name(f)} leads ({on_f1[f]:.2f}; {on_balanced[f]:.2f} on {which}). A decision "
        "balanced between the classes finds more of the minority at the cost of more "
        "false alarms, which lowers minority precision and with it F1. "
        + (f"For minority F1, {tune}; for a balanced decision, take a method leading on "
           f"{which}." if tune else
           f"Take a method leading on minority F1 for it, one leading on {which} for a "
           "balanced decision."))


def in_plain_words(results, metrics=HEADLINE_METRICS, alpha=0.05, markdown=False):
    """What the numbers say, in sentences derived from them.

    Which method leads on which metric (average rank over the data sets); what the
    Friedman and Nemenyi tests find significant and what not; for the leader of each
    tested metric, the methods not significantly different from it, with the median
    seconds per fit of each, naming the cheapest where it costs under half the
    leader's; and, when the results hold minority F1, whether the method best at a
    balanced decision (G-mean, balanced accuracy) is also best at minority F1, with
    how to get the other.

    Parameters
    ----------
    results : pandas.DataFrame or Summary
        As returned by :func:`~sk_imbaloss.compare.run_comparison`, or the
        :class:`Summary` built from them (``metrics`` and ``alpha`` are then its own).
    metrics : sequence of str, default=HEADLINE_METRICS
        The metrics whose leaders and tests are told, with minority F1 and the Brier
        score where the results have them.
    alpha : float, default=0.05
    markdown : bool, default=False
        Names as inline code, and the reasons for tests not run left to the summary's
        "Statistical tests" section.

    Returns
    -------
    paragraphs : list of str
    """
    summary = _as_summary(results, metrics, alpha)
    if summary.ranks.empty:
        return []
    name = _code if markdown else str
    paragraphs = [_leads(summary, name), _significance(summary, name, markdown),
                  _costs(summary, name), _trade_off(summary, name)]
    return [p for p in paragraphs if p]


# ---------------------------------------------------------------------- figures
def _import_figure():
    """matplotlib's ``Figure``, used without pyplot so no global backend is touched."""
    from matplotlib.figure import Figure

    return Figure


def _boxplot(results, metric, path):
    """One panel per data set: the fold scores of each method, best mean on top and the
    mean marked; writes it to ``path`` and returns the figure."""
    Figure = _import_figure()
    datasets = results["dataset"].unique()
    n_methods = results["method"].nunique()
    ncols = min(3, len(datasets))
    nrows = math.ceil(len(datasets) / ncols)
    fig = Figure(figsize=(4.5 * ncols, 0.3 * n_methods * nrows + 1.5 * nrows),
                 layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, dataset in zip(axes, datasets):
        scores = results[results["dataset"] == dataset].groupby("method", sort=False)[metric]
        # Best mean first; methods without a score (failed, skipped) last.
        means = scores.mean().sort_values(ascending=metric in LOWER_IS_BETTER, kind="stable",
                                          na_position="last")
        values = [scores.get_group(m).dropna().to_numpy() for m in means.index]
        ax.boxplot(values, showmeans=True, **_horizontal(),
                   meanprops=dict(marker="D", markerfacecolor="black",
                                  markeredgecolor="black", markersize=4))
        ax.set_yticks(range(1, len(means) + 1), means.index)
        ax.invert_yaxis()  # best on top
        ax.set_title(dataset)
        ax.set_xlabel(f"{METRIC_NAMES[metric]} over the test folds (◆ mean, | median)")
    for ax in axes[len(datasets):]:
        ax.set_visible(False)
    # "tight": a panel's x-axis label is wider than the panel, and constrained layout
    # keeps it centred under it, past the edge of the figure on the right.
    fig.savefig(path, dpi=120, bbox_inches="tight")
    return fig


def _horizontal():
    """``boxplot`` keywords for horizontal boxes on any matplotlib >= 3.7."""
    import matplotlib

    # ``vert`` is deprecated from matplotlib 3.10, where ``orientation`` replaces it.
    major, minor = (int(v) for v in matplotlib.__version__.split(".")[:2])
    return {"orientation": "horizontal"} if (major, minor) >= (3, 10) else {"vert": False}


def _cd_diagram(ranks, test, path, alpha):
    """Critical-difference diagram of the average ``ranks`` (a Series by method),
    non-significant pairs joined; writes it to ``path`` and returns the figure."""
    import scikit_posthocs

    Figure = _import_figure()
    fig = Figure(figsize=(8, 0.35 * len(ranks) + 1.2), layout="constrained")
    ax = fig.subplots()
    # The ranks as the summary gives them (the default format, {rank:.2g}, shows 10.67
    # as 11).
    scikit_posthocs.critical_difference_diagram(
        ranks, test.posthoc, alpha=alpha, ax=ax,
        label_fmt_left="{label} ({rank:.2f})", label_fmt_right="({rank:.2f}) {label}")
    ax.set_title(f"{METRIC_NAMES[test.metric]}: average rank (Nemenyi, α = {alpha})",
                 pad=25)
    # "tight", as the box plots: no label cut at the edges.
    fig.savefig(path, dpi=120, bbox_inches="tight")
    return fig


def _write_figures(summary, journal):
    """Write the figures; return their paths, and a note when some could not be made."""
    try:
        _import_figure()
    except ImportError:
        return {}, f"No figures: they need matplotlib and scikit-posthocs ({_EXTRA_HINT})."
    metrics, tests = summary.metrics, summary.tests
    figures = {"box": {}, "cd": {}}
    for metric in metrics:
        figures["box"][metric] = journal.replace(
            f"box_{metric}.png", partial(_boxplot, summary.results, metric))
        if tests[metric].posthoc is not None:
            figures["cd"][metric] = journal.replace(
                f"cd_{metric}.png", partial(_cd_diagram, summary.ranks[metric], tests[metric],
                                            alpha=summary.alpha))
    missing = [m for m in metrics if tests[m].posthoc is None]
    note = (f"No critical-difference diagrams{_for_metrics(missing, metrics)}: they show "
            "the post-hoc test, which this report lacks (see Statistical tests)."
            if missing else None)
    return figures, note


def report_files(metrics=HEADLINE_METRICS):
    """The names of the files :func:`write_report` may write, for every outcome."""
    return ["results.csv", "summary.md",
            *(f"{kind}_{metric}.png" for kind in ("box", "cd") for metric in metrics)]


def write_report(results, out_dir, metrics=HEADLINE_METRICS, alpha=0.05):
    """Write the results, a markdown summary and figures into a folder.

    Every file is written whole to a temporary file and renamed into place. The
    folder's journal (:class:`~sk_imbaloss.journal.Journal`) records them: a file of
    these names that it did not write is refused, never replaced, and the files it
    wrote for an earlier report and not for this one (a critical-difference diagram
    that no longer applies) are removed.

    Parameters
    ----------
    results : pandas.DataFrame or Summary
        As returned by :func:`~sk_imbaloss.compare.run_comparison`, or the
        :class:`Summary` built from them (``metrics`` and ``alpha`` are then its own).
    out_dir : str, path-like or Journal
        The folder, created if missing; or the journal already open on it (its lock
        is held once, by one run).
    metrics : sequence of str, default=HEADLINE_METRICS
        The metrics the summary leads with, each with its figures; every metric of
        the results gets a table, and these with minority F1 and the Brier score are
        ranked and tested (:class:`Summary`).
    alpha : float, default=0.05
        Significance level of the tests and the critical-difference diagrams.

    Returns
    -------
    paths : list of pathlib.Path
        ``results.csv``, ``summary.md``, then ``box_<metric>.png`` per metric and
        ``cd_<metric>.png`` per metric where the post-hoc test ran (at least 3 data
        sets and 3 methods).

    Raises
    ------
    ~sk_imbaloss.journal.JournalError
        Naming a file of the report's names that the journal did not write, before
        any is written; or when another run holds the folder.
    """
    if not isinstance(out_dir, Journal):
        with Journal(out_dir) as journal:
            return write_report(results, journal, metrics, alpha)
    journal, summary = out_dir, _as_summary(results, metrics, alpha)
    journal.check_owned(report_files(summary.metrics))

    csv_path = journal.replace("results.csv",
                               partial(summary.results.to_csv, index=False))
    figures, note = _write_figures(summary, journal)
    markdown = _summary_markdown(summary, figures, note)
    md_path = journal.replace(
        "summary.md", lambda path: Path(path).write_text(markdown, encoding="utf-8"))
    written = [csv_path, md_path, *figures.get("box", {}).values(),
               *figures.get("cd", {}).values()]
    journal.prune((path.name for path in written), report_files(METRICS))
    return written
