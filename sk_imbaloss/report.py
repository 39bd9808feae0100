"""Summaries, ranks, statistical tests and figures from :func:`~sk_imbaloss.compare.run_comparison`.

Methods are compared across data sets as Demšar (JMLR 2006) recommends: on each data
set the methods are ranked by their mean score over the folds, the ranks are averaged
over data sets, the Friedman test asks whether any method differs, and a Nemenyi
post-hoc test (shown as a critical-difference diagram) says which pairs do.

What the results say is computed once, in a :class:`Summary` (``_summary``), and its
plain words are written in ``_words``; this module writes the markdown, the figures and
the files. The figures and the post-hoc test need the ``report`` extra (``pip install
".[report]"`` in the repository: matplotlib and scikit-posthocs); without it the CSV
and the markdown summary are still written.
"""

import math
import re
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from ._ranks import _EXTRA_HINT, FriedmanResult, average_ranks, friedman, skipped_methods
from ._results import LOWER_IS_BETTER, METRICS
from ._summary import (HEADLINE_METRICS, METRIC_NAMES, Summary, as_summary, failures,
                       summarize)
from ._words import _by_reason, _fmt_seconds, _for_metrics, _join, plain_words
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
    return plain_words(as_summary(results, metrics, alpha), _code if markdown else str,
                       markdown)


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
    journal, summary = out_dir, as_summary(results, metrics, alpha)
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
