"""Summaries, ranks, the Friedman test and the written report."""

import re
import sys

import numpy as np
import pandas as pd
import pytest
from scipy.stats import friedmanchisquare
from sklearn.datasets import load_breast_cancer, load_wine

from sk_imbaloss.compare import METRICS, run_comparison
from sk_imbaloss.datasets import as_dataset, load_default
from sk_imbaloss.report import (
    HEADLINE_METRICS,
    average_ranks,
    failures,
    friedman,
    skipped_methods,
    summarize,
    write_report,
)

METHODS = ["logreg-balanced", "ce", "ce-balanced"]
PNG = b"\x89PNG\r\n\x1a\n"


def _sklearn_datasets():
    """Three real imbalanced binary data sets that ship with scikit-learn."""
    cancer = load_breast_cancer()
    wine = load_wine()
    return [
        as_dataset(load_default()),
        # malignant (212 of 569) as the minority
        ("breast-cancer", cancer.data, (cancer.target == 0).astype(int)),
        # cultivar 3 (48 of 178) against the other two
        ("wine-3", wine.data, (wine.target == 2).astype(int)),
    ]


@pytest.fixture(scope="module")
def results():
    return run_comparison(_sklearn_datasets(), METHODS, folds=2, repeats=1, max_epochs=3,
                          progress=False)


def _toy(scores):
    """Results with one fold per (dataset, method) and the given g_mean values."""
    rows = [dict(dataset=d, method=m, repeat=0, fold=0, g_mean=v)
            for d, by_method in scores.items() for m, v in by_method.items()]
    return pd.DataFrame(rows)


def _full(scores, folds=2, seconds=None):
    """Results with every column: ``scores[dataset][method]`` is a method's mean over
    ``folds`` folds of every metric (minority F1 its own where a pair is given; the
    Brier score, lower-is-better, is one minus it); ``seconds[method]`` its fit time,
    0.1 by default."""
    rows = []
    for d, by_method in scores.items():
        for m, value in by_method.items():
            value, f1 = value if isinstance(value, tuple) else (value, value)
            for fold in range(folds):
                spread = 0.01 * (fold - (folds - 1) / 2)
                rows.append(dict(dataset=d, method=m, repeat=0, fold=fold, seed=fold,
                                 **dict.fromkeys(METRICS, value + spread),
                                 fit_seconds=(seconds or {}).get(m, 0.1), status="ok",
                                 error=None))
                rows[-1]["minority_f1"] = f1 + spread
                rows[-1]["brier"] = 1 - value - spread
    return pd.DataFrame(rows)


def _unescaped_pipes(line):
    return len(re.findall(r"(?<!\\)\|", line))


def test_summarize_mean_and_std(results):
    summary = summarize(results)
    assert summary.index.names == ["dataset", "method"]
    assert list(summary.index.get_level_values("dataset").unique()) == [
        "diabetes-top10", "breast-cancer", "wine-3"]
    assert list(summary.index.get_level_values("method").unique()) == METHODS
    assert set(summary.columns.get_level_values(0)) == {*METRICS, "fit_seconds"}
    one = results[(results.dataset == "wine-3") & (results.method == "ce")]["g_mean"]
    assert summary.loc[("wine-3", "ce"), ("g_mean", "mean")] == pytest.approx(one.mean())
    assert summary.loc[("wine-3", "ce"), ("g_mean", "std")] == pytest.approx(one.std())


def test_average_ranks_best_first_ties_averaged_failures_last():
    toy = _toy({
        "d1": {"a": 0.9, "b": 0.5, "c": 0.5},       # ranks 1, 2.5, 2.5
        "d2": {"a": 0.2, "b": 0.8, "c": np.nan},    # ranks 2, 1, 3 (c failed)
    })
    ranks = average_ranks(toy, "g_mean")
    assert ranks.to_dict() == {"a": 1.5, "b": 1.75, "c": 2.75}
    assert list(ranks.index) == ["a", "b", "c"]


