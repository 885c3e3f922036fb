"""Convolutional networks (pure Flax linen): conv blocks, LeNet-5, a VGG-style stack, a ResNet.

Every model maps x: [batch, height, width, channels] -> logits [batch, num_classes]; with
`features_only=True` it returns the last feature maps instead (receptive fields, feature-map plots
— see `feature_maps`), and `layers()` gives (the spatial geometry of its main path, for `receptive_field`).
BatchNorm statistics live in the `batch_stats` collection, which the generic train step updates.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxnets.models.mlp import _initializer, compute_dtype, float32
from jaxnets.nn.activations import get_activation
from jaxnets.nn.conv import _padding, avg_pool, check_images, conv2d, global_avg_pool, max_pool
from jaxnets.nn.dropout import Dropout, check_rate
from jaxnets.nn.receptive_field import Layer

POOLS = {"max": max_pool, "avg": avg_pool}


def _positive(owner: str, field: str, values) -> tuple[int, ...]:
    vals = tuple(values)
    for i, v in enumerate(vals):
        if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
            raise ValueError(f"{owner}.{field}[{i}] must be a positive int, got {v!r} in {vals}")
    return vals


def _check_common(owner: str, num_classes: int, activation: str, kernel_init: str) -> None:
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"{owner}.num_classes must be a positive int, got {num_classes!r}")
    get_activation(activation)
    _initializer(kernel_init)


def _check_input(model: nn.Module, x: jax.Array) -> None:
    check_images(x, f"{type(model).__name__} input")


class Conv2D(nn.Module):
    """A learned convolution layer: x [b, H, W, C_in] -> [b, H', W', features], kernel [k, k, C_in, features].

    Same parameters and initialisation as `flax.linen.Conv`; computed by `jaxnets.nn.conv2d`, whose
    impl="auto" uses a matmul formulation on CPU (see `conv2d` for why).
    """

    features: int
    kernel: int = 3
    stride: int = 1
    padding: str = "same"
    use_bias: bool = True
    kernel_init: str = "he_normal"
    impl: str = "auto"
    dtype: Any = None  # compute dtype (None: the inputs'); the parameters stay float32

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        k = self.param("kernel", _initializer(self.kernel_init), (self.kernel, self.kernel, x.shape[-1], self.features))
        if self.dtype is not None:
            x, k = x.astype(self.dtype), k.astype(self.dtype)
        y = conv2d(x, k, stride=self.stride, padding=self.padding, impl=self.impl)
        if self.use_bias:
            b = self.param("bias", nn.initializers.zeros_init(), (self.features,))
            y = y + b.astype(y.dtype).reshape(1, 1, 1, -1)
        return y


class ConvBlock(nn.Module):
    """conv (k×k, stride, valid|same) -> optional BatchNorm -> activation. [b, H, W, C] -> [b, H', W', features]."""

    features: int
    kernel: int = 3
    stride: int = 1
    padding: str = "same"
    activation: str = "relu"
    batch_norm: bool = False
    kernel_init: str = "he_normal"
    precision: str = "float32"

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        dtype = compute_dtype("ConvBlock", self.precision)
        x = Conv2D(self.features, self.kernel, self.stride, self.padding, use_bias=not self.batch_norm,
                   kernel_init=self.kernel_init, dtype=dtype, name="conv")(x)
        if self.batch_norm:
            x = nn.BatchNorm(use_running_average=not train, momentum=0.9, dtype=dtype, name="bn")(x)
        x = get_activation(self.activation)(x)
        self.sow("intermediates", "activation", x)  # recorded only under FitConfig(diagnostics=True)
        return x


class LeNet5(nn.Module):
    """LeNet-style: conv → pool → conv → pool → FC → FC → output (the seed's diagram).

    On 8×8 digits the convs use 'same' padding (LeCun padded 28×28 digits to 32×32 for the same
    reason): two 2×2 pools then leave 2×2 maps. pool="avg" is LeCun's subsampling.
    """

    num_classes: int = 10
    channels: Sequence[int] = (6, 16)
    hidden: Sequence[int] = (120, 84)
    kernel: int = 5
    padding: str = "same"
    pool: str = "max"
    activation: str = "relu"
    kernel_init: str = "he_normal"
    precision: str = "float32"

    def __post_init__(self):
        compute_dtype("LeNet5", self.precision)
        _positive("LeNet5", "channels", self.channels)
        _positive("LeNet5", "hidden", self.hidden)
        _check_common("LeNet5", self.num_classes, self.activation, self.kernel_init)
        _padding(self.padding)
        if self.pool not in POOLS:
            raise ValueError(f"LeNet5.pool must be one of {sorted(POOLS)}, got {self.pool!r}")
        super().__post_init__()

    def layers(self) -> list[Layer]:
        out = []
        for i, _ in enumerate(self.channels):
            out += [Layer(f"conv_{i}", self.kernel), Layer(f"pool_{i}", 2, 2)]
        return out

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False, *, features_only: bool = False) -> jax.Array:
        _check_input(self, x)
        for i, c in enumerate(self.channels):
            x = ConvBlock(c, self.kernel, padding=self.padding, activation=self.activation,
                          kernel_init=self.kernel_init, precision=self.precision, name=f"conv_{i}")(x, train)
            x = POOLS[self.pool](x, 2)
        if features_only:
            return float32(x)
        x = x.reshape(x.shape[0], -1)
        act, init = get_activation(self.activation), _initializer(self.kernel_init)
        dtype = compute_dtype("LeNet5", self.precision)
        for i, h in enumerate(self.hidden):
            x = act(nn.Dense(h, kernel_init=init, dtype=dtype, name=f"fc_{i}")(x))
        return float32(nn.Dense(self.num_classes, kernel_init=init, dtype=dtype, name="output")(x))


class VGG(nn.Module):
    """VGG-style: stages of 3×3 'same' convs, a 2×2 max-pool after each stage, then a head.

    stages: channels per conv, per stage, e.g. ((16, 16), (32, 32)). head="gap": global average
    pooling → linear (few parameters); head="flatten": flatten → `hidden` dense layers → linear.
    dropout_rate: after each hidden dense layer when training; a call's `dropout_rate=` (a traced
    per-member value, from a sweep) overrides it.
    """

    stages: Sequence[Sequence[int]] = ((16, 16), (32, 32))
    num_classes: int = 10
    head: str = "gap"
    hidden: Sequence[int] = ()
    activation: str = "relu"
    batch_norm: bool = False
    dropout_rate: float = 0.0
    kernel_init: str = "he_normal"
    precision: str = "float32"

    def __post_init__(self):
        compute_dtype("VGG", self.precision)
        if not self.stages:
            raise ValueError("VGG.stages must hold at least one stage, e.g. ((16, 16),)")
        for s, stage in enumerate(self.stages):
            if not tuple(stage):
                raise ValueError(f"VGG.stages[{s}] is empty")
            _positive("VGG", f"stages[{s}]", stage)
        _positive("VGG", "hidden", self.hidden)
        _check_common("VGG", self.num_classes, self.activation, self.kernel_init)
        if self.head not in ("gap", "flatten"):
            raise ValueError(f"VGG.head must be 'gap' or 'flatten', got {self.head!r}")
        check_rate("VGG", self.dropout_rate)
        super().__post_init__()

    def layers(self) -> list[Layer]:
        out = []
        for s, stage in enumerate(self.stages):
            out += [Layer(f"conv_{s}_{i}", 3) for i in range(len(stage))] + [Layer(f"pool_{s}", 2, 2)]
        return out

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False, *, features_only: bool = False,
                 dropout_rate=None) -> jax.Array:
        _check_input(self, x)
        for s, stage in enumerate(self.stages):
            for i, c in enumerate(stage):
                x = ConvBlock(c, 3, activation=self.activation, batch_norm=self.batch_norm,
                              kernel_init=self.kernel_init, precision=self.precision, name=f"conv_{s}_{i}")(x, train)
            x = max_pool(x, 2)
        if features_only:
            return float32(x)
        x = global_avg_pool(x) if self.head == "gap" else x.reshape(x.shape[0], -1)
        act, init = get_activation(self.activation), _initializer(self.kernel_init)
        dtype = compute_dtype("VGG", self.precision)
        rate = self.dropout_rate if dropout_rate is None else dropout_rate  # a sweep member's own rate
        for i, h in enumerate(self.hidden):
            x = act(nn.Dense(h, kernel_init=init, dtype=dtype, name=f"fc_{i}")(x))
            x = Dropout()(x, rate, train)
        return float32(nn.Dense(self.num_classes, kernel_init=init, dtype=dtype, name="output")(x))


class ResidualBlock(nn.Module):
    """Two 3×3 convs with BatchNorm; out = act(F(x) + shortcut(x)).

    The shortcut is the identity when shape is kept, else a projection (1×1 conv, stride, BN).
    skip=False drops the shortcut: the same block as a *plain* network (for depth_and_skips).
    """

    features: int
    stride: int = 1
    skip: bool = True
    batch_norm: bool = True
    activation: str = "relu"
    kernel_init: str = "he_normal"
    precision: str = "float32"

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        act = get_activation(self.activation)
        y = ConvBlock(self.features, 3, self.stride, activation=self.activation, batch_norm=self.batch_norm,
                      kernel_init=self.kernel_init, precision=self.precision, name="conv_a")(x, train)
        y = ConvBlock(self.features, 3, activation="linear", batch_norm=self.batch_norm,
                      kernel_init=self.kernel_init, precision=self.precision, name="conv_b")(y, train)
        if not self.skip:
            return act(y)
        shortcut = x
        if self.stride != 1 or x.shape[-1] != self.features:
            shortcut = ConvBlock(self.features, 1, self.stride, activation="linear", batch_norm=self.batch_norm,
                                 kernel_init=self.kernel_init, precision=self.precision, name="projection")(x, train)
        return act(y + shortcut)


class ResNet(nn.Module):
    """ResNet-style: stem conv → stages of residual blocks (stride 2 entering each later stage) →
    global average pool → linear. skip=False gives the plain network of the same depth."""

    stage_features: Sequence[int] = (16, 32)
    blocks_per_stage: int = 2
    num_classes: int = 10
    skip: bool = True
    batch_norm: bool = True
    activation: str = "relu"
    kernel_init: str = "he_normal"
    precision: str = "float32"

    def __post_init__(self):
        compute_dtype("ResNet", self.precision)
        if not self.stage_features:
            raise ValueError("ResNet.stage_features must hold at least one stage width")
        _positive("ResNet", "stage_features", self.stage_features)
        if not isinstance(self.blocks_per_stage, int) or self.blocks_per_stage < 1:
            raise ValueError(f"ResNet.blocks_per_stage must be a positive int, got {self.blocks_per_stage!r}")
        _check_common("ResNet", self.num_classes, self.activation, self.kernel_init)
        super().__post_init__()

    @property
    def depth(self) -> int:
        """Weight layers on the main path: stem + 2 per block + the linear head."""
        return 1 + 2 * self.blocks_per_stage * len(self.stage_features) + 1

    def layers(self) -> list[Layer]:
        out = [Layer("stem", 3)]
        for s in range(len(self.stage_features)):
            for b in range(self.blocks_per_stage):
                stride = 2 if (s > 0 and b == 0) else 1
                out += [Layer(f"stage_{s}_block_{b}_a", 3, stride), Layer(f"stage_{s}_block_{b}_b", 3)]
        return out

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False, *, features_only: bool = False) -> jax.Array:
        _check_input(self, x)
        x = ConvBlock(self.stage_features[0], 3, activation=self.activation, batch_norm=self.batch_norm,
                      kernel_init=self.kernel_init, precision=self.precision, name="stem")(x, train)
        for s, width in enumerate(self.stage_features):
            for b in range(self.blocks_per_stage):
                x = ResidualBlock(width, 2 if (s > 0 and b == 0) else 1, self.skip, self.batch_norm,
                                  self.activation, self.kernel_init, self.precision,
                                  name=f"stage_{s}_block_{b}")(x, train)
        if features_only:
            return float32(x)
        x = global_avg_pool(x)
        dtype = compute_dtype("ResNet", self.precision)
        return float32(nn.Dense(self.num_classes, kernel_init=_initializer(self.kernel_init), dtype=dtype,
                                name="output")(x))


def feature_maps(model: nn.Module, variables: dict, x: jax.Array) -> jax.Array:
    """The model's last feature maps in eval mode: x [b, H, W, C] -> [b, H', W', C']."""
    return model.apply(variables, x, train=False, features_only=True)


def _depth_key(path: str) -> tuple:
    # Natural order of layer names ("block_10" after "block_9"); the stem comes first.
    return tuple((-1, "") if t == "stem" else (0, int(t)) if t.isdigit() else (1, t)
                 for t in re.findall(r"\d+|[a-z]+", path))


def conv_kernels(params, stacked: bool = False) -> list[tuple[str, jax.Array]]:
    """(path, kernel) of every conv layer, input side first: kernels [kh, kw, C_in, C_out]
    ([members, kh, kw, C_in, C_out] for a stacked tree, e.g. a vmapped state's params or grads)."""
    rank = 5 if stacked else 4
    out = [(jax.tree_util.keystr(p), leaf) for p, leaf in jax.tree_util.tree_leaves_with_path(params)
           if jax.tree_util.keystr(p).endswith("['kernel']") and jnp.ndim(leaf) == rank]
    return sorted(out, key=lambda kv: _depth_key(kv[0]))
