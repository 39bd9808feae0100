"""The ``sk-imbaloss`` command line: ``sk-imbaloss compare [DATA ...]``."""

import argparse
import json
import os
import sys
import textwrap
from contextlib import ExitStack
from pathlib import Path

# Only torch-free, pandas-free modules here: ``--help`` and usage errors answer at
# once. The runner, the report and the loaders are imported where a command runs.
from . import __version__
from ._results import DEFAULT_METHODS, METHOD_NAMES

__all__ = ["build_parser", "main"]

# The built-in demo's cross-validation: its seven data sets and the default methods in
# a minute and a half on two idle cores (3-fold, one repeat, 210 fits); DATA gets 5
# folds x 2 repeats.
_FOLDS, _REPEATS = 5, 2
_DEMO_FOLDS, _DEMO_REPEATS = 3, 1

# Short column headers for the terminal table.
_SHORT_NAMES = {
    "g_mean": "G-mean",
    "average_precision": "AP",
    "balanced_accuracy": "bal-acc",
    "roc_auc": "ROC-AUC",
    "minority_f1": "F1-min",
    "mcc": "MCC",
    "brier": "Brier",
    "fit_seconds": "fit-s",
}


def _integer(text):
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None


def _int_at_least(minimum):
    def parse(text):
        value = _integer(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def _seed(text):
    value = _int_at_least(0)(text)
    if value >= 2**32:
        raise argparse.ArgumentTypeError(f"must be below 2**32, got {value}")
    return value


def _n_jobs(text):
    value = _integer(text)
    if value == 0:
        raise argparse.ArgumentTypeError("0 jobs cannot run anything; use 1 or more, or -1")
    return value


def _seconds(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def _epochs(text):
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return _int_at_least(1)(text)
    except argparse.ArgumentTypeError as exc:
        raise argparse.ArgumentTypeError(f"{exc}; use a positive integer or 'auto'") from None


def build_parser():
    """The argument parser of ``sk-imbaloss``."""
    parser = argparse.ArgumentParser(
        prog="sk-imbaloss",
        description="Imbalance-aware neural network losses, compared head-to-head "
                    "with resampling, threshold tuning and classic baselines.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    compare = commands.add_parser(
        "compare",
        help="cross-validate the methods on data sets and report the scores",
        description="Repeated stratified cross-validation of every method on every data "
                    "set; writes results.csv, summary.md and figures to --out.",
    )
    compare.add_argument(
        "data", nargs="*", metavar="DATA",
        help="CSV files (.csv, or .csv.gz, .csv.bz2, .csv.xz, .csv.zip), or folders of "
             "them; numeric features and a class column. Default: the built-in demo, "
             "seven imbalanced data sets built from scikit-learn's bundled data "
             "(sk_imbaloss.datasets.load_demo).",
    )
    compare.add_argument("--target", metavar="COL",
                         help="the class column of the CSV files (default: target)")
    compare.add_argument(
        "--methods", nargs="+", metavar="M", default=list(DEFAULT_METHODS),
        choices=[*METHOD_NAMES, "all"],
        help=f"methods to compare, or 'all' (default: {' '.join(DEFAULT_METHODS)}); "
             f"choose from {', '.join(METHOD_NAMES)}",
    )
    compare.add_argument("--folds", type=_int_at_least(2), metavar="K",
                         help=f"stratified folds per repeat (default: {_FOLDS}; "
                              f"{_DEMO_FOLDS} for the built-in demo)")
    compare.add_argument("--repeats", type=_int_at_least(1), metavar="R",
                         help=f"repeats of the cross-validation (default: {_REPEATS}; "
                              f"{_DEMO_REPEATS} for the built-in demo)")
    compare.add_argument("--max-epochs", type=_epochs, default="auto", metavar="N",
                         help="training epochs of every neural net, or 'auto': 40, or "
                              "enough for 500 gradient steps on small data (default: auto)")
    compare.add_argument("--seed", type=_seed, default=0, metavar="S",
                         help="seed of the splits and the estimators, 0 to 2**32 - 1 "
                              "(default: 0)")
    compare.add_argument("--n-jobs", type=_n_jobs, default=1, metavar="N",
                         help="fits run in parallel; -1 for all cores, -2 for all but "
                              "one (default: 1)")
    where = compare.add_mutually_exclusive_group()
    where.add_argument(
        "--scheduler", metavar="ADDRESS",
        help="run the fits on a Dask cluster, e.g. tcp://127.0.0.1:8786; tls:// takes "
             "its certificates from the Dask configuration. The cluster runs what it is "
             "sent (pickled code and data, both ways): use only one you trust. Needs pip "
             "install \"dask[distributed]\"",
    )
    where.add_argument("--scheduler-file", type=Path, metavar="FILE",
                       help="the same, with the address from the file that 'dask "
                            "scheduler --scheduler-file FILE' writes")
    compare.add_argument("--scheduler-timeout", type=_seconds, default=10, metavar="S",
                         help="seconds to wait for the Dask scheduler to answer "
                              "(default: 10)")
    compare.add_argument("--out", type=Path, default=Path("compare-results"), metavar="DIR",
                         help="folder for the results and the journal of finished fits, "
                              "from which the same command resumes after an "
                              "interruption (default: compare-results)")
    compare.add_argument("--fresh", action="store_true",
                         help="drop the fits that the journal in --out holds and start "
                              "afresh")
    compare.add_argument("--no-progress", dest="progress", action="store_false",
                         help="hide the progress bar")
    compare.set_defaults(func=_compare)
    return parser


def _error(message):
    print(f"sk-imbaloss: error: {message}", file=sys.stderr)


def _warning(message):
    print(f"sk-imbaloss: warning: {message}", file=sys.stderr)


def _skipped(message):
    """A data set left out of the run: the run goes on without it."""
    print(f"sk-imbaloss: skipped: {message}", file=sys.stderr)


def _load_datasets(paths, target, folds):
    """Load and check every data set; report the bad ones on stderr and skip them."""
    from .compare import check_dataset
    from .datasets import as_dataset, iter_data_paths, load_csv, load_demo

    if not paths:
        datasets = load_demo()
    else:
        datasets, seen = [], set()
        for given in paths:
            files = list(iter_data_paths([given]))
            if not files:
                _skipped(f"{given}: folder has no .csv files (compressed or not).")
            for path in files:
                resolved = Path(path).resolve()
                if resolved in seen:  # twice would count it twice in the tests
                    _warning(f"{path}: given more than once; used once.")
                    continue
                seen.add(resolved)
                try:
                    datasets.append(as_dataset(load_csv(path, target=target)))
                except ValueError as exc:
                    _skipped(str(exc))
    # Two files of the same name in different folders stay apart in the report: the
    # later ones get a suffix that no file's own name has (str, str-2 beside a str-2.csv
    # becomes str-3).
    taken = {name for name, _, _ in datasets}
    usable, used = [], set()
    for name, X, y in datasets:
        unique, k = name, 2
        while unique in used or (unique != name and unique in taken):
            unique, k = f"{name}-{k}", k + 1
        used.add(unique)
        try:
            check_dataset(unique, X, y, folds)
        except ValueError as exc:
            _skipped(str(exc))
            continue
        usable.append((unique, X, y))
    return usable


def _print_demo(datasets, args):
    """Say what the built-in demo runs, before it runs."""
    from .compare import resolve_methods

    methods = resolve_methods(args.methods)
    repeats = f"{args.repeats} repeat" + ("s" if args.repeats > 1 else "")
    print(f"built-in demo: {len(datasets)} data sets ({', '.join(n for n, _, _ in datasets)}), "
          f"{args.folds}-fold CV x {repeats}, methods {' '.join(methods)}. "
          "Give DATA (CSV files) to compare on your own data.", flush=True)


def _print_failures(results):
    from .report import failures

    for row in failures(results).itertuples():
        _warning(f"{row.method} on {row.dataset}: {row.folds} folds {row.status}: "
                 f"{row.reason}")


def _print_tables(summary):
    """Mean test scores per method for each data set, then the average ranks."""
    results = summary.results
    means = summary.means[[*summary.tabled, "fit_seconds"]].xs("mean", axis=1, level=1)
    means = means.rename(columns=_SHORT_NAMES)
    n_folds = results.groupby(["dataset", "method"]).size().max()
    scored = results[results["status"] == "ok"].groupby(["dataset", "method"]).size()
    for name, sizes in summary.datasets.iterrows():
        if name not in means.index.get_level_values("dataset"):
            continue
        print(f"\n{name}: {sizes['rows']} rows, {sizes['features']} features, "
              f"{sizes['minority']} minority; mean of {n_folds} test folds")
        print(means.loc[name].to_string(float_format=lambda v: f"{v:.3f}"))
        methods = results.loc[results["dataset"] == name, "method"].unique()
        fewer = [f"{method} {scored.get((name, method), 0)}" for method in methods
                 if scored.get((name, method), 0) < n_folds
                 and name not in summary.skipped.get(method, ())]
        if fewer:
            print(f"(folds scored, where some failed: {', '.join(fewer)})")
    if len(summary.datasets) > 1 and len(summary.ranks):
        print(f"\nAverage rank over {len(summary.datasets)} data sets (1 = best: the "
              "highest score, the lowest Brier)")
        print(summary.ranks.rename(columns=_SHORT_NAMES)
              .to_string(float_format=lambda v: f"{v:.2f}"))
        for method, names in summary.skipped.items():
            print(f"({method}: not ranked, not run on {', '.join(names)})")


def _print_plain_words(summary):
    from .report import in_plain_words

    print("\nIn plain words:")
    for paragraph in in_plain_words(summary):
        print()
        # Not at a hyphen: method names (balanced-batches) stay whole.
        print(textwrap.fill(paragraph, width=88, break_on_hyphens=False))


def _check_out(out):
    """Create the output folder before the run; a message when it cannot be used."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        return f"--out {out}: exists and is not a folder."
    except NotADirectoryError:
        return f"--out {out}: cannot create the folder (a part of the path is a file)."
    except OSError as exc:
        return f"--out {out}: cannot create the folder ({exc.strerror})."
    if not os.access(out, os.W_OK | os.X_OK):
        return f"--out {out}: the folder is not writable."
    return None


def _scheduler_address(args):
    """The address of --scheduler, or the one in --scheduler-file; None for neither."""
    if args.scheduler_file is None:
        return args.scheduler
    try:
        address = json.loads(args.scheduler_file.read_text(encoding="utf-8"))["address"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"--scheduler-file {args.scheduler_file}: not a Dask scheduler "
                         f"file ({type(exc).__name__}: {exc}).") from None
    if not isinstance(address, str):
        raise ValueError(f"--scheduler-file {args.scheduler_file}: not a Dask scheduler "
                         f"file (its address is {address!r}, not a string).")
    return address


def _compare(args):
    from ._process import Interrupted, stop_on_signals

    if args.target is not None and not args.data:
        _error(f"--target {args.target}: names the class column of DATA files, and no "
               "DATA was given (the built-in demo's data sets have their own).")
        return 2
    demo = not args.data
    if args.folds is None:
        args.folds = _DEMO_FOLDS if demo else _FOLDS
    if args.repeats is None:
        args.repeats = _DEMO_REPEATS if demo else _REPEATS
    try:
        with stop_on_signals():
            return _load_and_run(args)
    except Interrupted as exc:
        _error(f"{exc}; no fit had started.")
        return exc.exit_status


def _journal_problem(exc):
    """The message of a JournalError, in the command line's words."""
    from .journal import JournalDamaged

    if isinstance(exc, JournalDamaged):
        return (f"--out {exc.path}: a damaged journal ({exc.reason}). Add --fresh to set "
                f"it aside as {exc.path.name}.damaged-<time> and start afresh, or use "
                "another --out.")
    return f"--out {exc}"


class _Refused(Exception):
    """A reason not to run, for stderr; the command exits with status 1."""


def _open_journal(args):
    """The journal of --out, open and locked; _Refused saying why it cannot be."""
    from .journal import Journal, JournalError

    problem = _check_out(args.out)
    if problem:
        raise _Refused(problem)
    try:
        return Journal(args.out, fresh=args.fresh)
    except JournalError as exc:
        raise _Refused(_journal_problem(exc)) from None


def _load_and_run(args):
    from ._process import Interrupted

    try:
        scheduler = _scheduler_address(args)
    except ValueError as exc:
        _error(str(exc))
        return 1
    try:
        with ExitStack() as stack:
            # An --out that exists may be in use: its lock is taken before the loaders
            # and the runner are imported (seconds of torch and pandas), so that a
            # second run is refused at once. One that does not exist is created once
            # there is data to run: a typo in DATA leaves no folder behind.
            journal = stack.enter_context(_open_journal(args)) if args.out.is_dir() else None
            datasets = _load_datasets(args.data, args.target or "target", args.folds)
            if not datasets:
                raise _Refused("no data set could be used; nothing to run.")
            if not args.data:
                _print_demo(datasets, args)
            if journal is None:
                journal = stack.enter_context(_open_journal(args))
            try:
                return _run_and_report(args, datasets, scheduler, journal)
            except Interrupted as exc:
                _error(f"{exc}; the {len(journal)} finished fits are kept in "
                       f"{journal.path}. Run the same command again to resume.")
                return exc.exit_status
    except _Refused as exc:
        _error(str(exc))
        return 1


def _run_and_report(args, datasets, scheduler, journal):
    from .compare import run_comparison
    from .journal import JournalError, SettingsMismatch
    from .report import Summary, report_files, write_report

    try:
        journal.check_owned(report_files())  # before the run, not after it
        results = run_comparison(datasets, args.methods, folds=args.folds,
                                 repeats=args.repeats, max_epochs=args.max_epochs,
                                 seed=args.seed, n_jobs=args.n_jobs, progress=args.progress,
                                 scheduler=scheduler,
                                 scheduler_timeout=args.scheduler_timeout, journal=journal)
    except SettingsMismatch as exc:
        _error(f"--out {args.out}: its journal was made with other settings "
               f"({'; '.join(exc.differences)}). Add --fresh to drop its {exc.fits} "
               "finished fits and start afresh, or use another --out.")
        return 1
    except JournalError as exc:
        _error(_journal_problem(exc))
        return 1
    except (ImportError, ValueError, ConnectionError) as exc:  # the scheduler's
        _error(str(exc))
        return 1
    if (results["status"] == "skipped").all():
        # Nothing was fitted: not a failure of the fits, a choice of methods.
        _error(f"no chosen method applies to the data: "
               f"{'; '.join(results['error'].unique())}.")
        return 1
    _print_failures(results)
    summary = Summary.build(results, datasets=datasets)
    try:
        paths = write_report(summary, journal)
    except JournalError as exc:
        _error(_journal_problem(exc))
        return 1
    except OSError as exc:
        _error(f"cannot write the report in {args.out} ({exc}); the finished fits are "
               f"kept in {journal.path}: run the same command again to write it.")
        return 1
    _print_tables(summary)
    print("\nWrote:")
    for path in paths:
        print(f"  {path}")
    _print_plain_words(summary)
    if (results["status"] != "ok").all():
        _error("every fit failed; see the errors above.")
        return 1
    return 0


def main(argv=None):
    """Run ``sk-imbaloss``; return the exit status.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments after the program name; ``None`` reads ``sys.argv``.

    Returns
    -------
    status : int
        0 on success, 1 when nothing could run (no usable data set, or every fit
        failed); usage errors exit with 2 through argparse.
    """
    args = build_parser().parse_args(argv)
    return args.func(args)
