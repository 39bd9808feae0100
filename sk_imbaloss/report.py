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
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from ._ranks import (
    _EXTRA_HINT,
    _TIE_TOLERANCE,
    FriedmanResult,
    average_ranks,
    friedman,
    skipped_methods,
)
from ._results import METRICS
from .journal import Journal

__all__ = [
    "HEADLINE_METRICS",
    "METRIC_NAMES",
    "FriedmanResult",
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
    "fit_seconds": "fit seconds",
}



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
    return results.groupby(["dataset", "method"], sort=False)[list(metrics)].agg(
        ["mean", "std"]
    )


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


def _mean_std_table(summary, metric, digits=3):
    """Methods x data sets, each cell ``mean ± std``."""
    cells = summary[metric].apply(
        lambda r: f"{_fmt(r['mean'], digits)} ± {_fmt(r['std'], digits)}", axis=1
    )
    table = cells.unstack("dataset")
    table = table.reindex(
        index=summary.index.get_level_values("method").unique(),
        columns=summary.index.get_level_values("dataset").unique(),
    )
    table.index.name = "method"
    return table


def _skipped_note(results):
    """A sentence naming the methods left out of the ranks, or None."""
    skipped = skipped_methods(results)
    if not skipped:
        return None
    listed = "; ".join(f"{_code(m)} (not run on {', '.join(map(_code, sets))})"
                       for m, sets in skipped.items())
    return ("Left out of the ranks and the tests, which need every method on every "
            f"data set: {listed}.")


def _overview(results):
    n_splits = results.groupby(["dataset", "method"])[["repeat", "fold"]].nunique()
    folds, repeats = int(n_splits["fold"].max()), int(n_splits["repeat"].max())
    datasets = ", ".join(map(_code, results["dataset"].unique()))
    methods = ", ".join(map(_code, results["method"].unique()))
    return (
        f"Data sets: {datasets}.\n\nMethods: {methods}.\n\n"
        f"Repeated stratified {folds}-fold cross-validation, {repeats} repeat(s). "
        f"Scores are on the test folds, as mean ± standard deviation over the "
        f"{folds * repeats} folds; for every metric higher is better, and the "
        "minority class is the positive class."
    )


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


def _summary_markdown(results, metrics, tests, figures, alpha, figure_note):
    summary = summarize(results)
    parts = ["# sk-imbaloss compare\n", _overview(results) + "\n"]

    table = failures(results).set_index("dataset")
    if len(table):
        parts.append("## Failed or skipped fits\n\nTheir folds are left out of the "
                     "means; a method whose every fold failed on a data set ranks last "
                     "there, and one skipped as not applicable is left out of the ranks "
                     "and tests.\n")
        parts.append(_markdown_table(table) + "\n")

    for metric in metrics:
        parts.append(f"## {METRIC_NAMES[metric]}\n")
        parts.append(_markdown_table(_mean_std_table(summary, metric)) + "\n")

    ranked = _with_minority_f1(metrics, results)
    ranks = pd.concat(
        [average_ranks(results, m).rename(METRIC_NAMES[m]) for m in ranked], axis=1
    ).sort_values(METRIC_NAMES[metrics[0]], kind="stable")
    parts.append("## Average ranks\n\nOn each data set the methods are ranked by mean "
                 "score (1 = best, ties share the average rank); the table averages "
                 "the ranks over the data sets.\n")
    note = _skipped_note(results)
    if note:
        parts.append(note + "\n")
    parts.append(_markdown_table(ranks.map(lambda r: f"{r:.2f}")) + "\n")

    parts.append("## Statistical tests\n")
    parts.append(_tests_section(tests, figures, alpha))

    parts.append("## Fit time\n\nSeconds per fit on the training fold.\n")
    parts.append(_markdown_table(_mean_std_table(summary, "fit_seconds", digits=2)) + "\n")

    parts.append("## Figures\n")
    if figure_note:
        parts.append(figure_note + "\n")
    for metric, path in figures.get("box", {}).items():
        parts.append(f"![{METRIC_NAMES[metric]} per method]({path.name})\n")

    parts.append("## In plain words\n")
    parts += [p + "\n" for p in in_plain_words(results, metrics, tests, alpha, markdown=True)]
    return "\n".join(parts).rstrip("\n") + "\n"


# ---------------------------------------------------------------------- plain words
#: A decision balanced between the classes scores well on these: minority recall
#: counts as much as majority recall.
_BALANCED_METRICS = ("g_mean", "balanced_accuracy")

_TUNE_F1 = 'TunedThresholdClassifierCV(model, scoring="f1")'


def _with_minority_f1(metrics, results):
    """``metrics``, and minority F1 where the results have it: the plain words weigh it
    against the balanced metrics."""
    return [*metrics, *(m for m in ("minority_f1",) if m in results and m not in metrics)]


def _leaders(ranks):
    """The methods sharing the best average rank."""
    return list(ranks.index[ranks <= ranks.iloc[0] + _TIE_TOLERANCE])


