"""Objectives: loss + metrics as pure functions of (apply_fn, params, variables, batch, rng, train).

`apply_fn` is the state's model (`TrainState.apply_fn`): an objective holds no model of its own, so
the network trained, evaluated and used for prediction is always the same one.
Every objective returns `(loss, (metric_sums, new_variables))`. Metrics are *sums* over the valid
(mask = 1) examples plus a "count", so that epochs and padded last batches aggregate exactly;
`loss` is the masked mean that gradients flow through. This is the only place a model family
differs: the step, loop, sweeps and checkpoints are shared.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxnets.nn.losses import binary_cross_entropy, categorical_cross_entropy, mse

Array = jax.Array


# Optional per-example batch entries passed on to the model as keyword arguments (e.g. the valid
# lengths of padded sequences for recurrent models).
MODEL_KWARGS = ("lengths",)
# Settings of the model a sweep may give each member (`TrainState.hyper`), passed to the model as
# call keyword arguments (models that take them: MLP, VGG).
MODEL_SETTINGS = ("dropout_rate",)


def model_kwargs(batch: dict) -> dict:
    hyper = batch.get("hyper", {})
    return {**{k: batch[k] for k in MODEL_KWARGS if k in batch}, **{k: hyper[k] for k in MODEL_SETTINGS if k in hyper}}


def apply_model(apply_fn, params, variables, x: Array, rng: Array, train: bool, **kwargs):
    """apply_fn with mutable collections (e.g. batch_stats) updated only when training."""
    mutable = list(variables) if (train and variables) else False
    out = apply_fn({"params": params, **variables}, x, train=train, rngs={"dropout": rng}, mutable=mutable, **kwargs)
    if mutable:
        y, new_vars = out
        return y, {**variables, **new_vars}
    return out, variables


def module_of(apply_fn, owner: str) -> nn.Module:
    """The linen module behind a state's apply_fn (`model.apply`), for objectives that read its fields."""
    module = getattr(apply_fn, "__self__", None)
    if not isinstance(module, nn.Module):
        raise TypeError(f"{owner} needs a state built from a linen module (apply_fn = model.apply), "
                        f"got apply_fn {apply_fn!r}")
    return module


def check_output_width(logits: Array, num_classes: int, owner: str) -> None:
    """At trace time: binary needs 1 (or 2) outputs, k classes need k."""
    width = logits.shape[-1]
    ok = width == num_classes or (num_classes == 2 and width == 1)
    if not ok:
        want = "1 or 2 outputs" if num_classes == 2 else f"{num_classes} outputs"
        raise ValueError(f"{owner}(num_classes={num_classes}) needs a model with {want}, but the model's last "
                         f"layer has {width} (e.g. MLP features ending in {num_classes if num_classes > 2 else 1})")


def _masked_mean(per_example: Array, mask: Array) -> tuple[Array, Array]:
    total = jnp.sum(per_example * mask)
    return total / jnp.maximum(jnp.sum(mask), 1.0), total


def setting(batch: dict, name: str, default):
    """A scalar setting of the objective: the member's own value when a sweep set one
    (`TrainState.hyper`, passed by the step as batch["hyper"]), else the objective's field."""
    return batch.get("hyper", {}).get(name, default)


def _active(value) -> bool:
    """False only for a setting that is statically zero (a traced per-member value may be anything)."""
    return not (isinstance(value, (int, float)) and value == 0)


def _l2(params) -> Array:
    """0.5 * sum of squared kernels (biases are not decayed)."""
    leaves = jax.tree_util.tree_leaves_with_path(params)
    return 0.5 * sum(jnp.sum(jnp.square(v)) for p, v in leaves if "kernel" in jax.tree_util.keystr(p))


