"""``ImbalancedNeuralClassifier``: a skorch classifier trained with an imbalance-aware loss."""

import inspect
import math
import threading
import warnings
from collections import Counter
from collections.abc import Mapping
from contextlib import contextmanager
from copy import deepcopy
from numbers import Integral, Real

import numpy as np
import torch
from scipy import sparse
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.metrics import get_scorer
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    Options,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, validate_data
from skorch import NeuralNetClassifier
from skorch.callbacks import (
    Callback,
    EarlyStopping,
    EpochScoring,
    EpochTimer,
    PassthroughScoring,
    PrintLog,
)
from skorch.callbacks.scoring import ScoringBase
from skorch.dataset import Dataset
from skorch.utils import is_dataset, to_tensor
from torch.utils.data import DataLoader

from ._batching import ArrayDataset, TensorBatches, as_array_dataset
from .callbacks import ImportanceHistory, LabelScorer
from .losses import AdaptiveCrossEntropy, FocalLoss, MarginCrossEntropy
from .modules import MLP

__all__ = ["ImbalancedNeuralClassifier", "TrainingDivergedError", "CRITERIA"]

#: Rows per batch at prediction, unless ``iterator_valid__batch_size`` says otherwise.
_INFERENCE_BATCH_SIZE = 8192
#: Threads of this process with a fit running, and with a seeded one (thread id ->
#: depth), to warn when fits run side by side: torch's generator is process-wide.
_FITTING, _SEEDED = Counter(), Counter()
_FITTING_LOCK = threading.Lock()


@contextmanager
def _running_fit(seeded):
    """Register this thread's fit; yield whether it runs beside a fit in another thread
    with one of the two seeded (then neither is reproducible)."""
    me = threading.get_ident()
    registries = (_FITTING, _SEEDED) if seeded else (_FITTING,)
    with _FITTING_LOCK:
        beside = any(thread != me for thread in (_FITTING if seeded else _SEEDED))
        for registry in registries:
            registry[me] += 1
    try:
        yield beside
    finally:
        with _FITTING_LOCK:
            for registry in registries:
                registry[me] -= 1
                if not registry[me]:
                    del registry[me]

#: ``max_epochs='auto'``: this many epochs, or more to make at least _AUTO_STEPS steps.
_AUTO_EPOCHS = 40
_AUTO_STEPS = 500

#: Top-level parameters that configure a criterion chosen by name.
_CRITERION_PARAMS = frozenset({"alpha", "gamma", "margin", "logit_adjustment"})
#: Top-level parameters that configure the default MLP.
_MODULE_PARAMS = frozenset({"hidden_units", "dropout"})
#: Top-level parameters that configure the default callbacks (early stopping).
_CALLBACK_PARAMS = frozenset({"early_stopping", "n_iter_no_change", "scoring"})
#: The parts set_params rebuilds (restored together when a rebuild fails).
_BUILT_PARTS = ("module_", "criterion_", "optimizer_", "callbacks_", "class_weight_")
#: Top-level parameters whose change rebuilds a part of an initialized net.
_REBUILDING_PARAMS = (
    _CRITERION_PARAMS | _MODULE_PARAMS | _CALLBACK_PARAMS | {"class_weight", "weight_decay"}
)

def _same_value(old, new):
    """Whether a parameter is set to the value it had: sequences (tuples, lists, arrays)
    element by element, numbers of any type (numpy's too) by value."""
    if old is new:
        return True
    old, new = (v.item() if isinstance(v, np.generic | np.ndarray) and np.ndim(v) == 0
                else v for v in (old, new))  # numpy scalars and 0-d arrays as Python's
    if torch.is_tensor(old) or torch.is_tensor(new):
        return (torch.is_tensor(old) and torch.is_tensor(new) and old.shape == new.shape
                and old.dtype == new.dtype and torch.equal(old.cpu(), new.cpu()))
    sequences = (list, tuple, np.ndarray)
    if isinstance(old, sequences) and isinstance(new, sequences):
        return len(old) == len(new) and all(map(_same_value, old, new))
    numbers = [isinstance(v, Real) and not isinstance(v, bool) for v in (old, new)]
    if all(numbers):
        return bool(old == new)
    if any(numbers) or type(old) is not type(new):
        return False
    try:
        return bool(old == new)
    except (TypeError, ValueError, RuntimeError):  # == is not a truth value
        return False


def _holds_numbers(column):
    """Whether a DataFrame column of another dtype (object, say) holds numbers only."""
    try:
        np.asarray(column, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return True


def _snapshot(net, names):
    """Copies of the parameters ``names``, to tell a later change from the same value."""
    copies = {}
    for name in names:
        try:
            copies[name] = deepcopy(getattr(net, name))
        except Exception:  # an object that cannot be copied: any setting is a change
            copies[name] = object()
    return copies


_ABSENT = object()

#: The criteria selectable by name.
CRITERIA = ("adaptive", "adaptive-seed", "focal", "margin", "ce")
#: The criteria that ``logit_adjustment='auto'`` trains on logit-adjusted logits; ``ce``
#: stays the plain baseline and ``adaptive-seed`` the write-up's rule exactly.
_ADJUSTED_BY_DEFAULT = frozenset({"adaptive", "focal", "margin"})


class TrainingDivergedError(FloatingPointError):
    """The loss or the weights became NaN or infinite in training; the fit was abandoned."""


def _check_hidden_units(hidden_units):
    units = tuple(hidden_units) if np.iterable(hidden_units) else None
    if units is None or not all(
        isinstance(u, Integral) and not isinstance(u, bool) and u > 0 for u in units
    ):
        raise ValueError(
            "The 'hidden_units' parameter of ImbalancedNeuralClassifier must be a "
            f"sequence of positive ints, e.g. (64, 64). Got {hidden_units!r} instead."
        )
    return units


def _check_device(device):
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a valid torch device; use 'cpu', 'cuda' or 'cuda:N'."
        ) from exc
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but CUDA is not available on this "
                "machine (torch.cuda.is_available() is False); use device='cpu'."
            )
        count = torch.cuda.device_count()
        if parsed.index is not None and parsed.index >= count:
            raise ValueError(
                f"device={device!r} was requested but only {count} CUDA device(s) exist."
            )
    return parsed


