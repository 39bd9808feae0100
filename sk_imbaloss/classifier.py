"""``ImbalancedNeuralClassifier``: a skorch classifier trained with an imbalance-aware loss.

The estimator itself: its parameters, ``fit``/``partial_fit``/``predict*`` and the
skorch hooks that build and train its parts. The checks of its input live in
``_data`` and ``_dataset_input``, the class statistics in ``_class_stats``, the fast
in-memory batches in ``_batching``, saving and loading in ``_persistence``, the
callbacks in ``callbacks`` and every use of a private skorch or scikit-learn name in
``_compat``.
"""

import math
from collections.abc import Mapping

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from skorch import NeuralNetClassifier
from skorch.callbacks import EpochTimer, PassthroughScoring
from skorch.dataset import Dataset
from skorch.exceptions import NotInitializedError
from skorch.utils import is_dataset, to_tensor
from torch.utils.data import DataLoader

from ._batching import (ArrayDataset, TensorBatches, as_array_dataset, auto_epochs,
                        balanced_sampler, prediction_rows)
from ._class_stats import class_stats, class_weight_vector, prior_shift
from ._compat import SyncFreeEpochs, TrainingDivergedError
from ._data import (check_device, check_early_stopping_split, check_hidden_units,
                    check_sample_weights, encode_labels, fit_labels, validate_features)
from ._dataset_input import check_dataset_fit, dataset_classes
from ._params import CRITERIA, PARAMETER_CONSTRAINTS, check_params, check_partial_fit
from ._persistence import SavedModel
from ._runtime import auto_threads, seeded_torch, torch_settings
from .callbacks import (DivergenceCheck, ImportanceHistory, SparsePrintLog,
                        early_stopping_callbacks, score_labels)
from .losses import AdaptiveCrossEntropy, FocalLoss, MarginCrossEntropy
from .modules import MLP

__all__ = ["CRITERIA", "ImbalancedNeuralClassifier", "TrainingDivergedError"]

#: The criteria that ``logit_adjustment='auto'`` trains on logit-adjusted logits; ``ce``
#: stays the plain baseline and ``adaptive-seed`` the write-up's rule exactly.
_ADJUSTED_BY_DEFAULT = frozenset({"adaptive", "focal", "margin"})
#: Rows per batch at prediction, unless ``iterator_valid__batch_size`` says otherwise.
_INFERENCE_BATCH_SIZE = 8192
#: Top-level parameter -> the part of an initialized net that set_params rebuilds.
_PARTS = {
    **dict.fromkeys(("hidden_units", "dropout"), "module"),
    **dict.fromkeys(("alpha", "gamma", "margin", "logit_adjustment", "class_weight",
                     "beta"), "criterion"),
    "weight_decay": "optimizer",
    **dict.fromkeys(("early_stopping", "n_iter_no_change", "scoring", "callbacks"),
                    "callbacks"),
}


