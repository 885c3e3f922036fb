"""scikit-learn estimators over the functional core: `MLPClassifier`, `MLPRegressor`.

Thin adapters: `fit` validates with scikit-learn's own helpers, standardises x (and y for
regression) with training statistics, holds out a validation split for early stopping, and trains
`n_seeds` members as one program with `jaxnets.train.fit` (sharded over the devices like any fit).
Predictions average the members (an ensemble); `member_predictions` gives each one.

    from jaxnets.estimators import MLPClassifier
    clf = MLPClassifier(hidden_layer_sizes=(32,), n_seeds=5).fit(X_train, y_train)
    clf.score(X_test, y_test)
"""
from __future__ import annotations

import math
import numbers

import jax
import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.model_selection import train_test_split
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from jaxnets.data.split import Standardizer
from jaxnets.models import MLP
from jaxnets.nn.activations import get_activation
from jaxnets.train import Classification, FitConfig, Regression, create_states, fit, make_optimizer, predict
from jaxnets.train.state import TrainState


class _MLPEstimator(BaseEstimator):
    """Shared parameters and training. hidden_layer_sizes: hidden widths (the output layer is added);
    alpha: L2 penalty as scikit-learn's MLPs weigh it (alpha / 2 · ‖W‖² / n_samples);
    batch_size: "auto" = min(32, n) (scikit-learn's 200 gave one step per epoch on small tabular data,
    and iris reached 0.900 where scikit-learn's MLPClassifier reaches 0.947); max_iter: epochs; early_stopping: hold out
    validation_fraction of the training data and stop after n_iter_no_change epochs without a lower
    validation loss (best epoch restored), else stop on the training loss; random_state: the first
    seed (None: 0 — runs are deterministic); n_seeds: members trained as one program."""

    def __init__(self, hidden_layer_sizes=(100,), activation: str = "relu", solver: str = "adam",
                 alpha: float = 1e-4, batch_size="auto", learning_rate_init: float = 1e-3, max_iter: int = 200,
                 early_stopping: bool = True, validation_fraction: float = 0.1, n_iter_no_change: int = 10,
                 n_seeds: int = 5, random_state=None, verbose: bool = False):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.n_seeds = n_seeds
        self.random_state = random_state
        self.verbose = verbose

    # --- checks of the hyper-parameters (at fit, as scikit-learn does) -------------------------------
    def _check_params(self) -> None:
        name = type(self).__name__
        hidden = self.hidden_layer_sizes
        hidden = (hidden,) if isinstance(hidden, numbers.Integral) else tuple(hidden)
        if any(isinstance(h, bool) or not isinstance(h, numbers.Integral) or h <= 0 for h in hidden):
            raise ValueError(f"{name}: hidden_layer_sizes must be positive ints, got {self.hidden_layer_sizes!r}")
        get_activation(self.activation)
        for key, low in (("max_iter", 1), ("n_seeds", 1), ("n_iter_no_change", 1)):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < low:
                raise ValueError(f"{name}: {key} must be an int >= {low}, got {v!r}")
        for key in ("alpha", "learning_rate_init"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                raise TypeError(f"{name}: {key} must be a number, got {type(v).__name__} {v!r}")
        if self.alpha < 0 or self.learning_rate_init <= 0:
            raise ValueError(f"{name}: alpha must be >= 0 and learning_rate_init > 0, got {self.alpha}, "
                             f"{self.learning_rate_init}")
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ValueError(f"{name}: validation_fraction must be in [0, 1), got {self.validation_fraction}")
        if self.batch_size != "auto" and (isinstance(self.batch_size, bool)
                                          or not isinstance(self.batch_size, numbers.Integral) or self.batch_size < 1):
            raise ValueError(f"{name}: batch_size must be 'auto' or an int >= 1, got {self.batch_size!r}")
        self.hidden_ = tuple(int(h) for h in hidden)

    def _seeds(self) -> list[int]:
        rs = self.random_state
        if isinstance(rs, np.random.RandomState):
            rs = int(rs.randint(0, 2**31 - self.n_seeds))
        first = 0 if rs is None else int(rs)
        return [first + i for i in range(self.n_seeds)]

    def _split(self, x: np.ndarray, y: np.ndarray, stratify: bool, seed: int):
        """(train, val or None): the held-out validation part when early stopping has enough data."""
        n_val = math.ceil(self.validation_fraction * len(x)) if self.early_stopping else 0
        if n_val < 2 or len(x) - n_val < 2:
            return (x, y), None
        strat = y if stratify and np.unique(y, return_counts=True)[1].min() >= 2 else None
        try:
            x_tr, x_va, y_tr, y_va = train_test_split(x, y, test_size=n_val, random_state=seed, stratify=strat)
        except ValueError:  # too few examples per class for a stratified split
            x_tr, x_va, y_tr, y_va = train_test_split(x, y, test_size=n_val, random_state=seed)
        return (x_tr, y_tr), (x_va, y_va)

    def _train(self, x: np.ndarray, y: np.ndarray, objective, outputs: int, stratify: bool) -> None:
        seeds = self._seeds()  # once: a RandomState random_state draws anew on every call
        (x_tr, y_tr), val = self._split(x, y, stratify, seeds[0])
        self.x_scaler_ = Standardizer.fit(x_tr)
        train = {"x": self.x_scaler_(x_tr), "y": y_tr}
        val = None if val is None else {"x": self.x_scaler_(val[0]), "y": val[1]}
        init = "he_normal" if self.activation in ("relu", "leaky_relu") else "xavier_uniform"
        self.model_ = MLP((*self.hidden_, outputs), activation=self.activation, kernel_init=init)
        tx = make_optimizer(self.solver, float(self.learning_rate_init))
        batch = min(32, len(x_tr)) if self.batch_size == "auto" else min(int(self.batch_size), len(x_tr))
        config = FitConfig(epochs=int(self.max_iter), batch_size=batch, patience=int(self.n_iter_no_change),
                           monitor="val_loss" if val is not None else "train_loss", progress=bool(self.verbose))
        state = create_states(self.model_, tx, seeds, train["x"])
        result = fit(state, objective, train, val, config)
        self.params_, self.variables_ = _to_numpy(result.state.params), _to_numpy(result.state.variables)
        self.n_iter_ = np.asarray(result.epochs_run)
        self.best_epoch_ = np.asarray(result.best_epoch)
        self.history_ = result.history

    def _state(self) -> TrainState:
        check_is_fitted(self, "params_")
        members = len(self.n_iter_)  # as fitted (n_seeds may have been set anew since)
        return TrainState(step=np.zeros(members, np.int32), params=self.params_, opt_state=None,
                          variables=self.variables_, rng=np.zeros((members, 2), np.uint32),
                          apply_fn=self.model_.apply, tx=None, input_shape=(self.n_features_in_,))

    def _outputs(self, X, output: str) -> np.ndarray:
        """[n_seeds, n, k]: every member's outputs for X."""
        check_is_fitted(self, "params_")
        x = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        return predict(self._state(), self.x_scaler_(x), output=output)


def _to_numpy(tree):
    return jax.tree_util.tree_map(np.asarray, jax.device_get(tree))


class MLPClassifier(ClassifierMixin, _MLPEstimator):
    """An ensemble of `n_seeds` MLPs trained as one program; labels of any type (strings too).
    predict_proba averages the members' probabilities; `member_predictions(X)` gives each one's
    [n_seeds, n, n_classes]."""

    def fit(self, X, y):
        self._check_params()
        x, y = validate_data(self, X, y, dtype=(np.float64, np.float32))
        check_classification_targets(y)
        y = column_or_1d(y, warn=True)
        self.classes_, y_ids = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(f"MLPClassifier needs at least 2 classes in y, got 1 class: {self.classes_[0]!r}")
        k = len(self.classes_)
        self._train(x, y_ids.astype(np.int32), Classification(k, l2=self.alpha / len(x)), 1 if k == 2 else k,
                    stratify=True)
        return self

    def member_predictions(self, X) -> np.ndarray:
        """Class probabilities of each member: [n_seeds, n, n_classes]."""
        return self._outputs(X, "probabilities")

    def predict_proba(self, X) -> np.ndarray:
        return self.member_predictions(X).mean(axis=0)

    def predict(self, X) -> np.ndarray:
        proba = self.predict_proba(X)  # checks fitted first
        return self.classes_[np.argmax(proba, axis=1)]


class MLPRegressor(RegressorMixin, _MLPEstimator):
    """An ensemble of `n_seeds` MLPs trained as one program on standardised targets (mapped back
    for predictions); y [n] or [n, k]. predict averages the members; `member_predictions(X)` gives
    each one's [n_seeds, n] (or [n_seeds, n, k])."""

    def fit(self, X, y):
        self._check_params()
        x, y = validate_data(self, X, y, dtype=(np.float64, np.float32), y_numeric=True, multi_output=True)
        self.y_ndim_ = y.ndim
        y2 = y.reshape(len(y), -1).astype(np.float64)
        self.y_scaler_ = Standardizer.fit(y2)
        self._train(x, self.y_scaler_(y2), Regression(l2=self.alpha / len(x)), y2.shape[1], stratify=False)
        return self

    def member_predictions(self, X) -> np.ndarray:
        z = self._outputs(X, "logits").astype(np.float64)
        out = z * self.y_scaler_.std + self.y_scaler_.mean
        return out[..., 0] if self.y_ndim_ == 1 else out

    def predict(self, X) -> np.ndarray:
        return self.member_predictions(X).mean(axis=0)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
