"""Generated sequence tasks (no downloads): memory probes for recurrent networks."""
from __future__ import annotations

import numpy as np

ADDING_BASELINE_MSE = 1.0 / 6.0  # predicting the mean (1.0) of the sum of two U(0, 1) values


def adding_problem(n: int, time_steps: int, seed: int) -> dict:
    """Hochreiter & Schmidhuber's adding problem. x: [n, T, 2] float32 = (value ~ U(0, 1), marker);
    exactly two markers, one in each half of the sequence; y: [n] = the sum of the two marked values.

    A model must carry the first marked value across up to T − 1 steps. Predicting the mean scores
    MSE 1/6 (`ADDING_BASELINE_MSE`).
    """
    if time_steps < 2:
        raise ValueError(f"the adding problem needs time_steps >= 2, got {time_steps}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    rng = np.random.default_rng(seed)
    values = rng.uniform(size=(n, time_steps)).astype(np.float32)
    half = time_steps // 2
    first = rng.integers(0, half, size=n)
    second = rng.integers(half, time_steps, size=n)
    markers = np.zeros((n, time_steps), np.float32)
    markers[np.arange(n), first] = 1.0
    markers[np.arange(n), second] = 1.0
    x = np.stack([values, markers], axis=-1)
    y = (values * markers).sum(axis=1).astype(np.float32)
    return {"x": x, "y": y}


def ring_centers(modes: int = 8, radius: float = 2.0) -> np.ndarray:
    """[modes, 2] centres evenly spaced on a circle (the GAN mode-collapse benchmark's layout)."""
    if modes < 1 or radius <= 0:
        raise ValueError(f"ring_centers needs modes >= 1 and radius > 0, got {modes}, {radius}")
    angle = 2 * np.pi * np.arange(modes) / modes
    return (radius * np.stack([np.cos(angle), np.sin(angle)], axis=1)).astype(np.float32)


def gaussian_ring(n: int, seed: int, modes: int = 8, radius: float = 2.0, std: float = 0.02) -> dict:
    """n points from an equal mixture of `modes` isotropic Gaussians (std) on a ring: {"x": [n, 2],
    "y": [n] the mode of each point}. The standard 2-D test of GAN mode coverage (Metz et al. 2017)."""
    if n < 1 or std <= 0:
        raise ValueError(f"gaussian_ring needs n >= 1 and std > 0, got {n}, {std}")
    rng = np.random.default_rng(seed)
    y = rng.integers(0, modes, size=n)
    x = ring_centers(modes, radius)[y] + std * rng.standard_normal((n, 2)).astype(np.float32)
    return {"x": x.astype(np.float32), "y": y}