def _leads(ranks, n_datasets, name):
    """Which method leads on which metric."""
    groups = {}
    for metric, r in ranks.items():
        groups.setdefault(tuple(_leaders(r)), []).append(
            f"{METRIC_NAMES[metric]} ({r.iloc[0]:.2f})")
    where = (f"Average rank over {n_datasets} data sets" if n_datasets > 1
             else "Rank on the one data set")
    clauses = [f"{_join(map(name, leaders))} "
               f"{'leads' if len(leaders) == 1 else 'tie for the lead'} on {_join(on)}"
               for leaders, on in groups.items()]
    n_methods = max(len(r) for r in ranks.values())
    return f"{where} (1 = best of {n_methods}): " + "; ".join(clauses) + "."


def _posthoc_words(metric, test, ranks, alpha, name):
    """What the Nemenyi test says of the leader on a metric where Friedman's is
    significant."""
    leader = ranks.index[0]
    p = test.posthoc.loc[leader]
    others = [m for m in ranks.index if m != leader]
    worse = [m for m in others if p[m] < alpha]
    alike = [m for m in others if p[m] >= alpha]
    head = f"{name(leader)}, first on {METRIC_NAMES[metric]},"
    if worse and alike:
        return (f"{head} is significantly better than {_join(map(name, worse))} (Nemenyi) "
                f"and not significantly different from {_join(map(name, alike))}.")
    if worse:
        return f"{head} is significantly better than every other method (Nemenyi)."
    pairs = [(a, b) for i, a in enumerate(ranks.index) for b in ranks.index[i + 1:]
             if test.posthoc.loc[a, b] < alpha]
    if not pairs:
        return (f"{head} is not significantly different from any other method, and no "
                "pair of methods is (Nemenyi).")
    listed = _join(f"{name(a)} over {name(b)}" for a, b in pairs[:4])
    more = f" and {len(pairs) - 4} more" if len(pairs) > 4 else ""
    return (f"{head} is not significantly different from any other method (Nemenyi); "
            f"the pairs that are: {listed}{more}.")


def _significance(tests, ranks, alpha, name, markdown):
    """What is and is not significant, metric by metric."""
    sentences = []
    for reason, group in _by_reason(tests, not_run=True).items():
        why = "see Statistical tests" if markdown else reason
        sentences.append(f"Significance{_for_metrics(group, tests)}: not tested ({why}), "
                         "so no difference in these ranks is shown to be more than chance.")
    alike = [m for m, t in tests.items() if t.pvalue >= alpha]
    if alike:
        ps = _join(f"{t.pvalue:.2g}" for m, t in tests.items() if m in alike)
        sentences.append(
            f"On {_join(METRIC_NAMES[m] for m in alike)} the methods are not significantly "
            f"different (Friedman p = {ps}, at α = {alpha}).")
    for metric, test in tests.items():
        if not test.pvalue < alpha:
            continue
        sentences.append(f"On {METRIC_NAMES[metric]} the methods differ significantly "
                         f"(Friedman p = {test.pvalue:.2g}).")
        if test.posthoc is None:
            sentences.append("Which pairs differ needs the post-hoc test "
                             f"({'see Statistical tests' if markdown else test.reason}).")
        else:
            sentences.append(_posthoc_words(metric, test, ranks[metric], alpha, name))
    return " ".join(sentences)


def _trade_off(ranks, name, code):
    """A balanced decision against minority F1: who leads each, and how to get the other."""
    balanced = [m for m in _BALANCED_METRICS if m in ranks]
    if not balanced or "minority_f1" not in ranks:
        return None
    on_balanced = pd.concat([ranks[m] for m in balanced], axis=1).mean(axis=1)
    on_balanced = on_balanced.sort_values(kind="stable")
    on_f1 = ranks["minority_f1"]
    b, f = on_balanced.index[0], on_f1.index[0]
    which = _join(METRIC_NAMES[m] for m in balanced)
    tune = (f"tune the decision threshold for F1, {code(_TUNE_F1)} from "
            "sklearn.model_selection, on a method that ranks well on average precision")
    if on_f1[b] <= on_f1[f] + _TIE_TOLERANCE:
        return (f"{name(b)} leads both on a balanced decision ({which}, average rank "
                f"{on_balanced[b]:.2f}) and on minority F1 ({on_f1[b]:.2f}): these data "
                "show no trade-off between the two. Where minority precision matters "
                f"more than minority recall, {tune}.")
    return (
        f"A balanced decision and minority F1 pull apart: {name(b)} ranks best on {which} "
        f"(average rank {on_balanced[b]:.2f}) but {on_f1[b]:.2f} on minority F1, where "
        f"{name(f)} leads ({on_f1[f]:.2f}; {on_balanced[f]:.2f} on {which}). A decision "
        "balanced between the classes finds more of the minority at the cost of more "
        "false alarms, which lowers minority precision and with it F1. For minority F1, "
        f"{tune}; for a balanced decision, take a method leading on {which}.")


