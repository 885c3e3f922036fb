"""Image data that ships with scikit-learn, and shifts (for translation tests and augmentation).

Digits as images are scaled to [0, 1] (pixel / 16) rather than standardised per pixel: a shifted
digit must land on the same background value (0) everywhere, which per-pixel z-scores would break.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from sklearn import datasets as skd

from jaxnets.data.datasets import Dataset, load_embedded

SAMPLE_IMAGES = ("china.jpg", "flower.jpg")


def load_digit_images() -> Dataset:
    """sklearn's 1,797 handwritten digits as x: [n, 8, 8, 1] float32 in [0, 1], y: [n] int32."""
    ds = load_embedded("digits")
    x = (ds.x / 16.0).reshape(-1, 8, 8, 1).astype(np.float32)
    return Dataset("digits_images", x, ds.y, ds.task, ds.class_names, ("pixel",))


def load_sample_photo(name: str = "china.jpg") -> np.ndarray:
    """A colour photograph shipped inside scikit-learn: [H, W, 3] float32 in [0, 1]."""
    if name not in SAMPLE_IMAGES:
        raise ValueError(f"unknown sample image {name!r}; valid names: {', '.join(SAMPLE_IMAGES)}")
    return np.asarray(skd.load_sample_image(name), np.float32) / 255.0


def shift_images(x, dy: int, dx: int, fill: float = 0.0) -> np.ndarray:
    """Move every image dy pixels down and dx right; uncovered pixels get `fill` (the background).

    x: [batch, H, W, C] -> same shape (content shifted off the edge is lost).
    """
    x = np.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"shift_images needs x: [batch, H, W, C], got shape {x.shape}")
    h, w = x.shape[1:3]
    if abs(dy) >= h or abs(dx) >= w:
        raise ValueError(f"shift ({dy}, {dx}) moves an {h}x{w} image entirely out of frame")
    out = np.full_like(x, fill)
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[:, yd, xd] = x[:, ys, xs]
    return out


def ring_shifts(distance: int) -> list[tuple[int, int]]:
    """All (dy, dx) with max(|dy|, |dx|) == distance: 1 for 0, 8 for 1, 16 for 2."""
    if distance < 0:
        raise ValueError(f"distance must be >= 0, got {distance}")
    if distance == 0:
        return [(0, 0)]
    r = range(-distance, distance + 1)
    return [(dy, dx) for dy in r for dx in r if max(abs(dy), abs(dx)) == distance]


def random_shift(key: jax.Array, x: jax.Array, max_shift: int, fill: float = 0.0) -> jax.Array:
    """Shift each image by its own uniform (dy, dx) in [-max_shift, max_shift]² (jit-able augmentation).

    x: [batch, H, W, C] -> same shape. Implemented as pad-then-crop so it is one gather per image.
    """
    if max_shift <= 0:
        return x
    b, h, w, _ = x.shape
    m = max_shift
    padded = jnp.pad(x, ((0, 0), (m, m), (m, m), (0, 0)), constant_values=fill)
    offsets = jax.random.randint(key, (b, 2), 0, 2 * m + 1)
    crop = lambda img, o: jax.lax.dynamic_slice(img, (o[0], o[1], 0), (h, w, img.shape[-1]))
    return jax.vmap(crop)(padded, offsets)