def test_the_brier_score_ranks_the_lowest_first():
    toy = _toy({"d1": {"a": 0.1, "b": 0.3, "c": np.nan},   # ranks 1, 2, 3 (c failed)
                "d2": {"a": 0.2, "b": 0.1, "c": 0.4}}).rename(columns={"g_mean": "brier"})
    assert average_ranks(toy, "brier").to_dict() == {"a": 1.5, "b": 1.5, "c": 3.0}


def test_scores_equal_but_for_rounding_tie():
    # sklearn's average precision of a perfect ranking is 0.9999999999999999 on one fold
    # and 1.0000000000000002 on another: the same score, a tie.
    toy = _toy({
        "d1": {"a": 0.9999999999999999, "b": 1.0000000000000002, "c": 0.5},
        "d2": {"a": 0.3, "b": 0.3 + 1e-6, "c": 0.2},
    })
    ranks = average_ranks(toy, "g_mean")
    assert ranks.to_dict() == {"a": (1.5 + 2) / 2, "b": (1.5 + 1) / 2, "c": 3.0}


def test_methods_skipped_as_not_applicable_are_not_ranked():
    # A binary-only method on a multi-class set is "not applicable", not "worst": it is
    # left out of the ranks and the test (which need every method on every data set).
    toy = _toy({
        "d1": {"a": 0.9, "b": 0.5, "m": 0.95},
        "d2": {"a": 0.2, "b": 0.8, "m": np.nan},
        "d3": {"a": 0.7, "b": 0.6, "m": 0.99},
    })
    toy["status"] = np.where((toy["dataset"] == "d2") & (toy["method"] == "m"),
                             "skipped", "ok")
    assert skipped_methods(toy) == {"m": ["d2"]}
    assert average_ranks(toy, "g_mean").to_dict() == {"a": 4 / 3, "b": 5 / 3}
    assert friedman(toy, "g_mean").reason.startswith("the Friedman test needs at least 3")
    # A failure still ranks last.
    toy["status"] = toy["status"].replace("skipped", "failed")
    assert skipped_methods(toy) == {}
    assert average_ranks(toy, "g_mean")["m"] == pytest.approx((1 + 3 + 1) / 3)


def test_figures_of_an_earlier_report_are_removed_and_no_others(results, tmp_path):
    pytest.importorskip("matplotlib")
    mine = tmp_path / "cd_mcc.png"  # a name a report could write, but not written by one
    mine.write_bytes(b"mine")
    write_report(results, tmp_path, metrics=["g_mean", "roc_auc"])
    assert (tmp_path / "cd_roc_auc.png").read_bytes().startswith(PNG)
    write_report(results, tmp_path, metrics=["g_mean"])  # cd_roc_auc.png is stale now
    assert not (tmp_path / "cd_roc_auc.png").exists()
    assert (tmp_path / "box_g_mean.png").read_bytes().startswith(PNG)
    assert mine.read_bytes() == b"mine"


def test_a_file_the_report_did_not_write_is_refused_and_kept(results, tmp_path):
    from sk_imbaloss.journal import JournalError

    (tmp_path / "elsewhere.csv").write_text("theirs")
    (tmp_path / "results.csv").symlink_to(tmp_path / "elsewhere.csv")
    with pytest.raises(JournalError, match="results.csv: exists and was not written"):
        write_report(results, tmp_path)
    assert (tmp_path / "elsewhere.csv").read_text() == "theirs"
    assert not (tmp_path / "summary.md").exists()  # refused before writing anything


def test_a_link_put_over_a_report_file_is_replaced_not_written_through(results, tmp_path):
    write_report(results, tmp_path, metrics=["g_mean"])
    (tmp_path / "theirs.md").write_text("theirs")
    (tmp_path / "summary.md").unlink()
    (tmp_path / "summary.md").symlink_to(tmp_path / "theirs.md")
    write_report(results, tmp_path, metrics=["g_mean"])
    assert not (tmp_path / "summary.md").is_symlink()
    assert (tmp_path / "theirs.md").read_text() == "theirs"
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporaries


