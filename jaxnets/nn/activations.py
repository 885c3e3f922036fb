"""The seed's activation functions as pure `jnp` functions, plus a registry by name.

Derivatives are not written by hand: `jax.grad` gives them, and the tests check them against the
seed's hand-written formulas.
"""
from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

Array = jax.Array


def sigmoid(z: Array) -> Array:
    """1 / (1 + e^-z); `jax.nn.sigmoid` is stable for any |z| (no clipping needed)."""
    return jax.nn.sigmoid(z)


def tanh(z: Array) -> Array:
    return jnp.tanh(z)


@jax.custom_jvp
def relu(z: Array) -> Array:
    """max(0, z). Its derivative is 1 for z > 0, 0 for z < 0 and 1/2 at z = 0 — exactly what
    `jax.grad` of `jnp.maximum(z, 0)` gives (ties split the gradient), written as a select: the
    derived rule divides two selects per element, which made the backward pass of 8 vmapped
    members 5x slower per element on XLA:CPU (39 µs vs 8 × 1 µs for [8, 32, 128])."""
    return jnp.maximum(z, 0)


@relu.defjvp
def _relu_jvp(primals, tangents):
    (z,), (dz,) = primals, tangents
    slope = jnp.where(z > 0, 1.0, jnp.where(z == 0, 0.5, 0.0)).astype(dz.dtype)
    return relu(z), dz * slope


def leaky_relu(z: Array, alpha: float = 0.01) -> Array:
    """max(alpha*z, z) for 0 < alpha < 1; the seed's default alpha is 0.01."""
    return jnp.where(z > 0, z, alpha * z)


def softmax(z: Array, axis: int = -1) -> Array:
    """e^z_i / sum_j e^z_j along `axis`, shifted by the max for stability."""
    return jax.nn.softmax(z, axis=axis)


ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "sigmoid": sigmoid,
    "tanh": tanh,
    "relu": relu,
    "leaky_relu": leaky_relu,
    "softmax": softmax,
    "linear": lambda z: z,
}


def get_activation(name: str | Callable[[Array], Array]) -> Callable[[Array], Array]:
    """Activation by name (or pass a callable through). Unknown names raise a ValueError."""
    if callable(name):
        return name
    if not isinstance(name, str):
        raise TypeError(f"activation must be a name or a callable, got {type(name).__name__}")
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; valid names: {', '.join(sorted(ACTIVATIONS))}"
        ) from None
