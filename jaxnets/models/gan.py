"""Generative adversarial network (pure Flax linen): generator G(z) and discriminator D(x) in one module.

Parameters: {"generator": ..., "discriminator": ...} — one top-level entry per player, which is what
`GANObjective` and `optim.player_optimizers` update in turn inside the one train step.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxnets.models.mlp import MLP
from jaxnets.nn.activations import get_activation


class GAN(nn.Module):
    """data_shape: one example's shape, e.g. (2,) or (8, 8, 1); latent_dim: size of the noise z.

    generate: z [batch, latent_dim] -> samples [batch, *data_shape] (output_activation: "linear" for
    points in the plane, "sigmoid" for pixels in [0, 1]); discriminate: x [batch, *data_shape] ->
    logits [batch] (D(x) = σ(logit), the probability that x is real). __call__(x) returns D's logits
    and builds both players (so `init` creates every parameter).
    """

    data_shape: Sequence[int]
    latent_dim: int = 8
    generator_features: Sequence[int] = (128, 128)
    discriminator_features: Sequence[int] = (128, 128)
    activation: str = "leaky_relu"
    output_activation: str = "linear"

    def __post_init__(self):
        shape = tuple(self.data_shape)
        if not shape or any(not isinstance(d, int) or d <= 0 for d in shape):
            raise ValueError(f"GAN.data_shape must be positive ints, got {self.data_shape!r}")
        if not isinstance(self.latent_dim, int) or self.latent_dim <= 0:
            raise ValueError(f"GAN.latent_dim must be a positive int, got {self.latent_dim!r}")
        get_activation(self.output_activation)
        super().__post_init__()

    def setup(self):
        self.generator = MLP(features=(*self.generator_features, math.prod(self.data_shape)),
                             activation=self.activation)
        self.discriminator = MLP(features=(*self.discriminator_features, 1), activation=self.activation,
                                 flatten_input=True)

    def generate(self, z: jax.Array) -> jax.Array:
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"GAN.generate expects z: [batch, {self.latent_dim}], got shape {tuple(z.shape)}")
        out = self.generator(z).reshape(z.shape[0], *self.data_shape)
        return get_activation(self.output_activation)(out)

    def discriminate(self, x: jax.Array) -> jax.Array:
        if tuple(x.shape[1:]) != tuple(self.data_shape):
            raise ValueError(f"GAN.discriminate expects x: [batch, *{tuple(self.data_shape)}], got {tuple(x.shape)}")
        return self.discriminator(x)[:, 0]

    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        fake = self.generate(jnp.zeros((x.shape[0], self.latent_dim), x.dtype))
        return self.discriminate(x) + 0.0 * self.discriminate(fake)


def generate(model: GAN, params, key: jax.Array, n: int) -> jax.Array:
    """n samples from the generator: [n, *data_shape]."""
    return model.apply({"params": params}, jax.random.normal(key, (n, model.latent_dim)), method="generate")