def test_friedman_matches_scipy_and_gives_posthoc(results):
    test = friedman(results, "g_mean")
    means = results.groupby(["dataset", "method"])["g_mean"].mean().unstack()
    expected = friedmanchisquare(*means.to_numpy().T)
    assert test.statistic == pytest.approx(expected.statistic)
    assert test.pvalue == pytest.approx(expected.pvalue)
    assert list(test.posthoc.index) == list(test.posthoc.columns) == METHODS
    np.testing.assert_allclose(test.posthoc, test.posthoc.T)
    assert ((test.posthoc >= 0) & (test.posthoc <= 1)).all().all()


def test_friedman_needs_three_data_sets():
    toy = _toy({"d1": {"a": 0.9, "b": 0.5, "c": 0.4}, "d2": {"a": 0.2, "b": 0.8, "c": 0.1}})
    test = friedman(toy, "g_mean")
    assert np.isnan(test.statistic) and test.posthoc is None
    assert "at least 3 data sets" in test.reason and "2 data set(s)" in test.reason


def test_write_report(results, tmp_path):
    paths = write_report(results, tmp_path / "out")
    names = {p.name for p in paths}
    assert {"results.csv", "summary.md"} <= names
    for metric in HEADLINE_METRICS:
        assert {f"box_{metric}.png", f"cd_{metric}.png"} <= names
    for path in paths:
        assert path.parent == tmp_path / "out" and path.stat().st_size > 0
        if path.suffix == ".png":
            assert path.read_bytes()[:8] == PNG

    reread = pd.read_csv(tmp_path / "out" / "results.csv")
    pd.testing.assert_frame_equal(reread[list(METRICS)], results[list(METRICS)])

    summary = (tmp_path / "out" / "summary.md").read_text()
    # Every table the terminal prints: each metric's means, the ranks, the fit times.
    headings = re.findall(r"^## (.*)$", summary, flags=re.M)
    assert headings == ["G-mean", "average precision", "balanced accuracy", "ROC-AUC",
                        "minority F1", "MCC", "Brier score", "Average ranks",
                        "Statistical tests", "Fit time", "Figures", "In plain words"]
    assert "| logreg-balanced | " in summary and " ± " in summary
    # The headline metrics, minority F1 and the Brier score are ranked and tested.
    assert "| method | G-mean | average precision | balanced accuracy | ROC-AUC | " \
           "minority F1 | Brier score |" in summary
    assert summary.count("Friedman χ² = ") == len(HEADLINE_METRICS) + 2
    assert "Nemenyi post-hoc p-values" in summary
    assert "](cd_g_mean.png)" in summary and "](box_roc_auc.png)" in summary


def test_report_with_one_data_set_says_why_no_test(results, tmp_path):
    one = results[results["dataset"] == "wine-3"]
    paths = write_report(one, tmp_path)
    assert not any(p.name.startswith("cd_") for p in paths)
    summary = (tmp_path / "summary.md").read_text()
    assert "Not run: the Friedman test needs at least 3 data sets" in summary
    # Said once, not once per metric, nor again under the figures.
    assert summary.count("the Friedman test needs") == 1
    assert summary.count("Not run") == 1


def test_a_reason_of_some_metrics_names_them():
    from sk_imbaloss.report import _tests_section

    results = _full({"d1": {"a": 0.9, "b": 0.5, "c": 0.4},
                     "d2": {"a": 0.2, "b": 0.8, "c": 0.1},
                     "d3": {"a": 0.7, "b": 0.6, "c": 0.5}})
    results["roc_auc"] = 1.0  # every method ties on every data set
    tests = {m: friedman(results, m) for m in ["g_mean", "roc_auc"]}
    text = _tests_section(tests, {}, 0.05)
    assert "Not run for ROC-AUC: every method ties on every data set." in text
    assert text.count("Friedman χ²") == 1


