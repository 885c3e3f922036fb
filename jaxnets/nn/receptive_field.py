"""Receptive fields: the closed-form recurrence for a stack of conv/pool layers, and an empirical
measurement from gradients of the real model (which pixels can move one output unit?)."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np


@dataclasses.dataclass(frozen=True)
class Layer:
    """Geometry of one spatial layer: square window `kernel`, `stride`, and a name for tables."""

    name: str
    kernel: int
    stride: int = 1

    def __post_init__(self):
        if self.kernel < 1 or self.stride < 1:
            raise ValueError(f"Layer {self.name!r}: kernel and stride must be >= 1, got {self.kernel}, {self.stride}")


@dataclasses.dataclass(frozen=True)
class FieldInfo:
    """After a layer: `size` = receptive field (pixels per side), `jump` = input pixels between
    neighbouring output units."""

    name: str
    size: int
    jump: int


def receptive_field(layers: Sequence[Layer | tuple[int, int]]) -> list[FieldInfo]:
    """r_ℓ = r_{ℓ−1} + (k_ℓ − 1)·j_{ℓ−1},  j_ℓ = j_{ℓ−1}·s_ℓ,  r_0 = j_0 = 1.

    Three 3×3 stride-1 convs give 3, 5, 7 — the seed's table. Padding does not change the size.
    """
    size, jump, out = 1, 1, []
    for i, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            layer = Layer(f"layer_{i}", *layer)
        size += (layer.kernel - 1) * jump
        jump *= layer.stride
        out.append(FieldInfo(layer.name, size, jump))
    return out


def empirical_receptive_field(
    features: Callable[[jax.Array], jax.Array], input_shape: tuple[int, int, int], key: jax.Array,
    samples: int = 16,
) -> tuple[int, int]:
    """Height and width of the input region that influences the centre unit of `features`' output.

    features: x [batch, H, W, C] -> feature maps [batch, H', W', C']. We take the gradient of the
    centre unit (summed over channels) with respect to random inputs and measure the bounding box of
    the pixels with a non-zero gradient for any sample — several samples, because max-pooling and
    ReLU route the gradient through only some pixels of each window for a single input.
    """
    x = jax.random.normal(key, (samples, *input_shape))
    fmap = jax.eval_shape(features, x)
    ci, cj = fmap.shape[1] // 2, fmap.shape[2] // 2
    grads = jax.grad(lambda x: jnp.sum(features(x)[:, ci, cj, :]))(x)
    hit = np.asarray(jnp.any(grads != 0, axis=(0, 3)))  # [H, W]
    if not hit.any():
        raise ValueError("no input pixel influences the centre unit (dead network?)")
    rows, cols = np.flatnonzero(hit.any(1)), np.flatnonzero(hit.any(0))
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)
