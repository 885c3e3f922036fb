"""Quality measures for reconstructions and samples: PSNR, SSIM, GAN mode coverage.

SSIM follows Wang et al. (2004) with scikit-image's defaults (7×7 uniform window, K1 = 0.01,
K2 = 0.03, sample covariances, mean over the windows that fit inside the image), so the numbers equal
`skimage.metrics.structural_similarity(..., data_range=...)` (tested against it).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxnets.nn.conv import avg_pool

Array = jax.Array


def _as_images(a, name: str) -> Array:
    a = jnp.asarray(a, jnp.float32)
    if a.ndim == 3:
        a = a[..., None]
    if a.ndim != 4:
        raise ValueError(f"{name} must be images [batch, H, W] or [batch, H, W, C], got shape {a.shape}")
    return a


def psnr(x, y, data_range: float = 1.0) -> Array:
    """Peak signal-to-noise ratio per image, dB: 10 log10(R² / MSE). x, y: [batch, ...] -> [batch]."""
    x, y = jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32)
    if x.shape != y.shape:
        raise ValueError(f"psnr needs equal shapes, got {x.shape} and {y.shape}")
    err = jnp.mean(jnp.square(x - y).reshape(x.shape[0], -1), axis=1)
    return 10.0 * jnp.log10(data_range**2 / err)


def ssim(x, y, data_range: float = 1.0, win_size: int = 7, k1: float = 0.01, k2: float = 0.03) -> Array:
    """Mean structural similarity per image. x, y: [batch, H, W] or [batch, H, W, C] (channels
    averaged) -> [batch]; 1 for identical images. H and W must be >= win_size."""
    x, y = _as_images(x, "ssim x"), _as_images(y, "ssim y")
    if x.shape != y.shape:
        raise ValueError(f"ssim needs equal shapes, got {x.shape} and {y.shape}")
    if min(x.shape[1:3]) < win_size or win_size < 2:
        raise ValueError(f"ssim window {win_size} does not fit images of {x.shape[1]}x{x.shape[2]}")
    mean = lambda a: avg_pool(a, win_size, stride=1)  # the windows that fit = skimage's cropped region
    cov_norm = win_size**2 / (win_size**2 - 1.0)  # sample covariance
    ux, uy = mean(x), mean(y)
    vx = cov_norm * (mean(x * x) - ux * ux)
    vy = cov_norm * (mean(y * y) - uy * uy)
    vxy = cov_norm * (mean(x * y) - ux * uy)
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    s = (2 * ux * uy + c1) * (2 * vxy + c2) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
    return jnp.mean(s, axis=(1, 2, 3))


def ring_mode_metrics(centers, std: float, sigmas: float = 3.0):
    """Per-sample mode statistics for a Gaussian mixture (e.g. `data.ring_centers()`), as a
    `GANObjective(sample_metrics=...)` function: fake [b, 2] -> {"high_quality": [b] (1 if within
    sigmas·std of its nearest centre), "mode_hits": [b, modes] (one-hot nearest centre, high-quality only)}."""
    centers = jnp.asarray(centers, jnp.float32)

    def metrics(fake: Array, real: Array | None = None) -> dict:
        d = jnp.linalg.norm(fake[:, None, :] - centers[None], axis=-1)  # [b, modes]
        good = (jnp.min(d, axis=1) <= sigmas * std).astype(jnp.float32)
        hits = jax.nn.one_hot(jnp.argmin(d, axis=1), centers.shape[0]) * good[:, None]
        return {"high_quality": good, "mode_hits": hits}

    return metrics


def modes_covered(mode_share, min_share: float = 0.01) -> np.ndarray:
    """Modes that received at least `min_share` of all samples as high-quality samples.
    mode_share: [..., modes] fractions (mean of `mode_hits`) -> [...] counts. With 8 equal modes a
    perfect generator gives each 1/8; 1 % keeps a few stray samples from counting as coverage."""
    return np.sum(np.asarray(mode_share) >= min_share, axis=-1)