@dataclasses.dataclass(frozen=True)
class Classification:
    """Cross-entropy from logits. One output unit -> binary (BCE, p = σ(z)); k units -> softmax CCE.

    batch: {"x": [b, ...], "y": [b] int labels, "mask": [b] float}; l2: weight on 0.5‖W‖² (kernels);
    label_smoothing ε: train against (1 − ε)·one-hot + ε/k (binary: y(1 − ε) + ε/2). The reported
    loss is always the plain cross-entropy, so settings compare on the same scale.
    """

    num_classes: int
    l2: float = 0.0
    label_smoothing: float = 0.0

    def __post_init__(self):
        if isinstance(self.num_classes, bool) or not isinstance(self.num_classes, (int, np.integer)):
            raise TypeError(f"Classification.num_classes must be an int, got {self.num_classes!r}")
        if self.num_classes < 2:
            raise ValueError(f"Classification needs num_classes >= 2, got {self.num_classes}")
        if self.l2 < 0:
            raise ValueError(f"Classification.l2 must be >= 0, got {self.l2}")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"Classification.label_smoothing must be in [0, 1), got {self.label_smoothing}")

    def __call__(self, apply_fn, params, variables, batch: dict, rng: Array, train: bool):
        logits, new_vars = apply_model(apply_fn, params, variables, batch["x"], rng, train, **model_kwargs(batch))
        check_output_width(logits, self.num_classes, "Classification")
        y, mask = batch["y"], batch["mask"]
        eps, l2 = setting(batch, "label_smoothing", self.label_smoothing), setting(batch, "l2", self.l2)
        smooth = train and _active(eps)
        if logits.shape[-1] == 1:
            per_ex = binary_cross_entropy(logits, y)
            if smooth:
                target = y.astype(logits.dtype) * (1.0 - eps) + 0.5 * eps
                train_ex = binary_cross_entropy(logits, target)
            pred = (logits[:, 0] > 0).astype(jnp.int32)
        else:
            per_ex = categorical_cross_entropy(logits, y)
            if smooth:
                k = logits.shape[-1]
                target = jax.nn.one_hot(y, k, dtype=logits.dtype) * (1.0 - eps) + eps / k
                train_ex = categorical_cross_entropy(logits, target)
            pred = jnp.argmax(logits, axis=-1)
        loss, loss_sum = _masked_mean(per_ex, mask)
        if smooth:
            loss = _masked_mean(train_ex, mask)[0]
        if train and _active(l2):
            loss = loss + l2 * _l2(params)
        metrics = {
            "loss_sum": loss_sum,
            "correct": jnp.sum((pred == y) * mask),
            "count": jnp.sum(mask),
        }
        return loss, (metrics, new_vars)

    def check_data(self, data: dict, where: str) -> None:
        """Host-side validation of labels: integer ids in [0, num_classes)."""
        y = np.asarray(data["y"])
        if y.ndim != 1:
            raise ValueError(f"{where}['y'] must be integer class ids of shape [n], got shape {y.shape}")
        if not np.issubdtype(y.dtype, np.integer):
            raise TypeError(f"{where}['y'] must hold integer class ids, got dtype {y.dtype}")
        if y.size and (y.min() < 0 or y.max() >= self.num_classes):
            raise ValueError(
                f"{where}['y'] has labels outside [0, {self.num_classes}): min {y.min()}, max {y.max()}"
            )


@dataclasses.dataclass(frozen=True)
class Regression:
    """Mean squared error. batch: {"x": [b, ...], "y": [b] or [b, k] float targets, "mask": [b]}."""

    l2: float = 0.0

    def __call__(self, apply_fn, params, variables, batch: dict, rng: Array, train: bool):
        pred, new_vars = apply_model(apply_fn, params, variables, batch["x"], rng, train, **model_kwargs(batch))
        y = batch["y"]
        if y.size != pred.size:
            raise ValueError(f"Regression: targets y of shape {y.shape[1:]} per example do not match the model's "
                             f"output of shape {pred.shape[1:]}")
        y = y.reshape(pred.shape)
        per_ex = mse(pred, y)
        loss, loss_sum = _masked_mean(per_ex, batch["mask"])
        l2 = setting(batch, "l2", self.l2)
        if train and _active(l2):
            loss = loss + l2 * _l2(params)
        abs_err = jnp.abs(pred - y).reshape(pred.shape[0], -1).mean(-1)
        metrics = {"loss_sum": loss_sum, "abs_err": jnp.sum(abs_err * batch["mask"]), "count": jnp.sum(batch["mask"])}
        return loss, (metrics, new_vars)

    def check_data(self, data: dict, where: str) -> None:
        y = np.asarray(data["y"])
        if not np.all(np.isfinite(y)):
            raise ValueError(f"{where}['y'] contains NaN or inf")


