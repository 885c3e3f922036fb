"""Autoencoders (pure Flax linen): encoder h = f(x), decoder x̂ = g(h); and the VAE.

`Autoencoder` serves the vanilla, denoising, sparse and contractive variants alike — they differ only
in the objective (`jaxnets.train.generative.Reconstruction`). `VAE` encodes to a Gaussian posterior
(mean, log-variance) and decodes a latent sample; its sampling happens in the objective with an
explicit key, so the module stays deterministic. Both run on flat vectors (`kind="mlp"`, any input
shape is flattened) or on small images (`kind="conv"`, [batch, H, W, C] with H, W divisible by 4).

Parameters: {"encoder": ..., "decoder": ...}. Methods: `encode`, `decode`, `__call__` (= reconstruct).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxnets.models.cnn import Conv2D
from jaxnets.models.mlp import MLP, _initializer
from jaxnets.nn.activations import get_activation
from jaxnets.nn.conv import max_pool

KINDS = ("mlp", "conv")
LIKELIHOODS = ("gaussian", "bernoulli")


class ConvEncoder(nn.Module):
    """[b, H, W, C] -> [b, out_features]: per stage conv 3×3 (same) -> activation -> 2×2 max-pool; Dense."""

    channels: Sequence[int]
    out_features: int
    activation: str = "relu"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        act = get_activation(self.activation)
        for i, c in enumerate(self.channels):
            x = max_pool(act(Conv2D(c, name=f"conv_{i}")(x)), 2, stride=2)
        return nn.Dense(self.out_features, kernel_init=_initializer("xavier_uniform"), name="output")(
            x.reshape(x.shape[0], -1))


class ConvDecoder(nn.Module):
    """[b, latent] -> [b, H, W, C]: Dense to the smallest feature map, then per stage 2× nearest
    upsampling -> conv 3×3 -> activation, and a final linear conv 3×3 to C channels (mirror of ConvEncoder)."""

    channels: Sequence[int]
    out_shape: Sequence[int]
    activation: str = "relu"

    @nn.compact
    def __call__(self, h: jax.Array) -> jax.Array:
        act = get_activation(self.activation)
        height, width, out_c = self.out_shape
        scale = 2 ** len(self.channels)
        hh, ww, c0 = height // scale, width // scale, self.channels[-1]
        x = act(nn.Dense(hh * ww * c0, kernel_init=_initializer("xavier_uniform"), name="input")(h))
        x = x.reshape(h.shape[0], hh, ww, c0)
        for i, c in enumerate(reversed(self.channels)):
            x = jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)  # nearest-neighbour upsampling
            x = act(Conv2D(c, name=f"conv_{i}")(x))
        return Conv2D(out_c, kernel_init="xavier_uniform", name="output")(x)


def _check_config(owner: str, input_shape, latent_dim, hidden, kind, activation, code_width_ok=True):
    shape = tuple(input_shape)
    if not shape or any(not isinstance(d, int) or d <= 0 for d in shape):
        raise ValueError(f"{owner}.input_shape must be positive ints (one example's shape), got {input_shape!r}")
    if not isinstance(latent_dim, int) or isinstance(latent_dim, bool) or latent_dim <= 0:
        raise ValueError(f"{owner}.latent_dim must be a positive int, got {latent_dim!r}")
    for i, w in enumerate(tuple(hidden)):
        if not isinstance(w, int) or isinstance(w, bool) or w <= 0:
            raise ValueError(f"{owner}.hidden[{i}] must be a positive int, got {w!r} in {tuple(hidden)}")
    if kind not in KINDS:
        raise ValueError(f"{owner}.kind must be one of {KINDS}, got {kind!r}")
    if kind == "conv":
        if len(shape) != 3:
            raise ValueError(f"{owner}(kind='conv') needs input_shape (H, W, C), got {shape}")
        scale = 2 ** len(tuple(hidden))
        if not hidden or shape[0] % scale or shape[1] % scale:
            raise ValueError(f"{owner}(kind='conv'): H and W ({shape[0]}, {shape[1]}) must be divisible by "
                             f"2**len(hidden) = {scale} (one 2x2 pooling per stage; hidden = channels {tuple(hidden)})")
    get_activation(activation)


class Autoencoder(nn.Module):
    """x: [batch, *input_shape] -> reconstruction [batch, *input_shape]; code h: [batch, latent_dim].

    hidden: encoder widths (kind="mlp") or conv channels per stage (kind="conv"); the decoder mirrors them.
    code_activation: applied to the code ("linear"; "sigmoid" for the KL-sparsity penalty, which needs
    codes in (0, 1)). output_activation: "linear" or "sigmoid" (pixels in [0, 1]).
    An undercomplete autoencoder (latent_dim < input size) is the default contract: a larger code can
    learn the identity, so it raises a ValueError unless `overcomplete=True` (sparse or denoising
    autoencoders, whose penalty or noise prevents the trivial solution).
    """

    input_shape: Sequence[int]
    latent_dim: int
    hidden: Sequence[int] = (128,)
    kind: str = "mlp"
    activation: str = "relu"
    code_activation: str = "linear"
    output_activation: str = "linear"
    overcomplete: bool = False

    def __post_init__(self):
        _check_config(type(self).__name__, self.input_shape, self.latent_dim, self.hidden, self.kind, self.activation)
        get_activation(self.code_activation)
        get_activation(self.output_activation)
        size = math.prod(self.input_shape)
        if self.latent_dim >= size and not self.overcomplete:
            raise ValueError(
                f"Autoencoder.latent_dim={self.latent_dim} >= input size {size}: an undercomplete autoencoder "
                "needs a smaller code (it could learn the identity); pass overcomplete=True for a sparse or "
                "denoising autoencoder")
        super().__post_init__()

    def setup(self):
        self.encoder = _encoder(self, self.latent_dim)
        self.decoder = _decoder(self)

    def encode(self, x: jax.Array) -> jax.Array:
        """x: [batch, *input_shape] -> h: [batch, latent_dim]."""
        _check_input(self, x)
        return get_activation(self.code_activation)(self.encoder(x))

    def decode(self, h: jax.Array) -> jax.Array:
        """h: [batch, latent_dim] -> x̂: [batch, *input_shape]."""
        out = self.decoder(h).reshape(h.shape[0], *self.input_shape)
        return get_activation(self.output_activation)(out)

    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        return self.decode(self.encode(x))


class VAE(nn.Module):
    """Variational autoencoder. encode: x [batch, *input_shape] -> (mean, log_var) [batch, latent_dim];
    decode: z [batch, latent_dim] -> the likelihood's mean [batch, *input_shape] (σ(logits) for
    "bernoulli", pixels in [0, 1]; the raw output for "gaussian"), or its logits with `logits=True`.
    __call__ reconstructs from the posterior mean (deterministic)."""

    input_shape: Sequence[int]
    latent_dim: int = 2
    hidden: Sequence[int] = (256, 128)
    kind: str = "mlp"
    activation: str = "relu"
    likelihood: str = "bernoulli"

    def __post_init__(self):
        _check_config(type(self).__name__, self.input_shape, self.latent_dim, self.hidden, self.kind, self.activation)
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(f"VAE.likelihood must be one of {LIKELIHOODS}, got {self.likelihood!r}")
        super().__post_init__()

    def setup(self):
        self.encoder = _encoder(self, 2 * self.latent_dim)
        self.decoder = _decoder(self)

    def encode(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        _check_input(self, x)
        mean, log_var = jnp.split(self.encoder(x), 2, axis=-1)
        return mean, log_var

    def decode(self, z: jax.Array, logits: bool = False) -> jax.Array:
        out = self.decoder(z).reshape(z.shape[0], *self.input_shape)
        return out if (logits or self.likelihood == "gaussian") else jax.nn.sigmoid(out)

    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        return self.decode(self.encode(x)[0])


def _encoder(m, width: int) -> nn.Module:
    if m.kind == "conv":
        return ConvEncoder(tuple(m.hidden), width, m.activation)
    return MLP(features=(*m.hidden, width), activation=m.activation, flatten_input=True)


def _decoder(m) -> nn.Module:
    if m.kind == "conv":
        return ConvDecoder(tuple(m.hidden), tuple(m.input_shape), m.activation)
    return MLP(features=(*reversed(tuple(m.hidden)), math.prod(m.input_shape)), activation=m.activation)


def _check_input(model: nn.Module, x: jax.Array) -> None:
    if tuple(x.shape[1:]) != tuple(model.input_shape):
        raise ValueError(f"{type(model).__name__} expects x: [batch, *{tuple(model.input_shape)}], got shape "
                         f"{tuple(x.shape)}")


def reparameterize(key: jax.Array, mean: jax.Array, log_var: jax.Array) -> jax.Array:
    """z = μ + σ ⊙ ε, ε ~ N(0, I): a sample whose gradient flows to μ and log σ² (the reparameterisation trick)."""
    return mean + jnp.exp(0.5 * log_var) * jax.random.normal(key, mean.shape, mean.dtype)


def encode(model: nn.Module, params, x: jax.Array) -> jax.Array:
    """Codes of x: [n, *input_shape] -> [n, latent_dim] (a VAE's posterior mean)."""
    out = model.apply({"params": params}, x, method="encode")
    return out[0] if isinstance(out, tuple) else out


def decode(model: nn.Module, params, z: jax.Array) -> jax.Array:
    """z: [n, latent_dim] -> [n, *input_shape] (a VAE's likelihood mean)."""
    return model.apply({"params": params}, z, method="decode")


def reconstruct(model: nn.Module, params, x: jax.Array) -> jax.Array:
    return model.apply({"params": params}, x)


def sample(model: VAE, params, key: jax.Array, n: int) -> jax.Array:
    """n draws from the VAE's prior pushed through the decoder (means): [n, *input_shape]."""
    return decode(model, params, jax.random.normal(key, (n, model.latent_dim)))


def interpolate(model: nn.Module, params, x_a: jax.Array, x_b: jax.Array, steps: int = 8) -> jax.Array:
    """Decode `steps` evenly spaced points on the line between the codes of x_a and x_b (two single
    examples [*input_shape]): [steps, *input_shape]; the ends reconstruct x_a and x_b."""
    if steps < 2:
        raise ValueError(f"interpolate needs steps >= 2, got {steps}")
    codes = encode(model, params, jnp.stack([x_a, x_b]))
    t = jnp.linspace(0.0, 1.0, steps)[:, None]
    return decode(model, params, (1 - t) * codes[:1] + t * codes[1:])


def active_units(means: jax.Array, threshold: float = 0.01) -> int:
    """Latent dimensions the VAE uses (Burda et al. 2016): Cov_x(E[z_j | x]) > threshold.
    means: posterior means [n, latent_dim]. A collapsed posterior (z ignores x) leaves 0 active."""
    return int(jnp.sum(jnp.var(means, axis=0) > threshold))