class ImbalancedNeuralClassifier(SyncFreeEpochs, SavedModel, NeuralNetClassifier):
    """A neural network classifier trained with an imbalance-aware loss.

    A scikit-learn classifier built on :class:`skorch.NeuralNetClassifier`. With no
    configuration it trains a small MLP sized from the data; any ``torch.nn.Module``
    that returns logits can take its place. The training criterion is chosen by name.
    The user guide (``docs/guide.md``) says how each behaviour works in detail.

    Parameters
    ----------
    module : torch.nn.Module class or instance, default=None
        The network, returning logits of shape ``(n_samples, n_classes)``. ``None``
        builds :class:`sk_imbaloss.modules.MLP` from the data, ``hidden_units`` and
        ``dropout``.
    criterion : {'adaptive', 'adaptive-seed', 'focal', 'margin', 'ce'} or torch criterion, \
default='adaptive'
        ``'adaptive'``: logit-adjusted cross entropy, each class weighted by 1 plus its
        moving false-negative rate (:class:`~sk_imbaloss.losses.AdaptiveCrossEntropy`);
        ``'adaptive-seed'``: the original rule (weight = the moving false-negative
        rate, no logit adjustment); ``'focal'``: :class:`~sk_imbaloss.losses.FocalLoss`;
        ``'margin'``: :class:`~sk_imbaloss.losses.MarginCrossEntropy` (two classes
        only); ``'ce'``: plain cross entropy. A criterion class is configured with
        ``criterion__*`` parameters and receives encoded targets 0..C-1.
    alpha : float in (0, 1], default=0.01
        Smoothing factor of the adaptive importance.
    gamma : float >= 0, default=2.0
        Focusing parameter of the focal loss.
    margin : float in (0.5, 1), default=0.6
        Margin of the margin-gated loss.
    logit_adjustment : float >= 0 or 'auto', default='auto'
        Strength ``tau`` of the logit adjustment (Menon et al. 2021): the loss is
        computed on ``z + tau * log(prior)``, ``prior`` the (sample-weighted) class
        frequencies of the training data, while predictions use the raw logits.
        ``'auto'`` is 1 for ``'adaptive'``, ``'focal'`` and ``'margin'`` (0 with
        ``class_weight='balanced'`` or ``'effective'``, which then correct instead)
        and 0 for ``'ce'`` and ``'adaptive-seed'``; 0 gives the write-ups' focal and
        margin losses.
    class_weight : None, 'balanced', 'effective' or dict, default=None
        Per-class weights in the loss of every criterion by name: ``'balanced'`` is
        ``n / (n_classes * n_c)``, ``'effective'`` Cui et al.'s ``(1 - beta) / (1 -
        beta**n_c)`` scaled to sum to ``n_classes`` (neither with ``partial_fit``);
        either corrects for the class frequencies in place of the logit adjustment.
        A dict maps labels to weights (missing labels weigh 1), a cost on top of the
        balanced decision.
    beta : float in [0, 1), default=0.999
        ``class_weight='effective'``: 0 weighs every class 1, 1 inverse frequency.
    hidden_units : sequence of int, default=(64, 64)
        Hidden layer widths of the default MLP.
    dropout : float in [0, 1), default=0.1
        Dropout of the default MLP.
    optimizer : torch optimizer class, default=torch.optim.Adam
    lr : float, default=1e-3
    weight_decay : float >= 0, default=1e-3
        The optimizer's ``weight_decay``; ``optimizer__weight_decay`` takes precedence.
    max_epochs : int or 'auto', default='auto'
        ``'auto'``: 40 epochs, or as many as make 500 gradient steps on small data;
        40 per ``partial_fit`` call. ``max_epochs_`` holds the last fit's number.
    batch_size : int, default=128
        ``-1`` trains on the whole set in one batch.
    shuffle : bool, default=True
        Reshuffle the training rows every epoch.
    sampling : {'shuffle', 'balanced'}, default='shuffle'
        ``'balanced'``: each epoch draws as many rows as the data holds, with
        replacement, row ``i`` of class ``c`` with probability ``1 / (C * n_c)`` (as
        ``torch.utils.data.WeightedRandomSampler`` does); ``sample_weight`` still
        weighs the loss, early stopping's validation rows are not resampled.
    early_stopping : bool, default=False
        Score a stratified ``validation_fraction`` with ``scoring`` after each epoch,
        stop after ``n_iter_no_change`` epochs without improvement, keep the best.
    validation_fraction : float in (0, 1), default=0.1
    n_iter_no_change : int, default=10
    scoring : str, default='balanced_accuracy'
        A scikit-learn scorer name for early stopping.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation, dropout, shuffles and splits (torch's RNG restored after).
    device : str, default='cpu'
        ``'cpu'``, ``'cuda'`` or ``'cuda:N'``.
    num_threads : int or 'auto', default='auto'
        torch's intra-op threads for this estimator's fits and predictions, set for
        the call and restored after. ``'auto'``: one thread for small work per batch
        (rows x parameters below 2**25: the default MLP on 128-row batches), else
        torch's setting. Subnormal floats are flushed to zero during each call too.
    verbose : int, default=0
        ``1`` prints skorch's epoch table, at most about 20 rows a fit.
    callbacks, warm_start, classes, train_split, iterator_train, iterator_valid, \
dataset, predict_nonlinearity, compile, use_caching, torch_load_kwargs, **kwargs
        As in :class:`skorch.NeuralNetClassifier` (``callbacks``, ``module__*``,
        ``optimizer__*``, ...). ``train_split`` defaults to no split;
        ``predict_nonlinearity='auto'`` is the softmax (none with ``NLLLoss``).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The labels seen in ``fit``, sorted; ``predict`` returns these and the columns
        of ``predict_proba`` follow this order.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Present when ``X`` was a DataFrame with string column names.
    class_counts_, class_prior_, class_weight_ : ndarray of shape (n_classes,)
        Rows per class trained on (sums of ``sample_weight``), their shares (the
        logit adjustment's prior) and the class weights in effect.
    importance_ : ndarray of shape (n_classes,)
        The adaptive importance per class (``'adaptive'``, ``'adaptive-seed'``): its
        moving false-negative rate, so the class weight is ``1 + importance_`` (the
        importance alone for ``'adaptive-seed'``); its value after each epoch is in
        ``history[:, 'importance']``.
    max_epochs_ : int
        The epochs of the last ``fit`` or ``partial_fit`` call.
    module_, criterion_, optimizer_, history_

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sk_imbaloss import ImbalancedNeuralClassifier
    >>> X, y = make_classification(n_samples=300, weights=[0.9], random_state=0)
    >>> clf = ImbalancedNeuralClassifier(random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 2)
    """

    _parameter_constraints = PARAMETER_CONSTRAINTS

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
        beta=0.999,
        hidden_units=(64, 64),
        dropout=0.1,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        weight_decay=1e-3,
        max_epochs="auto",
        batch_size=128,
        shuffle=True,
        sampling="shuffle",
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        scoring="balanced_accuracy",
        random_state=None,
        device="cpu",
        num_threads="auto",
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
        self.beta = beta
        self.hidden_units = hidden_units
        self.dropout = dropout
        self.shuffle = shuffle
        self.sampling = sampling
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.scoring = scoring
        self.random_state = random_state
        self.num_threads = num_threads

    def _check_params(self, params=None):
        """Validate the hyperparameters (``params`` over the current ones)."""
        self.check_training_readiness()  # skorch's: a net trimmed for prediction
        check_params(self, params)

    def set_params(self, **kwargs):
        """Set parameters; on an initialized net, rebuild the parts they configure.

        As skorch rebuilds the module for ``module__*`` keys, a top-level key rebuilds
        its part (and those built on it): ``hidden_units`` and ``dropout`` the default
        MLP, ``alpha``, ``gamma``, ``margin``, ``logit_adjustment``, ``class_weight``
        and ``beta`` the criterion, ``weight_decay`` the optimizer,
        ``early_stopping``, ``n_iter_no_change`` and ``scoring`` the callbacks. Their
        values are checked first: a bad one raises and leaves the net as it was.
        """
        if not self.initialized_ and "callbacks" in kwargs:
            # skorch builds the callbacks as soon as they are set; they are checked
            # when the net is initialized, as every other parameter.
            self.callbacks = kwargs.pop("callbacks")
        parts = {_PARTS[key] for key in kwargs if key in _PARTS}
        if self.module is not None:
            parts.discard("module")  # hidden_units and dropout shape the default MLP only
        if not self.initialized_ or not parts:
            return super().set_params(**kwargs)
        self._check_params({k: v for k, v in kwargs.items() if "__" not in k})
        weight = None
        if "criterion" in parts and self._has_classes():  # a bad value raises before
            weight = class_weight_vector(kwargs.get("class_weight", self.class_weight),
                                         self.classes_, self.class_counts_,
                                         kwargs.get("beta", self.beta))
        super().set_params(**kwargs)
        if weight is not None:
            self.class_weight_ = weight
        if "module" in parts:
            self._initialize_module()
        if parts & {"module", "criterion"}:
            self._initialize_criterion()
        if parts & {"module", "criterion", "optimizer"}:
            self._initialize_optimizer()
        if "callbacks" in parts:
            self._initialize_callbacks()
        return self

    @property
    def _default_callbacks(self):
        return [
            ("epoch_timer", EpochTimer()),
            ("train_loss", PassthroughScoring(name="train_loss", on_train=True)),
            ("valid_loss", PassthroughScoring(name="valid_loss")),
            ("importance", ImportanceHistory()),
            ("divergence", DivergenceCheck()),
            ("print_log", SparsePrintLog(keys_ignored=["importance"])),
        ]

    def get_default_callbacks(self):
        callbacks = list(self._default_callbacks)
        if self.early_stopping:  # before print_log, so that its line shows the score
            callbacks[-1:-1] = early_stopping_callbacks(self.scoring, self.n_iter_no_change)
        return callbacks

    def initialize_callbacks(self):
        super().initialize_callbacks()
        score_labels(self.callbacks_)
        return self

    def _known_classes(self):
        """The ``classes`` parameter, or None when it is unset or empty."""
        return None if self.classes is None or len(self.classes) == 0 else self.classes

    def _has_classes(self):
        """Whether the labels are known: seen in fit, or given as ``classes``."""
        return hasattr(self, "classes_inferred_") or self._known_classes() is not None

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

    def _set_class_stats(self, classes, y_enc, sample_weight, reset):
        """Set the classes and their counts, prior and weights from the encoded
        targets ``y_enc`` (None: unknown); computed first, assigned once all pass."""
        needs_counts = self.class_weight is not None or (
            isinstance(self.criterion, str) and self._tau() > 0)
        counts, prior, weight = class_stats(
            classes, y_enc, sample_weight, self.class_weight, needs_counts,
            previous=None if reset else getattr(self, "class_counts_", None),
            beta=self.beta)
        self.classes_inferred_ = classes
        self.class_counts_, self.class_prior_, self.class_weight_ = counts, prior, weight
        if not reset and prior is not None and hasattr(self.criterion_, "set_prior"):
            # A warm start goes on with the prior (and 'balanced' or 'effective' weights)
            # of all the rows trained on; the importance and the optimizer state are kept.
            self.criterion_.set_prior(prior)
            if isinstance(self.class_weight, str):
                self.criterion_.weight = torch.as_tensor(weight, device=self.device)

    def _array_dataset(self, X, y, sample_weight, reset, classes, require_two):
        """Validate array input and encode ``y``; return the data set and ``y``'s codes.

        ``classes`` (the known labels, a superset of ``y``'s) fixes ``classes_`` on
        reset; ``require_two=False`` lets a first ``partial_fit`` batch hold one class.
        """
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        # A net initialized with classes but no data learns its features here too.
        X, y = validate_features(self, X, reset=reset or not hasattr(self, "n_features_in_"),
                                 y=y)
        device = check_device(self.device)
        labels = (fit_labels(y, classes, require_two, binary=self.criterion == "margin")
                  if reset else self.classes_)
        y_enc = encode_labels(labels, y)
        sample_weight = check_sample_weights(sample_weight, X)
        if self.early_stopping and self.train_split is None:
            check_early_stopping_split(y_enc, labels, self.validation_fraction)
        self._set_class_stats(labels, y_enc, sample_weight, reset)
        if self.dataset is not Dataset or self.get_params_for("dataset"):
            if sample_weight is not None:
                raise ValueError("sample_weight needs the default dataset; with "
                                 "dataset=..., yield the weights from it.")
            return self.get_dataset(X, y_enc), y_enc
        return ArrayDataset(X, y_enc, sample_weight, device=device), y_enc

    def check_data(self, X, y):
        # fit validates and encodes the data and reads a Dataset's classes itself.
        pass

    def initialize_module(self):
        if self.module is not None:
            return super().initialize_module()
        params = self.get_params_for("module")
        clash = sorted({"n_classes", "hidden_units", "dropout"} & set(params))
        if clash:
            raise ValueError(
                f"module__{', module__'.join(clash)}: the default MLP takes hidden_units and "
                "dropout as the estimator's own parameters (hidden_units=..., dropout=...) "
                "and its classes from the data or classes=...; pass a module to set other "
                "arguments."
            )
        # Sized from the data, or without data (e.g. before load_params) from
        # module__n_features and classes.
        if "n_features" in params:
            self.n_features_in_ = params.pop("n_features")
        if not hasattr(self, "n_features_in_") or not self._has_classes():
            raise NotInitializedError(
                "The default MLP is sized from the training data: call fit(X, y), or "
                "initialize() with module__n_features=... and classes=[...]."
            )
        self.module_ = MLP(self.n_features_in_, len(self.classes_),
                           hidden_units=check_hidden_units(self.hidden_units),
                           dropout=self.dropout, **params)
        return self

    def _tau(self):
        """The logit-adjustment strength in effect for a criterion by name.

        ``'auto'`` leaves the correction for the class frequencies to
        ``class_weight='balanced'`` or ``'effective'`` where one is given: both at
        once would correct twice (docs/benchmark.md, "Class weights beside the logit
        adjustment").
        """
        if self.logit_adjustment == "auto":
            weighted = self.class_weight in ("balanced", "effective")
            return 1.0 if self.criterion in _ADJUSTED_BY_DEFAULT and not weighted else 0.0
        return float(self.logit_adjustment)

    def initialize_criterion(self):
        if not isinstance(self.criterion, str):
            return super().initialize_criterion()
        n_classes = len(self.classes_) if self._has_classes() else None
        weight = getattr(self, "class_weight_", None)
        if weight is None and isinstance(self.class_weight, dict) and n_classes:
            weight = class_weight_vector(self.class_weight, self.classes_)  # no data yet
        if weight is not None and np.all(weight == 1):
            weight = None
        # Before any data (initialize() with classes) the prior is uniform, a shift of
        # zero; fit and partial_fit set the class frequencies in place.
        prior = getattr(self, "class_prior_", None)
        if prior is None and n_classes:
            prior = np.full(n_classes, 1.0 / n_classes, dtype=np.float32)
        common = dict(weight=weight, reduction="none", tau=self._tau(), prior=prior)
        if self.criterion in ("adaptive", "adaptive-seed"):
            if n_classes is None:
                raise NotInitializedError(
                    f"criterion={self.criterion!r} keeps one importance per class: "
                    "call fit(X, y), or initialize() with classes=[...]."
                )
            offset = 1.0 if self.criterion == "adaptive" else 0.0
            self.criterion_ = AdaptiveCrossEntropy(n_classes, alpha=self.alpha,
                                                   offset=offset, **common)
        elif self.criterion == "margin":
            self.criterion_ = MarginCrossEntropy(margin=self.margin, **common)
        else:  # "ce" is focal loss with gamma = 0, i.e. exactly cross entropy
            gamma = self.gamma if self.criterion == "focal" else 0.0
            self.criterion_ = FocalLoss(gamma=gamma, **common)
        return self

    def initialize_optimizer(self, triggered_directly=None):
        args, kwargs = self.get_params_for_optimizer("optimizer", self.get_all_learnable_params())
        if self.weight_decay:
            kwargs.setdefault("weight_decay", self.weight_decay)
        if self.optimizer in (torch.optim.Adam, torch.optim.AdamW) and not (
            {"fused", "foreach"} & set(kwargs)
        ):
            # One fused kernel per parameter instead of a dozen small ops: on the small
            # networks this library trains, the optimizer step is a third of a batch.
            kwargs["fused"] = True
        self.optimizer_ = self.optimizer(*args, **kwargs)
        return self

    def get_iterator(self, dataset, training=False):
        prefix = "iterator_train" if training else "iterator_valid"
        iterator = self.iterator_train if training else self.iterator_valid
        kwargs = self.get_params_for(prefix)
        fast = as_array_dataset(dataset)
        if fast is not None and iterator is DataLoader and set(kwargs) <= {"batch_size"}:
            # In-memory arrays: each batch is one index_select on the device.
            if fast.y is None and not kwargs:
                # Prediction (rows without targets) holds no gradients, so it runs in
                # large batches: per-batch overhead, not arithmetic, bounds small ones.
                rows = prediction_rows(fast, _INFERENCE_BATCH_SIZE)
                return TensorBatches(fast, max(self.batch_size, rows), shuffle=False)
            return TensorBatches(fast, kwargs.get("batch_size", self.batch_size),
                                 shuffle=training and self.shuffle,
                                 balanced=training and self.sampling == "balanced")
        # A configured iterator or a user's Dataset: skorch's path.
        kwargs.setdefault("batch_size", self.batch_size)
        if kwargs["batch_size"] == -1:
            kwargs["batch_size"] = len(dataset)
        if training and self.sampling == "balanced":
            kwargs["sampler"] = balanced_sampler(fast, iterator, kwargs)
        elif training and iterator is DataLoader:
            kwargs.setdefault("shuffle", self.shuffle)
        return iterator(dataset, **kwargs)

    def get_split_datasets(self, X, y=None, **fit_params):
        dataset = as_array_dataset(X) if self.train_split is None else None
        if not (self.early_stopping and dataset is not None):
            return super().get_split_datasets(X, y, **fit_params)
        idx_train, idx_valid = train_test_split(
            np.arange(len(dataset)),
            test_size=self.validation_fraction,
            stratify=dataset.y,
            random_state=self.split_seed_,
        )
        return dataset.subset(idx_train), dataset.subset(idx_valid)

    def infer(self, x, **fit_params):
        if isinstance(x, Mapping) and "sample_weight" in x:
            x = x["X"]  # the weights are for the loss, not the module
        if torch.is_tensor(x):  # our batches are already tensors on the device
            return self.module_(x, **fit_params)
        return super().infer(x, **fit_params)

    def get_loss(self, y_pred, y_true, X=None, training=False):
        weights = X.get("sample_weight") if isinstance(X, Mapping) else None
        if weights is not None and isinstance(self.criterion_, AdaptiveCrossEntropy):
            # The miss rates count a row as often as its weight, like the loss below.
            loss = self.criterion_(y_pred, to_tensor(y_true, device=self.device),
                                   sample_weight=weights)
        else:  # skorch's (with NLLLoss, the log of the module's probabilities)
            loss = super().get_loss(y_pred, y_true, X=X, training=training)
        if weights is not None:
            if loss.dim() == 0:
                raise ValueError(
                    "sample_weight needs a criterion that returns one loss per sample "
                    "(reduction='none'); this criterion returned a scalar."
                )
            loss = loss * weights
        return loss.mean() if loss.dim() else loss

    def _epochs(self, dataset, partial):
        """``max_epochs``, with ``'auto'`` resolved for the training ``dataset``."""
        if self.max_epochs != "auto":
            return self.max_epochs
        if partial or not hasattr(dataset, "__len__"):
            # A partial_fit chunk is not the training set: 'auto' is the plain epochs
            # there (and for a Dataset without a length).
            return auto_epochs(None, self.batch_size)
        n_rows = len(dataset)
        if self.early_stopping and self.train_split is None:
            n_rows -= math.ceil(n_rows * self.validation_fraction)
        return auto_epochs(n_rows, self._train_batch_size())

    def _train_batch_size(self):
        return self.get_params_for("iterator_train").get("batch_size", self.batch_size)

    def _fit(self, X, y, sample_weight, reset, classes, partial, fit_params):
        if is_dataset(X):
            check_dataset_fit(self, sample_weight)
            given = classes if reset or not self._has_classes() else self.classes_
            labels, targets = dataset_classes(X, y, given)
            self._set_class_stats(labels, targets, None, reset or not self.initialized_)
            dataset = X
        else:
            dataset, y = self._array_dataset(X, y, sample_weight,
                                             reset=reset or not self._has_classes(),
                                             classes=classes,
                                             require_two=not partial or classes is None)
        self.max_epochs_ = fit_params.pop("epochs", None) or self._epochs(dataset, partial)
        # skorch's partial_fit routes metadata for the public method that called it.
        fit_params["_routing_method"] = "partial_fit" if partial else "fit"
        # The seed of the early-stopping split, and of torch for this fit (restored
        # after); a warm start goes on with new shuffles and dropout masks.
        self.split_seed_ = (None if self.random_state is None else int(
            check_random_state(self.random_state).randint(np.iinfo(np.int32).max)))
        with seeded_torch(self.split_seed_, self.device, 0 if reset else len(self.history)):
            if reset:
                self.initialize()
            batch_size = self._train_batch_size()
            rows = len(dataset) if batch_size == -1 else batch_size
            try:
                # skorch's loop; like skorch, Ctrl-C stops training and keeps the model.
                with self._torch_settings(rows):
                    super().partial_fit(dataset, y, epochs=self.max_epochs_, **fit_params)
            except TrainingDivergedError:
                # No model to predict with: predict raises skorch's NotInitializedError.
                self.initialized_ = False
                self.__dict__.pop("module_", None)
                raise
        return self

    def fit(self, X, y, sample_weight=None, **fit_params):
        """Initialize the network and train it on ``X``, ``y``.

        Parameters
        ----------
        X : array-like, DataFrame or scipy.sparse matrix of shape (n_samples, \
n_features), or torch Dataset
            Numeric features of any float or int dtype; no NaN or infinity. A sparse
            matrix stays sparse, densified a batch at a time. A torch Dataset yields
            the targets as positions 0..C-1 in ``classes``.
        y : array-like of shape (n_samples,)
            Class labels of any type (ints, strings, bools).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight multiplied into each sample's loss.
        **fit_params
            Passed to the module's ``forward``, as in skorch.
        """
        self._check_params()
        reset = not (self.warm_start and self.initialized_)
        return self._fit(X, y, sample_weight, reset, self._known_classes(), False, fit_params)

    def partial_fit(self, X, y=None, classes=None, sample_weight=None, **fit_params):
        """Train for ``max_epochs`` more epochs without re-initializing the network.

        ``classes`` lists every label the model will ever see; give it on the first
        call when that batch does not contain them all.
        """
        self._check_params()
        reset = not self.initialized_
        check_partial_fit(self.class_weight, classes,
                          None if reset or not self._has_classes() else self.classes_)
        if classes is None:
            classes = self._known_classes()
        return self._fit(X, y, sample_weight, reset, classes, True, fit_params)

    def _logits(self, X):
        self.check_is_fitted()
        if not is_dataset(X):
            X, _ = validate_features(self, X, reset=False)
            X = ArrayDataset(X, device=check_device(self.device))
        # Through forward_iter, whose cached predictions skorch's scoring callbacks use.
        with self._torch_settings(min(len(X), _INFERENCE_BATCH_SIZE)):
            outputs = list(self.forward_iter(X, training=False))
        return torch.cat([out[0] if isinstance(out, tuple) else out for out in outputs])

    def _torch_settings(self, rows):
        """This call's intra-op threads (``num_threads``) and subnormal flushing."""
        threads = (auto_threads(self.module_, rows) if self.num_threads == "auto"
                   else self.num_threads)
        return torch_settings(threads, torch.device(self.device))

    def predict_proba(self, X, prior=None):
        """Class probabilities, columns in ``classes_`` order.

        Without ``prior``, the softmax of the network's logits, whose argmax is
        ``predict``: with the logit adjustment (the default) or ``'balanced'`` class
        weights, the balanced posterior (every class equally likely a priori), not the
        probability of the class among data like the training data; with ``prior``,
        the posterior under those class frequencies, from the same network (no refit).

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (n_samples, n_features), or \
torch Dataset
        prior : None, 'train', 'balanced', array-like of shape (n_classes,) or dict, \
default=None
            ``'train'``: the training data's class frequencies (``class_prior_``),
            the probabilities a risk score needs; ``'balanced'``: every class equally
            frequent; an array in ``classes_`` order or a dict by label: other
            frequencies (counts or shares), e.g. those where the model is deployed.
            Exact for what the loss fixed (the logit adjustment, fixed class weights,
            balanced sampling; not the adaptive weight, which moves in training):
            ``docs/guide.md``, "What the probabilities mean". A Pipeline passes it on
            (with metadata routing, after ``set_predict_proba_request(prior=True)``).

        ``predict_nonlinearity`` may replace the softmax (``None`` for none, or a
        callable), as in skorch; with ``'auto'`` and ``torch.nn.NLLLoss`` the module
        returns probabilities itself (skorch's convention) and they are kept. ``prior``
        needs the softmax of logits.
        """
        nonlin = self.predict_nonlinearity
        if not (nonlin is None or nonlin == "auto" or callable(nonlin)):
            raise TypeError("predict_nonlinearity has to be a callable, 'auto' or None")
        nll = isinstance(getattr(self, "criterion_", None), torch.nn.NLLLoss)
        if prior is not None and (nonlin != "auto" or nll):
            raise ValueError(
                "prior shifts the logits before the softmax: it needs "
                "predict_nonlinearity='auto' and a module that returns logits (not "
                "NLLLoss's probabilities)."
            )
        logits = self._logits(X)
        if not torch.isfinite(logits).all():
            bad = int((~torch.isfinite(logits)).any(dim=1).sum())
            raise ValueError(
                f"The network's outputs are NaN or infinite for {bad} of {len(logits)} "
                "rows: it diverged in training (lower lr, scale the features) or these "
                "rows lie far outside the range of the training data."
            )
        if prior is not None:
            shift = prior_shift(prior, self.classes_, getattr(self, "class_prior_", None),
                                getattr(self, "class_weight_", None), self._tau(),
                                balanced_sampling=self.sampling == "balanced")
            shift = torch.as_tensor(shift, device=logits.device)
            proba = torch.softmax(logits.float() + shift, dim=1)
        elif nonlin == "auto":
            proba = logits if nll else torch.softmax(logits.float(), dim=1)
        elif nonlin is None:
            proba = logits
        else:
            proba = nonlin(logits)
        return proba.detach().cpu().numpy()

    def predict(self, X):
        """The most probable class for each row, as one of ``classes_``."""
        indices = self.predict_proba(X).argmax(axis=1)  # checks fitted before classes_
        # Without known classes (a module initialized without data), the positions, as
        # skorch returns them.
        return self.classes_[indices] if self._has_classes() else indices

    @property
    def importance_(self):
        """The adaptive importance per class, in ``classes_`` order: each class's
        moving false-negative rate (it starts at 1), not a feature importance. The loss
        weighs class ``c`` by ``1 + importance_[c]`` with ``'adaptive'`` and by
        ``importance_[c]`` with ``'adaptive-seed'``."""
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
        tags.input_tags.sparse = True
        tags.classifier_tags.multi_class = self.criterion != "margin"
        return tags
