"""Losses computed from logits (never from probabilities), so they stay finite at |z| = 1e4.

Each returns the per-example loss `[batch]`; reductions (mean, masked mean) belong to objectives,
which must weight a padded last batch correctly.
"""
from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

Array = jax.Array


def mse(pred: Array, target: Array) -> Array:
    """Squared error per example: pred, target [batch, ...] -> [batch] (mean over trailing axes)."""
    err = jnp.square(pred - target)
    return err.reshape(err.shape[0], -1).mean(axis=-1)


def binary_cross_entropy(logits: Array, labels: Array) -> Array:
    """BCE from logits: logits [batch] or [batch, 1], labels in {0, 1} of the same size -> [batch].

    -[y log σ(z) + (1-y) log(1-σ(z))] = softplus(z) - z y. `softplus` (a stable logaddexp) never
    overflows and, unlike the max(z,0) + log1p(e^-|z|) form, has the exact gradient σ(z) - y at z = 0.
    """
    z = logits.reshape(logits.shape[0])
    y = labels.reshape(labels.shape[0]).astype(z.dtype)
    return jax.nn.softplus(z) - z * y


def categorical_cross_entropy(logits: Array, labels: Array) -> Array:
    """CCE from logits: logits [batch, classes]; labels integer [batch] or one-hot [batch, classes]."""
    log_p = jax.nn.log_softmax(logits, axis=-1)
    if labels.ndim == logits.ndim:  # one-hot (or soft) targets
        return -jnp.sum(labels * log_p, axis=-1)
    return -jnp.take_along_axis(log_p, labels[:, None].astype(jnp.int32), axis=-1)[:, 0]


def kl_normal(mean: Array, log_var: Array) -> Array:
    """KL(N(mean, exp(log_var)) || N(0, I)) per example, in closed form: mean, log_var [batch, latent] ->
    [batch]. = ½ Σ_j (μ_j² + σ_j² − log σ_j² − 1) — the VAE's regulariser."""
    return 0.5 * jnp.sum(jnp.square(mean) + jnp.exp(log_var) - log_var - 1.0, axis=-1)


def kl_bernoulli(target: float | Array, rate: Array, eps: float = 1e-6) -> Array:
    """KL(Bernoulli(target) || Bernoulli(rate)) elementwise — the sparse autoencoder's penalty on each
    code unit's mean activation `rate` in (0, 1) (clipped to [eps, 1 − eps] so it stays finite)."""
    rate = jnp.clip(rate, eps, 1.0 - eps)
    return target * jnp.log(target / rate) + (1.0 - target) * jnp.log((1.0 - target) / (1.0 - rate))


LOSSES: dict[str, Callable[[Array, Array], Array]] = {
    "mse": mse,
    "binary_cross_entropy": binary_cross_entropy,
    "categorical_cross_entropy": categorical_cross_entropy,
}


def get_loss(name: str) -> Callable[[Array, Array], Array]:
    try:
        return LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; valid names: {', '.join(sorted(LOSSES))}") from None