class ImbalancedNeuralClassifier(NeuralNetClassifier):
    """A neural network classifier trained with an imbalance-aware loss.

    A scikit-learn classifier built on :class:`skorch.NeuralNetClassifier`. With no
    configuration it trains a small MLP sized from the data; any ``torch.nn.Module``
    that returns logits can take its place. The training criterion is chosen by name.

    Parameters
    ----------
    module : torch.nn.Module class or instance, default=None
        The network; it must return logits of shape ``(n_samples, n_classes)``. ``None``
        builds :class:`sk_imbaloss.modules.MLP` from ``n_features_in_``,
        ``len(classes_)``, ``hidden_units`` and ``dropout``. A class is instantiated
        with the ``module__*`` parameters at every fit; an instance is used as is.
    criterion : {'adaptive', 'adaptive-seed', 'focal', 'margin', 'ce'} or torch criterion, \
default='adaptive'
        ``'adaptive'``: logit-adjusted cross entropy, each class weighted by 1 plus its
        moving false-negative rate (:class:`~sk_imbaloss.losses.AdaptiveCrossEntropy`);
        ``'adaptive-seed'``: the original rule exactly, cross entropy weighted by the
        moving false-negative rate (no offset, no logit adjustment); ``'focal'``: focal loss
        (:class:`~sk_imbaloss.losses.FocalLoss`); ``'margin'``: margin-gated binary
        cross entropy (:class:`~sk_imbaloss.losses.MarginCrossEntropy`, two classes
        only); ``'ce'``: plain cross entropy. A criterion class is configured the skorch
        way, with ``criterion__*`` parameters, and receives encoded targets 0..C-1.
    alpha : float in (0, 1], default=0.01
        Smoothing factor of the adaptive importance (``'adaptive'``, ``'adaptive-seed'``).
    gamma : float >= 0, default=2.0
        Focusing parameter of the focal loss (``criterion='focal'``).
    margin : float in (0.5, 1), default=0.6
        Margin of the margin-gated loss (``criterion='margin'``).
    logit_adjustment : float >= 0 or 'auto', default='auto'
        Strength ``tau`` of the logit adjustment (Menon et al. 2021) in the criteria by
        name: the loss is computed on ``z + tau * log(prior)``, with ``prior`` the
        class frequencies of the training data, while predictions use the raw logits
        ``z``; ``class_weight`` then acts as a cost on top of that balanced decision, so
        ``class_weight='balanced'`` doubles the correction (use it with
        ``logit_adjustment=0``). ``sample_weight`` counts like repeated rows: the prior
        is the weighted class frequencies. ``'auto'`` is 1 for ``'adaptive'``, ``'focal'``
        and ``'margin'`` (the focal factor and the margin gate read the raw
        probabilities, so the shift moves their threshold like cross entropy's) and 0
        for ``'ce'`` and ``'adaptive-seed'``. ``0`` turns it off: the write-ups'
        focal and margin losses. Measured in docs/benchmark.md.
    class_weight : None, 'balanced' or dict, default=None
        Per-class weights multiplied into the loss of every criterion by name.
        ``'balanced'`` is ``n_samples / (n_classes * n_c)`` from the training data
        (sample-weighted counts; a warm-started ``fit`` re-weighs on all rows
        trained on; not with ``partial_fit``, as in scikit-learn); a
        dict maps the user's labels to weights (missing labels weigh 1). With
        ``'ce'`` this is the class-weighted baseline; with ``'focal'`` it plays the
        role of Lin et al.'s ``alpha_t``.
    hidden_units : sequence of int, default=(64, 64)
        Hidden layer widths of the default MLP.
    dropout : float in [0, 1), default=0.1
        Dropout of the default MLP.
    optimizer : torch optimizer class, default=torch.optim.Adam
    lr : float, default=1e-3
    weight_decay : float >= 0, default=1e-3
        The optimizer's ``weight_decay`` (an L2 penalty for Adam; it replaces AdamW's
        own default too). An optimizer without one (LBFGS) needs ``weight_decay=0``;
        ``optimizer__weight_decay`` takes precedence.
    max_epochs : int or 'auto', default='auto'
        Passes over the training data. ``'auto'`` is 40 epochs, or more on small data
        sets: as many as it takes to make at least 500 gradient steps
        (``max(40, ceil(500 / batches per epoch))``); 40 for each ``partial_fit`` call.
    batch_size : int, default=128
        ``-1`` trains on the whole set in one batch.
    shuffle : bool, default=True
        Reshuffle the training rows every epoch.
    early_stopping : bool, default=False
        Hold out a stratified ``validation_fraction`` of the training data, score it
        with ``scoring`` after each epoch, stop after ``n_iter_no_change`` epochs
        without improvement and restore the best epoch's weights.
    validation_fraction : float in (0, 1), default=0.1
    n_iter_no_change : int, default=10
    scoring : str, default='balanced_accuracy'
        A scikit-learn scorer name for early stopping.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, dropout, shuffling and the validation split. The
        global torch RNG state is restored after fitting. ``partial_fit`` calls and
        warm-started fits go on with new shuffles (the seed offset by the epochs done).
    device : str, default='cpu'
        ``'cpu'``, ``'cuda'`` or ``'cuda:N'``.
    verbose : int, default=0
        ``1`` prints skorch's per-epoch table.
    callbacks, warm_start, classes, train_split, iterator_train, iterator_valid, \
dataset, predict_nonlinearity, compile, use_caching, torch_load_kwargs
        As in :class:`skorch.NeuralNetClassifier`. ``train_split`` defaults to no
        split (use ``early_stopping`` for a stratified one); in-memory arrays bypass
        ``dataset`` and the default ``DataLoader`` for speed, and any other Dataset or
        iterator goes through skorch's own path. ``predict_nonlinearity='auto'``
        means softmax.
    **kwargs
        Any other :class:`skorch.NeuralNet` parameter (``callbacks``, ``warm_start``,
        ``optimizer__weight_decay``, ``module__*``, ``criterion__*``, ...).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels seen in ``fit``, sorted; ``predict`` returns these and the columns
        of ``predict_proba`` follow this order.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Present when ``X`` was a DataFrame with string column names.
    class_weight_ : ndarray of shape (n_classes,)
        The per-class weights in effect (ones for ``class_weight=None``).
    class_prior_ : ndarray of shape (n_classes,)
        The prior of the logit adjustment: each class's share of the rows passed to
        ``fit`` (the early-stopping validation split, stratified, included;
        ``partial_fit`` calls and warm-started fits add to it). A class known from ``classes`` but not seen
        yet counts as the rarest seen class.
    class_counts_ : ndarray of shape (n_classes,)
        Rows per class trained on (sums of ``sample_weight`` where it is given), the
        counts behind ``class_prior_`` and ``class_weight='balanced'``.
    importance_ : ndarray of shape (n_classes,)
        The adaptive importance per class after training (``'adaptive'``,
        ``'adaptive-seed'``);
        its value after each epoch is in ``history[:, 'importance']``.
    module_, criterion_, optimizer_, history_
        The fitted skorch components.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sk_imbaloss import ImbalancedNeuralClassifier
    >>> X, y = make_classification(n_samples=300, weights=[0.9], random_state=0)
    >>> clf = ImbalancedNeuralClassifier(random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 2)
    """

    _parameter_constraints = {
        "module": [None, HasMethods("forward"), callable],
        "criterion": [StrOptions(set(CRITERIA)), callable],
        "alpha": [Interval(Real, 0, 1, closed="right")],
        "gamma": [Interval(Real, 0, None, closed="left")],
        "margin": [Interval(Real, 0.5, 1, closed="neither")],
        "class_weight": [None, StrOptions({"balanced"}), dict],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "max_epochs": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "logit_adjustment": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), Options(Integral, {-1})],
        "shuffle": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "scoring": [str],
        "random_state": ["random_state"],
        "device": [str, torch.device],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        module=None,
        *,
        criterion="adaptive",
        alpha=0.01,
        gamma=2.0,
        margin=0.6,
        logit_adjustment="auto",
        class_weight=None,
        hidden_units=(64, 64),
        dropout=0.1,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        weight_decay=1e-3,
        max_epochs="auto",
        batch_size=128,
        shuffle=True,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        scoring="balanced_accuracy",
        random_state=None,
        device="cpu",
        verbose=0,
        callbacks=None,
        warm_start=False,
        classes=None,
        train_split=None,
        iterator_train=DataLoader,
        iterator_valid=DataLoader,
        dataset=Dataset,
        predict_nonlinearity="auto",
        compile=False,
        use_caching="auto",
        torch_load_kwargs=None,
        **kwargs,
    ):
        super().__init__(
            module,
            criterion=criterion,
            optimizer=optimizer,
            lr=lr,
            max_epochs=max_epochs,
            batch_size=batch_size,
            device=device,
            verbose=verbose,
            callbacks=callbacks,
            warm_start=warm_start,
            classes=classes,
            train_split=train_split,
            iterator_train=iterator_train,
            iterator_valid=iterator_valid,
            dataset=dataset,
            predict_nonlinearity=predict_nonlinearity,
            compile=compile,
            use_caching=use_caching,
            torch_load_kwargs=torch_load_kwargs,
            **kwargs,
        )
        self.alpha = alpha
        self.gamma = gamma
        self.margin = margin
        self.logit_adjustment = logit_adjustment
        self.weight_decay = weight_decay
        self.class_weight = class_weight
        self.hidden_units = hidden_units
        self.dropout = dropout
        self.shuffle = shuffle
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.scoring = scoring
        self.random_state = random_state

    # ------------------------------------------------------------------ parameters
    def _check_params(self):
        """Validate the hyperparameters the scikit-learn way (skorch shadows this)."""
        params = {k: getattr(self, k) for k in self._parameter_constraints}
        validate_parameter_constraints(
            self._parameter_constraints, params, caller_name=type(self).__name__
        )
        _check_hidden_units(self.hidden_units)
        if self.early_stopping:
            get_scorer(self.scoring)  # an unknown name raises a ValueError naming it
        if not isinstance(self.criterion, str) and (
            self.class_weight is not None or self.logit_adjustment not in ("auto", 0)
        ):
            name = getattr(self.criterion, "__name__", repr(self.criterion))
            raise ValueError(
                "class_weight and logit_adjustment configure a criterion chosen by name; "
                f"{name} is built from its own criterion__* parameters (e.g. "
                "criterion__weight), so set class_weight=None and logit_adjustment='auto'."
            )
        if isinstance(self.criterion, str):
            stray = sorted(k for k in vars(self) if k.startswith("criterion__"))
            if stray:
                raise ValueError(
                    f"{', '.join(stray)} only apply to a criterion class; with "
                    f"criterion={self.criterion!r} use the top-level alpha, gamma, "
                    "margin and class_weight parameters."
                )

    def set_params(self, **kwargs):
        if self.initialized_ and "_built_params" not in self.__dict__:
            # A net pickled before the copy below existed: its parts were built with
            # the values it has now.
            self._built_params = _snapshot(self, _REBUILDING_PARAMS)
        if not self.initialized_:
            return super().set_params(**kwargs)
        # skorch rebuilds a part whenever its key is set, to the same value too
        # (module, criterion, optimizer, compile, callbacks): a top-level key set to its
        # value again is no change here. Keys of a part's own parameters (module__*,
        # criterion__*, ...) go to skorch as they are, and lr and optimizer__* act on
        # the optimizer's live state (a scheduler may have moved it).
        current = self.get_params(deep=False)
        kwargs = {key: value for key, value in kwargs.items()
                  if "__" in key or key == "lr" or key not in current
                  or not _same_value(current[key], value)}
        # Keys of the iterators and data set configure no built part: skorch sets them
        # and then raises "Something went wrong" on an initialized net, finding nothing
        # to rebuild. Set here, checked by skorch's validation as it would be.
        passive = {key: value for key, value in kwargs.items() if "__" in key
                   and key.split("__", 1)[0] in ("iterator_train", "iterator_valid", "dataset")}
        for key, value in passive.items():
            setattr(self, key, value)
            self._params_to_validate.add(key)
        if passive:
            self._validate_params()
        super().set_params(**{k: v for k, v in kwargs.items() if k not in passive})
        if "callbacks" in kwargs:
            # skorch initializes the callbacks before it stores the new list.
            self.initialize_callbacks()
        # The top-level parameters configure parts of the net: as with skorch's own
        # module__* / criterion__* / optimizer__* parameters, changing them on an
        # initialized net rebuilds that part and the parts built on it (a new module
        # needs a new criterion and optimizer, a new criterion a new optimizer), so that
        # partial_fit and warm starts use them. What counts as a change is a difference
        # from a copy of the values the parts were built with: the same value again
        # keeps the trained part, a dict edited in place is a change, and a value a
        # failed rebuild did not take stays one.
        with self._restored_on_error(_BUILT_PARTS):  # all or nothing
            self._rebuild(self._unbuilt_params())
        self._built_params = _snapshot(self, _REBUILDING_PARAMS)
        return self

    def _unbuilt_params(self):
        """The parameters whose values differ from those the parts were built with."""
        built = self.__dict__.get("_built_params", {})
        return {name for name in _REBUILDING_PARAMS
                if name not in built or not _same_value(built[name], getattr(self, name))}

    def _rebuild(self, changed):
        """Rebuild the parts of an initialized net that the parameters ``changed`` set."""
        if "class_weight" in changed and self._has_classes():
            self._refresh_class_weight()
        if self.module is None and _MODULE_PARAMS & changed:
            self._initialize_module()
            self._initialize_criterion()
            self._initialize_optimizer()
        elif isinstance(self.criterion, str) and (
            (_CRITERION_PARAMS | {"class_weight"}) & changed
        ):
            self._initialize_criterion()
            self._initialize_optimizer()
        elif "weight_decay" in changed:
            self._initialize_optimizer()
        if _CALLBACK_PARAMS & changed:
            self._initialize_callbacks()

    def _apply_pending_params(self):
        """Before training on: parameters a failed set_params did not build, built now
        (or the same error again), so that no fit trains on parts they do not describe."""
        if "_built_params" in self.__dict__ and self._unbuilt_params():
            self.set_params()

    def _get_param_names(self):
        # skorch lists every attribute without a trailing underscore, which leaks its
        # private ``_params_to_validate`` into get_params/clone.
        return [name for name in super()._get_param_names() if not name.startswith("_")]

    @property
    def _default_callbacks(self):
        return [
            ("epoch_timer", EpochTimer()),
            ("train_loss", _EpochLoss(name="train_loss", on_train=True)),
            ("valid_loss", _EpochLoss(name="valid_loss")),
            ("importance", ImportanceHistory()),
            ("print_log", _QuietPrintLog(keys_ignored=["importance"])),
        ]

    def get_default_callbacks(self):
        callbacks = list(self._default_callbacks)
        if self.early_stopping:
            # before print_log, so that the epoch's line shows the score
            callbacks[-1:-1] = [
                ("valid_score", EpochScoring(
                    LabelScorer(self.scoring), name="valid_score", lower_is_better=False
                )),
                ("early_stopping", _EarlyStopping(
                    monitor="valid_score",
                    patience=self.n_iter_no_change,
                    lower_is_better=False,
                    load_best=True,
                    sink=print,  # skorch prints to print only while net.verbose
                )),
            ]
        return callbacks

    # ------------------------------------------------------------------ data
    def _validate_X(self, X, reset, y=None):
        """Check ``X`` (and ``y``) and return them as float32 / original arrays."""
        if isinstance(X, Mapping) and not sparse.issparse(X):  # a dok matrix is a dict
            raise ValueError(
                "X is a dict: inputs for a multi-input module go in a torch Dataset "
                "(e.g. skorch.dataset.Dataset(X, y)) passed with a module that takes them."
            )
        dtypes = getattr(X, "dtypes", None)
        if dtypes is not None and hasattr(dtypes, "items"):
            bad = [str(c) for c, dt in dtypes.items()
                   if getattr(dt, "kind", "O") not in "biuf" and not _holds_numbers(X[c])]
            if bad:
                raise ValueError(
                    f"X has non-numeric columns {bad}; encode them first, e.g. with "
                    "sklearn.preprocessing.OneHotEncoder in a Pipeline."
                )
        check = dict(reset=reset, dtype=[np.float32, np.float64], ensure_min_samples=1)
        if y is None:
            X = validate_data(self, X, **check)
        else:
            X, y = validate_data(self, X, y, **check)
        with np.errstate(over="ignore"):  # reported below, by name
            X32 = np.ascontiguousarray(X, dtype=np.float32)
        if X.dtype != np.float32 and not np.isfinite(X32).all():
            raise ValueError(
                "X has values beyond the float32 range (|x| > 3.4e38) that the network "
                "computes in; scale the features (e.g. StandardScaler) first."
            )
        return X32, y

    def _prepare_fit_data(self, X, y, sample_weight, reset, classes=None, require_two=True):
        """Validate the training data, encode ``y``; return an ``ArrayDataset``.

        ``classes`` (the known labels, a superset of ``y``'s) fixes ``classes_`` on
        reset; ``require_two=False`` lets a first ``partial_fit`` batch hold one class.
        """
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        # A net initialized with classes but no data learns its features here too.
        X, y = self._validate_X(X, reset=reset or not hasattr(self, "n_features_in_"), y=y)
        check_classification_targets(y)
        device = _check_device(self.device)  # before anything changes
        # A rejected fit leaves the classes and their statistics as they were.
        with self._restored_class_stats_on_error():
            if reset:
                labels = np.unique(y if classes is None else np.asarray(classes))
                if classes is not None and len(labels) < 2:
                    raise ValueError(
                        f"classes must list at least two labels (all the model will ever "
                        f"see); got {labels.tolist()!r}."
                    )
                if len(np.unique(y)) < 2 and require_two:
                    raise ValueError(
                        f"y has one class only ({labels[0].tolist()!r}); a classifier needs "
                        "samples of at least two classes."
                    )
                if self.criterion == "margin" and len(labels) != 2:
                    raise ValueError(
                        "Only binary classification is supported with criterion='margin' "
                        f"(it is binary only), but y has {len(labels)} classes."
                    )
                self.classes_inferred_ = labels
            try:
                y_enc = np.searchsorted(self.classes_, y)
            except TypeError:  # e.g. text labels in an object array against int classes
                raise ValueError(
                    f"y's labels cannot be compared with the classes known to the classifier "
                    f"{self.classes_.tolist()!r} (labels {y[:3].tolist()!r}... are of another "
                    "type); pass labels of the classes' type."
                ) from None
            y_enc = np.clip(y_enc, 0, len(self.classes_) - 1)
            unseen = self.classes_[y_enc] != y
            if unseen.any():
                raise ValueError(
                    f"y contains labels outside the classes known to the classifier (not seen "
                    f"in the first fit, nor given as `classes`): "
                    f"{np.unique(y[unseen]).tolist()}; known classes: {self.classes_.tolist()}."
                )
            if sample_weight is not None:
                sample_weight = _check_sample_weight(
                    sample_weight, X, dtype=np.float32, ensure_non_negative=True
                )
                if not np.isfinite(sample_weight).all():
                    raise ValueError("sample_weight contains NaN or infinity.")
            if self.early_stopping and self.train_split is None:
                self._check_early_stopping_split(y_enc)  # before the counts change
            self._update_class_prior(y_enc, reset, sample_weight)
            self._update_class_weight(reset)
        return ArrayDataset(X, y_enc.astype(np.int64), sample_weight, device=device), y_enc

    def _update_class_prior(self, y_enc, reset, sample_weight=None):
        """Set ``class_prior_`` from the class counts of all the data trained on so far.

        The counts are sums of ``sample_weight`` where it is given: the class shares
        the weighted loss sees. ``partial_fit`` and warm-started fits add their rows
        to the counts and update the criterion's prior in place. A class known from
        ``classes`` but not seen yet counts as the rarest seen class, so that its
        logit is not shifted far beyond the others'.
        """
        counts = np.bincount(y_enc, weights=sample_weight, minlength=len(self.classes_))
        counts = counts.astype(np.float64)
        if not reset and getattr(self, "class_counts_", None) is not None:
            counts = counts + self.class_counts_
        self.class_counts_ = counts
        seen = counts > 0
        counts = np.where(seen, counts, counts[seen].min())
        self.class_prior_ = (counts / counts.sum()).astype(np.float32)
        criterion = getattr(self, "criterion_", None)
        if not reset and hasattr(criterion, "set_prior"):
            criterion.set_prior(self.class_prior_)

    def _update_class_weight(self, reset):
        """``class_weight_`` (and the criterion's) after the class counts changed.

        A fresh fit derives it. A warm-started fit re-weighs ``'balanced'`` on the
        counts of all rows trained on, as the prior is, in place (the adaptive
        importance and the optimizer state are kept); that is also how a net built by
        ``initialize()`` without data gets its ``'balanced'`` weights.
        """
        balanced = isinstance(self.class_weight, str) and self.class_weight == "balanced"
        if reset or balanced or getattr(self, "class_weight_", None) is None:
            self._refresh_class_weight()
        if balanced and not reset:
            self.criterion_.weight = torch.as_tensor(
                self.class_weight_, device=_check_device(self.device))

    def _dataset_class_stats(self, y, reset=True):
        """``class_weight_`` and ``class_prior_`` for a torch Dataset and its ``y``."""
        needs_y = self.class_weight is not None or (
            isinstance(self.criterion, str) and self._tau() > 0
        )
        if y is None:
            if needs_y:
                raise ValueError(
                    "class_weight and the logit adjustment need the class frequencies: "
                    "pass y (the encoded targets 0..C-1) along with the Dataset, or set "
                    "class_weight=None and logit_adjustment=0."
                )
            if reset:
                self.class_weight_ = self.class_prior_ = self.class_counts_ = None
            return
        self._update_class_prior(np.asarray(y), reset=reset)
        self._update_class_weight(reset)

    def _check_dataset_input(self, X, y, sample_weight, reset=True, classes=None):
        """Checks for a torch Dataset passed to fit or partial_fit; class statistics."""
        if sample_weight is not None:
            raise ValueError(
                "sample_weight is for array input; with a torch Dataset, yield the "
                "weights from the Dataset and use a criterion with reduction='none'."
            )
        if self.module is None:
            raise ValueError(
                "The default MLP is sized from array input; with a torch Dataset, pass "
                "a module (module=..., with its module__* parameters)."
            )
        if self.early_stopping and self.train_split is None:
            raise ValueError(
                "early_stopping makes its stratified split of array input; with a torch "
                "Dataset, pass a train_split too (e.g. skorch.dataset.ValidSplit(10, "
                "stratified=True)) and early stopping scores that split."
            )
        # A Dataset's targets are positions 0..C-1 in classes_ (as for skorch). A warm
        # start keeps the classes; a fresh fit takes them from `classes` or, as skorch
        # does, from the targets. A rejected fit leaves the classes as they were.
        with self._restored_class_stats_on_error():
            if reset or not self._has_classes():
                given = classes if classes is not None else self._known_classes()
                self.classes_inferred_ = self._dataset_classes(X, y, given)
            if y is not None:
                stray = np.setdiff1d(np.unique(np.asarray(y)), np.arange(len(self.classes_)))
                if stray.size:
                    raise ValueError(
                        f"y holds {stray.tolist()!r}; with a torch Dataset the targets are "
                        f"positions 0..{len(self.classes_) - 1} in the classes known to the "
                        f"classifier, {self.classes_.tolist()!r}."
                    )
            self._dataset_class_stats(y, reset)

    @contextmanager
    def _restored_on_error(self, names):
        """On an exception, put the attributes ``names`` back as they were (absent
        ones removed) before re-raising it."""
        kept = {name: self.__dict__.get(name, _ABSENT) for name in names}
        try:
            yield
        except Exception:
            for name, value in kept.items():
                if value is _ABSENT:
                    self.__dict__.pop(name, None)
                else:
                    self.__dict__[name] = value
            raise

    @contextmanager
    def _restored_class_stats_on_error(self):
        """A fit rejected while reading the classes leaves them, their counts, prior
        and weights (the criterion's included) as they were."""
        criterion = self.__dict__.get("criterion_")
        # The criterion's prior shift, gate threshold and weight (buffers, some None).
        buffers = {
            name: None if value is None else value.clone()
            for name, value in getattr(criterion, "_buffers", {}).items()
        }
        try:
            with self._restored_on_error(("classes_inferred_", "class_counts_",
                                          "class_prior_", "class_weight_")):
                yield
        except Exception:
            for name, value in buffers.items():
                setattr(criterion, name, value)
            raise

    def _dataset_classes(self, X, y, given):
        """The classes of a fresh fit on a torch Dataset: ``given``, or skorch's."""
        if given is not None:
            labels = np.asarray(given)
            if not np.array_equal(np.unique(labels), labels) or len(labels) < 2:
                raise ValueError(
                    f"classes={labels.tolist()!r}: with a torch Dataset the targets are "
                    "positions in classes, which must list at least two labels, sorted "
                    "and unique (as classes_ is)."
                )
            return labels
        self.__dict__.pop("classes_inferred_", None)  # none left from a past fit
        try:
            super().check_data(X, y)  # skorch infers the classes from y or the Dataset
        except TypeError:  # skorch's own Dataset(X, None): no targets to read
            if y is not None:
                raise
        inferred = self.__dict__.get("classes_inferred_")
        if inferred is None:
            raise ValueError(
                "The classes of this Dataset are unknown (it has no targets skorch can "
                "read): pass y, the targets as positions 0..C-1, or classes=[...]."
            )
        if not np.array_equal(inferred, np.arange(len(inferred))):
            raise ValueError(
                f"The targets hold the classes {inferred.tolist()!r}; with a torch Dataset "
                "they are positions 0..C-1. Pass classes=... (all the labels, sorted) when "
                "a first fit does not see every class."
            )
        return inferred

    def _refresh_class_weight(self):
        """Set ``class_weight_`` from ``class_weight`` and the counts behind the prior.

        ``'balanced'`` is scikit-learn's ``n / (n_classes * count)`` on the
        (sample-weighted) counts, as ``compute_class_weight`` makes it.
        """
        classes = self.classes_
        counts = getattr(self, "class_counts_", None)
        weight = self.class_weight
        if isinstance(weight, dict):
            position = {label: i for i, label in enumerate(classes.tolist())}
            stray = [key for key in weight if key not in position]
            if stray:
                raise ValueError(
                    f"class_weight has keys that are not classes: {stray!r}; the classes "
                    f"are {classes.tolist()!r}."
                )
            weight = {position[key]: value for key, value in weight.items()}
        elif weight == "balanced" and (counts is None or (counts <= 0).any()):
            missing = classes if counts is None else classes[counts <= 0]
            raise ValueError(
                "class_weight='balanced' needs rows of every class (with positive sample "
                f"weight) to weigh them; none of class {missing.tolist()!r}. Give "
                "class_weight as a dict, or train on data that holds every class."
            )
        index = np.arange(len(classes))
        class_weight = compute_class_weight(
            weight, classes=index, y=index, sample_weight=counts
        ).astype(np.float32)
        if not (np.isfinite(class_weight).all() and (class_weight >= 0).all()):
            raise ValueError(
                f"class_weight must hold finite, non-negative weights; got {self.class_weight!r}."
            )
        self.class_weight_ = class_weight

    def _known_classes(self):
        """The ``classes`` parameter, or None when it is unset or empty."""
        return None if self.classes is None or len(self.classes) == 0 else self.classes

    @property
    def classes_(self):
        """The class labels, sorted, as seen in ``fit``."""
        try:
            return self.classes_inferred_
        except AttributeError:
            known = self._known_classes()
            if known is not None:  # initialize() without data, e.g. before load_params
                return np.unique(np.asarray(known))
            raise AttributeError(
                f"{type(self).__name__} has no attribute 'classes_' before fit."
            ) from None

    def check_data(self, X, y):
        # Our own fit path validates and encodes the data, and _check_dataset_input
        # infers the classes of a torch Dataset (on a warm start it keeps them); skorch
        # infers them only where neither did.
        if is_dataset(X) and not isinstance(X, ArrayDataset) and not self._has_classes():
            super().check_data(X, y)

    # ------------------------------------------------------------------ components
    def initialize_module(self):
        if self.module is not None:
            return super().initialize_module()
        if not hasattr(self, "n_features_in_"):
            raise NotFittedError(
                "The default MLP is sized from the training data; call fit(X, y), or "
                "pass a module to initialize the network without data."
            )
        module_params = self.get_params_for("module")
        clash = sorted({"n_features", "n_classes", "hidden_units", "dropout"} & set(module_params))
        if clash:
            raise ValueError(
                f"module__{', module__'.join(clash)}: the default MLP takes hidden_units and "
                "dropout as the estimator's own parameters (hidden_units=..., dropout=...) "
                "and is sized from the data; pass a module to set other arguments."
            )
        self.module_ = MLP(
            self.n_features_in_,
            len(self.classes_),
            hidden_units=_check_hidden_units(self.hidden_units),
            dropout=self.dropout,
            **module_params,
        )
        return self

    def _tau(self):
        """The logit-adjustment strength in effect for a criterion by name."""
        if self.logit_adjustment == "auto":
            return 1.0 if self.criterion in _ADJUSTED_BY_DEFAULT else 0.0
        return float(self.logit_adjustment)

    def initialize_criterion(self):
        if not isinstance(self.criterion, str):
            return super().initialize_criterion()
        n_classes = len(self.classes_)
        if getattr(self, "class_weight_", None) is None and self.class_weight != "balanced":
            self._refresh_class_weight()  # initialize() before any data: None or a dict
        weight = getattr(self, "class_weight_", None)
        if weight is not None and np.all(weight == 1):
            weight = None
        # Before any data (initialize() with a module and classes) the prior is uniform,
        # a shift of zero; fit and partial_fit set the class frequencies in place.
        prior = getattr(self, "class_prior_", None)
        if prior is None:
            prior = np.full(n_classes, 1.0 / n_classes, dtype=np.float32)
        common = dict(weight=weight, reduction="none", prior=prior, tau=self._tau())
        if self.criterion in ("adaptive", "adaptive-seed"):
            offset = 1.0 if self.criterion == "adaptive" else 0.0
            criterion = AdaptiveCrossEntropy(n_classes, alpha=self.alpha, offset=offset,
                                             **common)
        elif self.criterion == "focal":
            criterion = FocalLoss(gamma=self.gamma, **common)
        elif self.criterion == "margin":
            criterion = MarginCrossEntropy(margin=self.margin, **common)
        else:  # "ce" is focal loss with gamma = 0, i.e. exactly cross entropy
            criterion = FocalLoss(gamma=0.0, **common)
        self.criterion_ = criterion
        return self

    def initialize_optimizer(self, triggered_directly=None):
        args, kwargs = self.get_params_for_optimizer("optimizer", self.get_all_learnable_params())
        if "weight_decay" not in kwargs and self.weight_decay:
            if "weight_decay" not in inspect.signature(self.optimizer).parameters:
                name = getattr(self.optimizer, "__name__", repr(self.optimizer))
                raise ValueError(
                    f"weight_decay={self.weight_decay!r} but {name} has no weight_decay "
                    "parameter; set weight_decay=0 for this optimizer."
                )
            kwargs["weight_decay"] = self.weight_decay
        if self.optimizer in (torch.optim.Adam, torch.optim.AdamW) and not (
            {"fused", "foreach"} & set(kwargs)
        ):
            # One fused kernel per parameter instead of a dozen small ops: on the small
            # networks this library trains, the optimizer step is a third of a batch.
            kwargs["fused"] = True
        self.optimizer_ = self.optimizer(*args, **kwargs)
        return self

    def get_iterator(self, dataset, training=False):
        fast = as_array_dataset(dataset)
        prefix = "iterator_train" if training else "iterator_valid"
        iterator = self.iterator_train if training else self.iterator_valid
        kwargs = self.get_params_for(prefix)
        if fast is None or iterator is not DataLoader or set(kwargs) - {"batch_size"}:
            # A custom Dataset or iterator: skorch's path, with our shuffle default.
            kwargs.setdefault("batch_size", self.batch_size)
            if kwargs["batch_size"] == -1:
                kwargs["batch_size"] = len(dataset)
            if training:
                kwargs.setdefault("shuffle", self.shuffle)
            return iterator(dataset, **kwargs)
        batch_size = kwargs.get("batch_size", self.batch_size)
        if not training and "batch_size" not in kwargs and batch_size != -1:
            # Inference holds no gradients, so it runs in large batches: per-batch
            # overhead, not arithmetic, bounds prediction with small ones.
            batch_size = max(batch_size, _INFERENCE_BATCH_SIZE)
        return TensorBatches(fast, batch_size, shuffle=training and self.shuffle)

    def get_split_datasets(self, X, y=None, **fit_params):
        dataset = as_array_dataset(X) if self.train_split is None else None
        if not (self.early_stopping and dataset is not None):
            return super().get_split_datasets(X, y, **fit_params)
        y = dataset.y  # checked by _check_early_stopping_split in _prepare_fit_data
        idx_train, idx_valid = train_test_split(
            np.arange(len(y)),
            test_size=self.validation_fraction,
            stratify=y,
            random_state=self.split_seed_,
        )
        return dataset.subset(idx_train), dataset.subset(idx_valid)

    def _check_early_stopping_split(self, y):
        """Whether the encoded targets ``y`` can be split for early stopping."""
        counts = np.bincount(y, minlength=len(self.classes_))
        if counts.min() < 2:
            rare = self.classes_[counts.argmin()].tolist()
            raise ValueError(
                "early_stopping needs at least 2 samples of every class for its "
                f"stratified validation split; class {rare!r} has {counts.min()}."
            )
        n_valid = math.ceil(len(y) * self.validation_fraction)
        n_classes = len(self.classes_)
        for part, rows, fix in (("validation split", n_valid, "raise"),
                                ("training part", len(y) - n_valid, "lower")):
            if rows < n_classes:
                raise ValueError(
                    f"early_stopping's stratified {part} (validation_fraction="
                    f"{self.validation_fraction} of {len(y)} rows) holds {rows} row(s); it "
                    f"needs one of every class ({n_classes}). {fix.capitalize()} "
                    "validation_fraction, train on more rows or turn early_stopping off."
                )

    # ------------------------------------------------------------------ training
    def initialize(self):
        super().initialize()
        # What the module, criterion, optimizer and callbacks were built with, for
        # set_params to rebuild only on a change.
        self._built_params = _snapshot(self, _REBUILDING_PARAMS)
        return self

    def initialize_callbacks(self):
        super().initialize_callbacks()
        for _, callback in self.callbacks_:
            # skorch scores the encoded targets 0..C-1 against predict's labels; the
            # wrapper decodes them, so that every score compares labels with labels.
            if isinstance(callback, ScoringBase) and not isinstance(
                callback.scoring_, LabelScorer
            ):
                callback.scoring_ = LabelScorer(callback.scoring_)
            if isinstance(callback, EpochScoring) and callback.on_train:
                # It scores the training rows in the epoch's shuffled order, while
                # their weights are in the data set's: scored unweighted.
                callback.scoring_ = LabelScorer(callback.scoring_.scoring, weighted=False)
        self.listeners_ = {}
        return self

    def _listeners(self, method_name):
        """The callbacks that override ``method_name``, cached per initialization."""
        listeners = self.__dict__.setdefault("listeners_", {})
        if method_name not in listeners:
            listeners[method_name] = [
                cb for _, cb in self.callbacks_
                if getattr(type(cb), method_name, None) is not getattr(Callback, method_name)
            ]
        return listeners[method_name]

    def notify(self, method_name, **cb_kwargs):
        # As skorch's, but only callbacks that override the hook are called: with the
        # default set, most per-batch hooks have no listener at all.
        getattr(self, method_name)(self, **cb_kwargs)
        for cb in self._listeners(method_name):
            getattr(cb, method_name)(self, **cb_kwargs)

    def _set_training(self, training=True):
        # skorch walks every submodule on every batch; skip the walk when the
        # modules and criteria are already in the requested mode.
        components = [getattr(self, name + "_", None) for name in self._modules + self._criteria]
        if all(not isinstance(c, torch.nn.Module) or c.training == training for c in components):
            return
        super()._set_training(training)

    def infer(self, x, **fit_params):
        if isinstance(x, Mapping) and "sample_weight" in x:
            x = x["X"]  # the weights are for the loss, not the module
        if torch.is_tensor(x):  # our batches are already tensors on the device
            return self.module_(x, **fit_params)
        return super().infer(x, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        weights = None
        if isinstance(X, Mapping) and "sample_weight" in X:
            weights = X["sample_weight"]
        if not torch.is_tensor(y_true):
            y_true = to_tensor(y_true, device=self.device)
        if weights is not None and isinstance(self.criterion_, AdaptiveCrossEntropy):
            # The miss rates count a row as often as its weight, like the loss below.
            loss = self.criterion_(y_pred, y_true, sample_weight=weights)
        else:
            loss = self.criterion_(y_pred, y_true)
        if loss.dim() == 0:
            if weights is not None:
                raise ValueError(
                    "sample_weight needs a criterion that returns one loss per sample "
                    "(reduction='none'); this criterion returned a scalar."
                )
            return loss
        if weights is not None:
            loss = loss * weights
        return loss.mean()

    def on_epoch_begin(self, net, **kwargs):
        super().on_epoch_begin(net, **kwargs)
        # Per-epoch mean losses, filled by run_single_epoch and read by _EpochLoss.
        self.epoch_losses_ = {}

    def _epochs(self, n_rows):
        """``max_epochs``, with ``'auto'`` resolved for ``n_rows`` training rows."""
        if self.max_epochs != "auto":
            return self.max_epochs
        if self.early_stopping and self.train_split is None:
            n_rows = n_rows - math.ceil(n_rows * self.validation_fraction)
        batch_size = self.get_params_for("iterator_train").get("batch_size", self.batch_size)
        per_epoch = 1 if batch_size == -1 else max(1, math.ceil(n_rows / batch_size))
        return max(_AUTO_EPOCHS, math.ceil(_AUTO_STEPS / per_epoch))

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        if epochs is None:
            if fit_params.get("_routing_method") == "partial_fit" or not hasattr(X, "__len__"):
                # A partial_fit chunk is not the training set: 'auto' is the plain 40
                # epochs there (and for a Dataset without a length).
                epochs = _AUTO_EPOCHS if self.max_epochs == "auto" else self.max_epochs
            else:
                epochs = self._epochs(len(X))
        return super().fit_loop(X, y, epochs=epochs, **fit_params)

    def _needs_batch_hooks(self):
        """Whether anything listens to the per-batch hooks beyond skorch's defaults."""
        cls = type(self)
        return (
            cls.on_batch_begin is not NeuralNetClassifier.on_batch_begin
            or cls.on_batch_end is not NeuralNetClassifier.on_batch_end
            or any(self._listeners(name) for name in ("on_batch_begin", "on_batch_end"))
        )

    def _needs_closure(self):
        """Whether the training step must go through skorch's optimizer closure.

        It must for an optimizer that evaluates the loss more than once per step
        (LBFGS) or one from outside ``torch.optim``, and whenever something listens to
        ``on_grad_computed``.
        """
        for name in self._optimizers:
            optimizer = getattr(self, name + "_")
            module = type(optimizer).__module__
            if isinstance(optimizer, torch.optim.LBFGS) or not module.startswith("torch.optim"):
                return True
        return bool(self._listeners("on_grad_computed"))

    def train_step(self, batch, **fit_params):
        # skorch hands the optimizer a closure that zeroes the gradients, runs the step
        # and notifies on_grad_computed. A single-evaluation optimizer needs no closure,
        # so with nobody listening the step is the plain zero_grad / backward / step.
        if self._needs_closure():
            return super().train_step(batch, **fit_params)
        self._zero_grad_optimizer()
        step = self.train_step_single(batch, **fit_params)
        self._step_optimizer(None)
        return step

    def run_single_epoch(self, iterator, training, prefix, step_fn, **fit_params):
        # As skorch's, with the batch losses kept on the device until the epoch ends,
        # so the only device-to-host transfer of the epoch is one ``tolist``. When no
        # callback listens to the per-batch hooks, the history's batch entries are
        # written once, at the end of the epoch, instead of batch by batch.
        if iterator is None:
            return
        epoch = self.history[-1]
        batches = epoch["batches"]
        first = len(batches)
        losses, sizes = [], []
        if self._needs_batch_hooks():
            for batch in iterator:
                self.notify("on_batch_begin", batch=batch, training=training)
                step = step_fn(batch, **fit_params)
                losses.append(step["loss"].detach())
                sizes.append(len(batch[1]))
                batches[-1][prefix + "_loss"] = losses[-1]
                batches[-1][prefix + "_batch_size"] = sizes[-1]
                self.notify("on_batch_end", batch=batch, training=training, **step)
        else:
            for batch in iterator:
                losses.append(step_fn(batch, **fit_params)["loss"].detach())
                sizes.append(len(batch[1]))
            batches.extend({} for _ in losses)
        values = torch.stack(losses).tolist() if losses else []
        for entry, value, size in zip(batches[first:], values, sizes):
            entry[prefix + "_loss"] = value
            entry[prefix + "_batch_size"] = size
        epoch[prefix + "_batch_count"] = len(values)  # what history.record writes
        if values:
            # the batch-size-weighted mean, as PassthroughScoring's np.average computes it
            mean = sum(v * n for v, n in zip(values, sizes)) / sum(sizes)
            self.__dict__.setdefault("epoch_losses_", {})[prefix + "_loss"] = mean
        bad = [v for v in values if not math.isfinite(v)]
        if bad:
            raise TrainingDivergedError(
                f"The {'training' if training else 'validation'} loss became {bad[0]} in "
                f"epoch {len(self.history)}; the "
                "network diverged. Lower lr, scale the features (e.g. StandardScaler) "
                "or check the data and sample weights."
            )

    @contextmanager
    def _seeded(self, offset=0):
        """Seed torch for one fit and restore the global RNG state afterwards.

        torch's generator is process-wide: two fits in threads side by side draw from
        each other's stream, and a seeded fit that starts beside another says so.
        """
        with _running_fit(self.random_state is not None) as beside:
            if beside:
                warnings.warn(
                    "random_state cannot make fits reproducible that run side by side: "
                    "another fit is running in a thread of this process, one of the two "
                    "seeded, and torch's random generator (initial weights, shuffles, "
                    "dropout) is process-wide. Run fits side by side in processes "
                    "(joblib's default backend, Dask workers with --nthreads 1).",
                    RuntimeWarning, stacklevel=4)
            if self.random_state is None:
                self.split_seed_ = None
                yield
                return
            seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
            self.split_seed_ = seed
            device = torch.device(self.device)
            devices = [device.index or 0] if device.type == "cuda" else []
            with torch.random.fork_rng(devices=devices):
                torch.manual_seed(seed + offset)
                yield

    def _train(self, dataset, y, routing_method, fit_params):
        self.notify("on_train_begin", X=dataset, y=y)
        try:
            try:
                self.fit_loop(dataset, y, _routing_method=routing_method, **fit_params)
            except KeyboardInterrupt:
                pass
            # The loss is checked batch by batch; the last optimizer step can still
            # turn the weights to NaN or infinity (one host sync per fit).
            finite = [torch.isfinite(p).all() for p in self.module_.parameters()]
            if finite and not bool(torch.stack(finite).all()):
                raise TrainingDivergedError(
                    "The network's weights became NaN or infinite in the last step; the "
                    "network diverged. Lower lr, scale the features (e.g. "
                    "StandardScaler) or check the data and sample weights."
                )
        except TrainingDivergedError:
            self.initialized_ = False
            self.__dict__.pop("classes_inferred_", None)
            raise
        self.notify("on_train_end", X=dataset, y=y)
        return self

    def fit(self, X, y, sample_weight=None, **fit_params):
        """Initialize the network and train it on ``X``, ``y``.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            Numeric features of any float or int dtype; no NaN or infinity.
        y : array-like of shape (n_samples,)
            Class labels of any type (ints, strings, bools).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight multiplied into each sample's loss.
        **fit_params
            Passed to the module's ``forward``, as in skorch.

        Returns
        -------
        self
        """
        self._check_params()
        if self.warm_start and self.initialized_:
            self._apply_pending_params()
        if is_dataset(X):
            # skorch's own path: the Dataset yields encoded targets 0..C-1
            reset = not self.warm_start or not self.initialized_
            self._check_dataset_input(X, y, sample_weight, reset=reset)
            with self._seeded(offset=0 if reset else len(self.history)):
                if reset:
                    self.initialize()
                # skorch's, as its own fit calls it ('auto' epochs count the rows)
                return super().partial_fit(X, y, _routing_method="fit", **fit_params)
        reset = not self.warm_start or not self.initialized_
        # A net initialized without classes learns them (and the prior) from this data.
        dataset, y_enc = self._prepare_fit_data(X, y, sample_weight,
                                                reset=reset or not self._has_classes(),
                                                classes=self._known_classes())
        # A warm-started fit goes on with new shuffles and dropout masks, as partial_fit.
        with self._seeded(offset=0 if reset else len(self.history)):
            if reset:
                self.initialize()
            return self._train(dataset, y_enc, "fit", fit_params)

    def partial_fit(self, X, y=None, classes=None, sample_weight=None, **fit_params):
        """Train for ``max_epochs`` more epochs without re-initializing the network.

        ``classes`` lists every label the model will ever see; give it on the first
        call when that batch does not contain them all.
        """
        self._check_params()
        if self.class_weight == "balanced":
            raise ValueError(
                "class_weight='balanced' is not supported for partial_fit (a chunk's "
                "class counts are not the data's); as in scikit-learn, compute the weights "
                "with sklearn.utils.class_weight.compute_class_weight and pass them as a dict."
            )
        reset = not self.initialized_
        if not reset:
            self._apply_pending_params()
        if classes is not None and not reset and self._has_classes():
            given = np.unique(np.asarray(classes))
            if not np.array_equal(given, self.classes_):
                raise ValueError(
                    f"classes={given.tolist()!r} differs from the classes the classifier "
                    f"was first fitted or initialized with, {self.classes_.tolist()!r}."
                )
        if is_dataset(X):
            self._check_dataset_input(X, y, sample_weight, reset=reset, classes=classes)
            with self._seeded(offset=0 if reset else len(self.history)):
                return super().partial_fit(X, y, classes=classes, **fit_params)
        if classes is None:
            classes = self._known_classes()
        dataset, y_enc = self._prepare_fit_data(X, y, sample_weight,
                                                reset=reset or not self._has_classes(),
                                                classes=classes, require_two=classes is None)
        with self._seeded(offset=0 if reset else len(self.history)):
            if reset:
                self.initialize()
            return self._train(dataset, y_enc, "partial_fit", fit_params)

    # ------------------------------------------------------------------ prediction
    def _has_classes(self):
        """Whether the labels are known: seen in fit, or given as ``classes``."""
        return hasattr(self, "classes_inferred_") or self._known_classes() is not None

    def check_is_fitted(self, attributes=None, *args, **kwargs):
        if not self.initialized_ or not self._has_classes():
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator."
            )
        super().check_is_fitted(attributes, *args, **kwargs)

    def __sklearn_is_fitted__(self):
        return bool(self.initialized_ and self._has_classes())

    def _logits(self, X):
        self.check_is_fitted()
        if is_dataset(X):
            data = X
        else:
            X, _ = self._validate_X(X, reset=False)
            data = ArrayDataset(X, device=_check_device(self.device))
        outputs = [
            out[0] if isinstance(out, tuple) else out
            for out in self.forward_iter(data, training=False)
        ]
        return torch.cat(outputs)

    def predict_proba(self, X):
        """Class probabilities: softmax of the logits, columns in ``classes_`` order.

        ``predict_nonlinearity`` may replace the softmax (``None`` for none, or a
        callable), as in skorch.
        """
        logits = self._logits(X)
        if not torch.isfinite(logits).all():
            bad = int((~torch.isfinite(logits)).any(dim=1).sum())
            raise ValueError(
                f"The network's outputs are NaN or infinite for {bad} of {len(logits)} "
                "rows: it diverged in training (lower lr, scale the features) or these "
                "rows lie far outside the range of the training data."
            )
        nonlin = self.predict_nonlinearity
        if nonlin == "auto":
            proba = torch.softmax(logits.float(), dim=1)
        elif nonlin is None:
            proba = logits
        else:
            proba = nonlin(logits)
        return proba.detach().cpu().numpy()

    def predict(self, X):
        """The most probable class for each row, as one of ``classes_``."""
        indices = self.predict_proba(X).argmax(axis=1)  # checks fitted before classes_
        return self.classes_[indices]

    @property
    def importance_(self):
        """The adaptive importance per class, in ``classes_`` order."""
        criterion = getattr(self, "criterion_", None)
        if not isinstance(getattr(criterion, "importance", None), torch.Tensor):
            raise AttributeError(
                "importance_ exists only after a fit with criterion='adaptive' or "
                "'adaptive-seed'."
            )
        return criterion.importance.detach().cpu().numpy().copy()

    # scikit-learn's repr (changed parameters only) reads better inside Pipelines and
    # search results than skorch's module dump; the fitted module is in ``module_``.
    __repr__ = BaseEstimator.__repr__

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.classifier_tags.multi_class = self.criterion != "margin"
        return tags


