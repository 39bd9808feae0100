"""The plain words of a comparison's summary: sentences derived from a
:class:`~sk_imbaloss._summary.Summary`, for the terminal and ``summary.md``."""

import numpy as np
import pandas as pd

from ._ranks import _TIE_TOLERANCE
from ._summary import METRIC_NAMES

__all__ = ["plain_words"]


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


def plain_words(summary, name, markdown):
    """The paragraphs of :func:`~sk_imbaloss.report.in_plain_words`; ``name`` writes a
    method's name (as inline code in markdown)."""
    if summary.ranks.empty:
        return []
    paragraphs = [_leads(summary, name), _significance(summary, name, markdown),
                  _costs(summary, name), _trade_off(summary, name)]
    return [p for p in paragraphs if p]