def in_plain_words(results, metrics=HEADLINE_METRICS, tests=None, alpha=0.05,
                   markdown=False):
    """What the numbers say, in sentences derived from them.

    Which method leads on which metric (average rank over the data sets), what the
    Friedman and Nemenyi tests find significant and what not, and, when the results
    hold minority F1, whether the method best at a balanced decision (G-mean, balanced
    accuracy) is also best at minority F1, with how to get the other.

    Parameters
    ----------
    results : pandas.DataFrame
        As returned by :func:`~sk_imbaloss.compare.run_comparison`.
    metrics : sequence of str, default=HEADLINE_METRICS
        The metrics whose leaders and tests are told; minority F1 is added to the
        leaders when the results have it.
    tests : dict of str to FriedmanResult, default=None
        The tests of ``metrics``; ``None`` runs :func:`friedman`.
    alpha : float, default=0.05
    markdown : bool, default=False
        Names as inline code, and the reasons for tests not run left to the summary's
        "Statistical tests" section.

    Returns
    -------
    paragraphs : list of str
    """
    metrics = [m for m in metrics if m in results]
    ranks = {m: r for m in _with_minority_f1(metrics, results)
             if len(r := average_ranks(results, m))}
    if not ranks:
        return []
    if tests is None:
        tests = {m: friedman(results, m) for m in metrics}
    name, code = (_code, _code) if markdown else (str, str)
    paragraphs = [_leads(ranks, results["dataset"].nunique(), name),
                  _significance({m: tests[m] for m in metrics if m in ranks}, ranks, alpha,
                                name, markdown),
                  _trade_off(ranks, name, code)]
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
        means = scores.mean().sort_values(ascending=False, kind="stable", na_position="last")
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
    fig.savefig(path, dpi=120)
    return fig


def _horizontal():
    """``boxplot`` keywords for horizontal boxes on any matplotlib >= 3.7."""
    import matplotlib

    # ``vert`` is deprecated from matplotlib 3.10, where ``orientation`` replaces it.
    major, minor = (int(v) for v in matplotlib.__version__.split(".")[:2])
    return {"orientation": "horizontal"} if (major, minor) >= (3, 10) else {"vert": False}


def _cd_diagram(results, test, path, alpha):
    """Critical-difference diagram: average ranks, non-significant pairs joined; writes
    it to ``path`` and returns the figure."""
    import scikit_posthocs

    Figure = _import_figure()
    ranks = average_ranks(results, test.metric)
    fig = Figure(figsize=(8, 0.35 * len(ranks) + 1.2), layout="constrained")
    ax = fig.subplots()
    # The ranks as the summary gives them (the default format, {rank:.2g}, shows 10.67
    # as 11).
    scikit_posthocs.critical_difference_diagram(
        ranks, test.posthoc, alpha=alpha, ax=ax,
        label_fmt_left="{label} ({rank:.2f})", label_fmt_right="({rank:.2f}) {label}")
    ax.set_title(f"{METRIC_NAMES[test.metric]}: average rank (Nemenyi, α = {alpha})",
                 pad=25)
    fig.savefig(path, dpi=120)
    return fig


def _write_figures(results, journal, metrics, tests, alpha):
    """Write the figures; return their paths, and a note when some could not be made."""
    try:
        _import_figure()
    except ImportError:
        return {}, f"No figures: they need matplotlib and scikit-posthocs ({_EXTRA_HINT})."
    figures = {"box": {}, "cd": {}}
    for metric in metrics:
        figures["box"][metric] = journal.replace(
            f"box_{metric}.png", partial(_boxplot, results, metric))
        if tests[metric].posthoc is not None:
            figures["cd"][metric] = journal.replace(
                f"cd_{metric}.png", partial(_cd_diagram, results, tests[metric], alpha=alpha))
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
    results : pandas.DataFrame
        As returned by :func:`~sk_imbaloss.compare.run_comparison`.
    out_dir : str, path-like or Journal
        The folder, created if missing; or the journal already open on it (its lock
        is held once, by one run).
    metrics : sequence of str, default=HEADLINE_METRICS
        The metrics given tables, tests and figures.
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
    journal, metrics = out_dir, tuple(metrics)
    journal.check_owned(report_files(metrics))

    csv_path = journal.replace("results.csv", partial(results.to_csv, index=False))
    tests = {metric: friedman(results, metric) for metric in metrics}
    figures, note = _write_figures(results, journal, metrics, tests, alpha)
    markdown = _summary_markdown(results, metrics, tests, figures, alpha, note)
    md_path = journal.replace(
        "summary.md", lambda path: Path(path).write_text(markdown, encoding="utf-8"))
    written = [csv_path, md_path, *figures.get("box", {}).values(),
               *figures.get("cd", {}).values()]
    journal.prune((path.name for path in written), report_files(METRICS))
    return written