def test_names_with_markdown_syntax_keep_the_tables_whole(tmp_path):
    names = {"a|b": "m|1", "c*d_e": "m`2`", "f[g]<h>": "m\\3"}
    results = _full({d: {m: 0.5 + 0.1 * i for i, m in enumerate(names.values())}
                     for d in names})
    results.loc[results["method"] == "m|1", ["status", "error"]] = ["failed", "E: x|y"]
    results.loc[results["method"] == "m|1", list(METRICS)] = np.nan
    write_report(results, tmp_path, metrics=["g_mean"])
    summary = (tmp_path / "summary.md").read_text()
    # Every row of a table has as many cells as its header: no name split a cell.
    blocks = re.findall(r"(?:^\|.*\n)+", summary, flags=re.M)
    assert len(blocks) >= 4
    for block in blocks:
        lines = block.splitlines()
        assert {_unescaped_pipes(line) for line in lines} == {lines[1].count("|")}, block
    assert "| a\\|b | m\\|1 | failed | 2/2 | E: x\\|y |" in summary
    assert "c\\*d\\_e" in summary and "f\\[g\\]\\<h\\>" in summary
    assert "m\\\\3" in summary and "m\\`2\\`" in summary
    # In prose the names are code, whatever backticks they hold.
    assert "`a|b`" in summary and "`` m`2` ``" in summary


def test_failed_fits_are_listed(results, tmp_path):
    failed = results.copy()
    rows = (failed["dataset"] == "wine-3") & (failed["method"] == "ce")
    failed.loc[rows, list(METRICS)] = np.nan
    failed.loc[rows, ["status", "error"]] = ["failed", "ValueError: boom"]
    failed.loc[rows & (failed["fold"] == 1), "error"] = "ValueError: other"
    write_report(failed, tmp_path)
    summary = (tmp_path / "summary.md").read_text()
    assert "## Failed or skipped fits" in summary
    assert "| wine-3 | ce | failed | 2/2 | ValueError: boom |" in summary
    assert failures(failed).to_dict("records") == [dict(
        dataset="wine-3", method="ce", status="failed", folds="2/2",
        reason="ValueError: boom")]
    assert failures(results).empty
    assert average_ranks(failed, "g_mean")["ce"] >= 2  # last on wine-3


def test_report_without_the_extras(results, tmp_path, monkeypatch):
    for module in ["matplotlib", "matplotlib.figure", "scikit_posthocs"]:
        monkeypatch.setitem(sys.modules, module, None)  # makes the import fail
    paths = write_report(results, tmp_path)
    assert [p.name for p in paths] == ["results.csv", "summary.md"]
    summary = (tmp_path / "summary.md").read_text()
    assert "pip install matplotlib scikit-posthocs" in summary
    assert "Friedman χ² = " in summary  # scipy still runs the test itself


def test_box_plots_put_the_best_mean_on_top_and_mark_it(tmp_path):
    pytest.importorskip("matplotlib")
    from sk_imbaloss.report import _boxplot

    results = _full({"d1": {"low": 0.2, "high": 0.9, "mid": 0.5, "failed": 0.0},
                     "d2": {"low": 0.7, "high": 0.1, "mid": 0.5, "failed": 0.0}})
    results.loc[results["method"] == "failed", "g_mean"] = np.nan
    fig = _boxplot(results, "g_mean", tmp_path / "box.png")
    assert (tmp_path / "box.png").read_bytes().startswith(PNG)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in axes] == ["d1", "d2"]
    # y grows downwards (inverted), so tick order is top to bottom
    orders = [[t.get_text() for t in ax.get_yticklabels()] for ax in axes]
    assert orders == [["high", "mid", "low", "failed"], ["low", "mid", "high", "failed"]]
    for ax in axes:
        means = [line for line in ax.lines
                 if line.get_marker() == "D" and np.isfinite(line.get_xdata()).all()]
        assert len(means) == 3  # one per method with scores
        assert "mean" in ax.get_xlabel()
    top = [line for line in axes[0].lines if line.get_marker() == "D"][0]
    assert top.get_xdata()[0] == pytest.approx(0.9) and top.get_ydata()[0] == 1
    # The Brier score (one minus the G-mean here): the lowest on top.
    fig = _boxplot(results, "brier", tmp_path / "brier.png")
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == orders[0]


def test_box_plots_keep_every_label_whole(tmp_path):
    pytest.importorskip("matplotlib")
    from matplotlib.image import imread

    from sk_imbaloss.report import _boxplot

    # Seven data sets in a 3 x 3 grid, as the demo's: the x-axis label of a panel is
    # wider than the panel, and was cut on the right.
    results = _full({f"d{i}": {"logreg-balanced": 0.9, "balanced-batches": 0.8}
                     for i in range(7)})
    _boxplot(results, "g_mean", tmp_path / "box.png")
    pixels = imread(tmp_path / "box.png")[..., :3]
    for edge in [pixels[:, :2], pixels[:, -2:], pixels[:2], pixels[-2:]]:
        assert (edge == 1).all()  # white: nothing drawn reaches the edge


