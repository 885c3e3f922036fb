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
