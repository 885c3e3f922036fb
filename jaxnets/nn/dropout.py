"""Inverted dropout whose rate may be a traced, per-member number.

flax's `nn.Dropout` branches on its rate in Python, so a sweep could only give each dropout rate its
own compiled program. Here the rate is data: `Dropout()(x, rate, train)` with `rate` a float or a
traced float32 scalar (a sweep member's `dropout_rate`), so every rate of a sweep trains in one
program. The maths and the random stream are flax's (mask ~ Bernoulli(1 − rate) from the "dropout"
rng, kept units scaled by 1 / (1 − rate)), so a static rate gives flax's numbers exactly.
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax


class Dropout(nn.Module):
    """y = mask · x / (1 − rate) while training, x otherwise. x: any shape; rate: float or traced
    scalar in [0, 1) (the callers validate static rates; a sweep validates its grid)."""

    @nn.compact
    def __call__(self, x: jax.Array, rate, train: bool) -> jax.Array:
        if not train or (isinstance(rate, (int, float)) and rate == 0):
            return x
        # float32 first, in both paths: 1 − rate must round the same whether the rate is a Python
        # float or a member's float32 value, for a sweep member to equal the model trained alone.
        keep = 1.0 - jnp.asarray(rate, jnp.float32)
        mask = jax.random.bernoulli(self.make_rng("dropout"), keep, x.shape)
        return lax.select(mask, x / keep.astype(x.dtype), jnp.zeros_like(x))


def check_rate(owner: str, rate) -> None:
    """A static dropout rate must lie in [0, 1)."""
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate < 1.0:
        raise ValueError(f"{owner}.dropout_rate must be a number in [0, 1), got {rate!r}")
