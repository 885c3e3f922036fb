"""Multilayer perceptron: h⁽ℓ⁾ = σ(W⁽ℓ⁾ h⁽ℓ⁻¹⁾ + b⁽ℓ⁾), ŷ = W⁽ᴸ⁾ h⁽ᴸ⁻¹⁾ + b⁽ᴸ⁾ (logits, no output activation).

The seed's layer list `[30, 16, 1]` maps to `MLP(features=(16, 1))`: the input width is inferred at init.
"""
from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxnets.nn.activations import get_activation
from jaxnets.nn.dropout import Dropout, check_rate

INITIALIZERS = {
    # The seed's choice: U(-l, l), l = sqrt(6 / (fan_in + fan_out)).
    "xavier_uniform": nn.initializers.xavier_uniform(),
    "xavier_normal": nn.initializers.xavier_normal(),
    # He et al.: the variance-preserving choice for (leaky) ReLU.
    "he_normal": nn.initializers.he_normal(),
    "he_uniform": nn.initializers.he_uniform(),
    "lecun_normal": nn.initializers.lecun_normal(),
    # The cautionary ones (experiments.initialisation): every unit alike, and signals that shrink.
    "zeros": nn.initializers.zeros_init(),
    "small_normal": nn.initializers.normal(stddev=0.01),
}


NORMS = (None, "batch", "layer")
# Mixed precision: name -> the dtype layers compute in. Parameters (and so the optimizer's state) stay
# float32 master copies; outputs are cast back to float32, so every loss is computed in float32.
PRECISIONS = {"float32": None, "bfloat16": jnp.bfloat16}


def compute_dtype(owner: str, precision: str):
    """The compute dtype of a precision policy name (None: float32 throughout)."""
    if precision not in PRECISIONS:
        raise ValueError(f"{owner}.precision must be one of {sorted(PRECISIONS)}, got {precision!r}")
    return PRECISIONS[precision]


def _initializer(name: str):
    try:
        return INITIALIZERS[name]
    except KeyError:
        raise ValueError(
            f"unknown kernel_init {name!r}; valid names: {', '.join(sorted(INITIALIZERS))}"
        ) from None


class MLP(nn.Module):
    """Feed-forward network. x: [batch, features] -> logits [batch, features[-1]].

    features: widths of the hidden layers followed by the output width, e.g. (128, 64, 10).
    activation: name from `jaxnets.nn.ACTIVATIONS` applied after every hidden layer.
    dropout_rate: dropout after each hidden activation when `train=True` (rng stream "dropout"); a
    call's `dropout_rate=` (a traced per-member value, from a sweep) overrides it.
    norm: None, "batch" (BatchNorm: batch statistics while training, running averages in the
    `batch_stats` collection for evaluation) or "layer" (LayerNorm), between each hidden Dense
    layer and its activation; that Dense then has no bias (the norm's offset replaces it).
    precision: "float32", or "bfloat16" (mixed precision: layers compute in bfloat16 from float32
    master parameters; the logits come back as float32).
    flatten_input: accept [batch, ...] (e.g. images [batch, H, W, C]) and flatten it first.
    """

    features: Sequence[int]
    activation: str = "relu"
    kernel_init: str = "xavier_uniform"
    dropout_rate: float = 0.0
    flatten_input: bool = False
    norm: str | None = None
    precision: str = "float32"

    def __post_init__(self):
        # Validate at construction so a bad config fails before any tracing, naming the field.
        if isinstance(self.features, (str, bytes)) or not isinstance(self.features, Sequence | np.ndarray):
            raise TypeError(f"MLP.features must be a sequence of ints (hidden widths, then the output width), "
                            f"got {self.features!r}")
        feats = tuple(self.features)
        if not feats:
            raise ValueError("MLP.features must list at least the output width, got ()")
        for i, f in enumerate(feats):
            if not isinstance(f, int | np.integer) or isinstance(f, bool) or f <= 0:
                raise ValueError(f"MLP.features[{i}] must be a positive int, got {f!r} in {feats}")
        # A tuple of Python ints: the module is hashed as a static argument of compiled programs
        # (a list, as the text writes layers, would not hash).
        object.__setattr__(self, "features", tuple(int(f) for f in feats))
        check_rate("MLP", self.dropout_rate)
        get_activation(self.activation)
        _initializer(self.kernel_init)
        if self.norm not in NORMS:
            raise ValueError(f"MLP.norm must be one of {NORMS}, got {self.norm!r}")
        compute_dtype("MLP", self.precision)
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False, *, dropout_rate=None) -> jax.Array:
        if self.flatten_input and x.ndim > 2:
            x = x.reshape(x.shape[0], -1)
        if x.ndim != 2:
            raise ValueError(f"MLP expects x: [batch, features], got shape {x.shape}"
                             + (" (images? use MLP(..., flatten_input=True))" if x.ndim > 2 else ""))
        act = get_activation(self.activation)
        init = _initializer(self.kernel_init)
        dtype = compute_dtype("MLP", self.precision)
        rate = self.dropout_rate if dropout_rate is None else dropout_rate
        for i, width in enumerate(self.features[:-1]):
            x = nn.Dense(width, kernel_init=init, use_bias=self.norm is None, dtype=dtype, name=f"hidden_{i}")(x)
            if self.norm == "batch":
                x = nn.BatchNorm(use_running_average=not train, momentum=0.9, dtype=dtype, name=f"norm_{i}")(x)
            elif self.norm == "layer":
                x = nn.LayerNorm(dtype=dtype, name=f"norm_{i}")(x)
            x = act(x)
            self.sow("intermediates", f"activation_{i}", x)  # recorded only under FitConfig(diagnostics=True)
            x = Dropout()(x, rate, train)
        return float32(nn.Dense(self.features[-1], kernel_init=init, dtype=dtype, name="output")(x))


def float32(y: jax.Array) -> jax.Array:
    """Model outputs in float32 whatever the compute dtype (a no-op for float32)."""
    return y.astype(jnp.float32) if y.dtype == jnp.bfloat16 else y


def count_params(params) -> int:
    """Number of scalars in a parameter tree (per model: pass one member of a vmapped stack)."""
    return int(sum(jnp.size(p) for p in jax.tree_util.tree_leaves(params)))