def test_cd_diagram_labels_show_the_ranks_of_the_summary(tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("scikit_posthocs")
    from sk_imbaloss.report import _cd_diagram

    # 12 methods on 3 data sets: m11 ranks 12.00, m10 10.67 (not "11"), m09 10.33
    rng = np.random.RandomState(0)
    scores = {f"d{d}": {f"m{m:02d}": 1.0 - m / 20 + rng.rand() * 1e-3 for m in range(12)}
              for d in range(3)}
    scores["d0"]["m10"], scores["d0"]["m09"] = scores["d0"]["m09"], scores["d0"]["m10"]
    results = _toy(scores)
    ranks = average_ranks(results, "g_mean")
    assert ranks["m10"] == pytest.approx(32 / 3)  # ranks 10, 11, 11
    fig = _cd_diagram(ranks, friedman(results, "g_mean"), tmp_path / "cd.png", 0.05)
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    assert "(10.67) m10" in texts and "(10.33) m09" in texts and "(12.00) m11" in texts


def _words(scores, seconds=None, **kwargs):
    from sk_imbaloss.report import in_plain_words

    return " ".join(in_plain_words(_full(scores, seconds=seconds), **kwargs))


def test_plain_words_name_the_leader_of_each_metric():
    scores = {f"d{i}": {"a": 0.9, "b": 0.8, "c": (0.7, 0.95)} for i in range(2)}
    words = _words(scores)
    assert words.startswith("Average rank over 2 data sets (1 = best of 3): a leads on "
                            "G-mean (1.00), average precision (1.00), balanced accuracy "
                            "(1.00), ROC-AUC (1.00) and Brier score (1.00); c leads on "
                            "minority F1 (1.00).")
    scores["d0"]["b"] = scores["d1"]["b"] = 0.9
    assert "a and b tie for the lead on G-mean (1.50)" in _words(scores)


def test_plain_words_say_what_is_not_significant():
    # Three data sets on which the order changes: Friedman finds no difference.
    scores = {"d0": {"a": 0.9, "b": 0.8, "c": 0.7}, "d1": {"a": 0.7, "b": 0.9, "c": 0.8},
              "d2": {"a": 0.9, "b": 0.7, "c": 0.8}}
    words = _words(scores, metrics=["g_mean", "roc_auc"])
    assert ("On G-mean, ROC-AUC, minority F1 and Brier score the methods are not "
            "significantly different (Friedman p = ") in words
    assert "differ significantly" not in words


def test_plain_words_say_which_differences_are_significant():
    pytest.importorskip("scikit_posthocs")
    # a first, b second, c last on ten data sets: the Nemenyi critical difference for
    # 3 methods on 10 sets is 1.05, so a-c (2 ranks apart) differ and a-b (1) do not.
    scores = {f"d{i}": {"a": 0.9, "b": 0.8, "c": 0.7} for i in range(10)}
    words = _words(scores, metrics=["g_mean"])
    assert ("On G-mean, minority F1 and Brier score the methods differ significantly "
            "(Friedman p = 4.54e-05, 4.54e-05 and 4.54e-05, at α = 0.05).") in words
    assert ("a (0.1 s), first on G-mean, minority F1 and Brier score, is significantly "
            "better than c (Nemenyi) and not significantly different from b (0.1 s).") in words


def test_plain_words_do_not_round_a_significant_p_to_alpha():
    # Three data sets in full agreement: Friedman p = exp(-3) = 0.0498, below 0.05.
    scores = {f"d{i}": {"a": 0.9, "b": 0.8, "c": 0.7} for i in range(3)}
    words = _words(scores, metrics=["g_mean"])
    assert "differ significantly (Friedman p = 0.0498," in words


def test_plain_words_name_a_method_as_good_as_the_leader_and_cheaper():
    # a leads, b is not significantly different and fits in a hundredth of the time.
    scores = {"d0": {"a": 0.9, "b": 0.8, "c": 0.7}, "d1": {"a": 0.9, "b": 0.7, "c": 0.8},
              "d2": {"a": 0.8, "b": 0.9, "c": 0.7}}
    words = _words(scores, seconds={"a": 4.0, "b": 0.04, "c": 2.0}, metrics=["g_mean"])
    assert "Median seconds per fit: b 0.04, c 2, a 4." in words
    assert ("On G-mean, minority F1 and Brier score no method is significantly worse than "
            "the leader (a at 4 s on G-mean, minority F1 and Brier score). b (0.04 s) is not "
            "significantly worse there and 100 times cheaper to fit than a.") in words
    # Where the cheapest of them costs more than half the leader's, no claim is made.
    words = _words(scores, seconds={"a": 4.0, "b": 3.0, "c": 2.5}, metrics=["g_mean"])
    assert "cheaper" not in words


def test_plain_words_without_tests_say_why_once():
    scores = {"d0": {"a": 0.9, "b": 0.8, "c": 0.7}}
    words = _words(scores)
    assert words.startswith("Rank on the one data set (1 = best of 3): a leads on")
    assert words.count("not tested") == 1
    assert ("Significance: not tested (the Friedman test needs at least 3 data sets and "
            "3 methods; this run has 1 data set(s) and 3 method(s))") in words
    # The summary gives the reason under its Statistical tests; the words point there.
    assert "not tested (see Statistical tests)" in _words(scores, markdown=True)


def test_plain_words_weigh_a_balanced_decision_against_minority_f1():
    # a: the best G-mean and balanced accuracy; c: the best minority F1.
    scores = {f"d{i}": {"a": (0.9, 0.5), "b": (0.8, 0.6), "c": (0.7, 0.8)} for i in range(3)}
    words = _words(scores)
    assert ("A balanced decision and minority F1 pull apart: a ranks best on G-mean and "
            "balanced accuracy (average rank 1.00) but 3.00 on minority F1, where c leads "
            "(1.00; 3.00 on G-mean and balanced accuracy).") in words
    assert 'For minority F1, tune the decision threshold for F1, TunedThresholdClassifierCV(' \
           'model, scoring="f1")' in words
    # One method best at both: no trade-off is claimed.
    same = {f"d{i}": {"a": (0.9, 0.9), "b": (0.8, 0.6), "c": (0.7, 0.8)} for i in range(3)}
    words = _words(same)
    assert "a leads both on a balanced decision" in words and "pull apart" not in words
    assert 'scoring="f1"' in words


def test_threshold_advice_only_for_binary_data():
    from sk_imbaloss.report import Summary, in_plain_words

    # TunedThresholdClassifierCV raises for more than two classes: no such advice there.
    results = _full({f"d{i}": {"a": (0.9, 0.5), "b": (0.8, 0.6), "c": (0.7, 0.8)}
                     for i in range(3)})
    X = np.zeros((6, 2))
    binary = [(f"d{i}", X, np.array([0, 0, 0, 0, 1, 1])) for i in range(3)]
    three = [*binary[:2], ("d2", X, np.array([0, 0, 0, 1, 1, 2]))]
    words = " ".join(in_plain_words(Summary.build(results, datasets=binary)))
    assert "TunedThresholdClassifierCV" in words and "binary data only" not in words
    words = " ".join(in_plain_words(Summary.build(results, datasets=three)))
    assert "TunedThresholdClassifierCV" not in words
    assert "Take a method leading on minority F1 for it" in words
    # Without the data the advice says where it holds.
    assert "(binary data only)" in " ".join(in_plain_words(results))


def test_the_summary_ends_in_plain_words(results, tmp_path):
    write_report(results, tmp_path, metrics=["g_mean"])
    summary = (tmp_path / "summary.md").read_text()
    words = summary.split("## In plain words\n\n")[1]
    assert "##" not in words  # the last section
    leader = average_ranks(results, "g_mean").index[0]
    assert f"`{leader}` leads on G-mean" in words or f"`{leader}` and " in words
    assert "Friedman p = " in words