class _EpochLoss(PassthroughScoring):
    """skorch's ``PassthroughScoring`` reading the epoch mean the net already computed.

    ``run_single_epoch`` averages the batch losses (weighted by batch size, as
    ``PassthroughScoring`` does) once per epoch; this records it without walking the
    epoch's batch entries in the history again.
    """

    def on_epoch_end(self, net, **kwargs):
        losses = getattr(net, "epoch_losses_", None)
        if losses is None:  # a training loop other than the net's own
            return super().on_epoch_end(net, **kwargs)
        if self.name not in losses:  # e.g. no validation data
            return
        score = losses[self.name]
        is_best = self._is_best_score(score)
        if is_best:
            self.best_score_ = score
        epoch = net.history[-1]  # what history.record writes to
        epoch[self.name] = score
        if is_best is not None:
            epoch[self.name + "_best"] = bool(is_best)


class _EarlyStopping(EarlyStopping):
    """skorch's ``EarlyStopping`` that restores the best epoch's criterion state too.

    skorch restores the module's weights only; the adaptive importance (and so
    ``importance_``, and a warm start's starting point) would stay the last epoch's.
    """

    def on_train_begin(self, net, **kwargs):
        super().on_train_begin(net, **kwargs)
        self.best_criterion_state_ = None

    def on_epoch_end(self, net, **kwargs):
        # skorch raises to stop only after an epoch that did not improve, so an epoch
        # that did always reaches the copy below.
        super().on_epoch_end(net, **kwargs)
        if self.load_best and self.best_epoch_ == net.history[-1, "epoch"]:
            self.best_criterion_state_ = deepcopy(net.criterion_.state_dict())

    def on_train_end(self, net, **kwargs):
        restore = (self.load_best and self.best_epoch_ != net.history[-1, "epoch"]
                   and self.best_criterion_state_ is not None)
        super().on_train_end(net, **kwargs)
        if restore:
            net.criterion_.load_state_dict(self.best_criterion_state_)


class _QuietPrintLog(PrintLog):
    """skorch's ``PrintLog``, which skips building its table when nothing is printed."""

    def on_epoch_end(self, net, **kwargs):
        if net.verbose:
            super().on_epoch_end(net, **kwargs)