@dataclasses.dataclass(frozen=True)
class TokenClassification:
    """Per-step cross-entropy for many-to-many models (e.g. a character language model).

    batch: {"x": [b, T, ...], "y": [b, T] int targets, "mask": [b]}; logits [b, T, k]. Metric sums
    count tokens, so finalize_metrics gives the mean loss per token (nats; / ln 2 = bits per token).
    """

    num_classes: int

    def __post_init__(self):
        if self.num_classes < 2:
            raise ValueError(f"TokenClassification needs num_classes >= 2, got {self.num_classes}")

    def __call__(self, apply_fn, params, variables, batch: dict, rng: Array, train: bool):
        logits, new_vars = apply_model(apply_fn, params, variables, batch["x"], rng, train, **model_kwargs(batch))
        if logits.shape[-1] != self.num_classes:
            raise ValueError(f"TokenClassification(num_classes={self.num_classes}) needs {self.num_classes} outputs "
                             f"per token, but the model has {logits.shape[-1]}")
        y = batch["y"]
        token_mask = jnp.broadcast_to(batch["mask"][:, None], y.shape)
        per_token = categorical_cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1)).reshape(y.shape)
        loss, loss_sum = _masked_mean(per_token, token_mask)
        metrics = {"loss_sum": loss_sum, "correct": jnp.sum((jnp.argmax(logits, -1) == y) * token_mask),
                   "count": jnp.sum(token_mask)}
        return loss, (metrics, new_vars)

    def check_data(self, data: dict, where: str) -> None:
        y = np.asarray(data["y"])
        if y.ndim != 2 or not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"{where}['y'] must be integer targets [n, time], got {y.dtype} {y.shape}")
        if y.size and (y.min() < 0 or y.max() >= self.num_classes):
            raise ValueError(f"{where}['y'] has targets outside [0, {self.num_classes})")


@dataclasses.dataclass(frozen=True)
class Augmented:
    """Any objective with training-time data augmentation: batch["x"] -> augment(key, x) when
    train=True (the key is split off the step's rng, so resumed runs draw the same shifts).
    Evaluation sees the data unchanged. E.g. Augmented(obj, partial(random_shift, max_shift=1))."""

    objective: Any
    augment: Any  # (key, x [b, ...]) -> x' [b, ...]

    def __call__(self, apply_fn, params, variables, batch: dict, rng: Array, train: bool):
        if train:
            aug_key, rng = jax.random.split(rng)
            batch = {**batch, "x": self.augment(aug_key, batch["x"])}
        return self.objective(apply_fn, params, variables, batch, rng, train)

    def check_data(self, data: dict, where: str) -> None:
        if hasattr(self.objective, "check_data"):
            self.objective.check_data(data, where)


Objective = Any  # callable(apply_fn, params, variables, batch, rng, train) -> (loss, (metrics, new_variables))


_RENAMED = {"loss_sum": "loss", "correct": "accuracy", "abs_err": "mae"}


def finalize_metrics(sums: dict) -> dict:
    """Metric sums -> per-example means: loss, accuracy (if "correct"), mae (if "abs_err"); any other
    sum "name" (or "name_sum") becomes "name". Works on arrays; a metric may carry trailing axes
    (e.g. a GAN's per-mode counts [..., modes])."""
    count = np.maximum(np.asarray(sums["count"]), 1.0)
    out = {}
    for k, v in sums.items():
        if k == "count":
            continue
        name = _RENAMED.get(k, k.removesuffix("_sum"))
        v = np.asarray(v)
        out[name] = v / count.reshape(count.shape + (1,) * (v.ndim - count.ndim))
    return out
