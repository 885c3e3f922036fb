"""The seed's classic fixed 3×3 filters, applied to an image batch with one call."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from jaxnets.nn.conv import _as_float, _check_fits, _padding

FILTERS: dict[str, np.ndarray] = {
    "vertical_edge": np.array([[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]], np.float32),
    "horizontal_edge": np.array([[-1, -1, -1], [0, 0, 0], [1, 1, 1]], np.float32),
    "diagonal_edge": np.array([[-1, 0, 1], [0, 0, 0], [1, 0, -1]], np.float32),
    # Divided by 16 so the weights sum to 1: blurring keeps the brightness.
    "gaussian_blur": np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], np.float32) / 16.0,
    "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], np.float32),
}


def get_filter(name: str) -> np.ndarray:
    """A named 3×3 kernel (a copy)."""
    try:
        return FILTERS[name].copy()
    except KeyError:
        raise ValueError(f"unknown filter {name!r}; valid names: {', '.join(FILTERS)}") from None


def apply_filter(images, kernel, padding: str = "same") -> jax.Array:
    """Cross-correlate every channel of every image with one 2-D kernel (a name or an array).

    images: [batch, H, W] or [batch, H, W, C] -> same rank, [.., H', W', (C)]; each channel is filtered
    on its own (a depthwise convolution), so an RGB photo stays RGB.
    """
    k = get_filter(kernel) if isinstance(kernel, str) else np.asarray(kernel, np.float32)
    if k.ndim != 2:
        raise ValueError(f"a filter kernel must be 2-D [kh, kw], got shape {k.shape}")
    x = _as_float(images)
    squeeze = x.ndim == 3
    if squeeze:
        x = x[..., None]
    if x.ndim != 4:
        raise ValueError(f"images must be [batch, H, W] or [batch, H, W, C], got shape {x.shape}")
    padding = _padding(padding)
    _check_fits(x.shape[1:3], k.shape, padding, "filter")
    c = x.shape[-1]
    depthwise = jnp.tile(jnp.asarray(k, x.dtype)[:, :, None, None], (1, 1, 1, c))  # [kh, kw, 1, C]
    y = lax.conv_general_dilated(x, depthwise, (1, 1), padding.upper(),
                                 dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=c)
    return y[..., 0] if squeeze else y
