"""Real time series that ship with statsmodels (no downloads), and sliding windows over them."""
from __future__ import annotations

import numpy as np


def load_sunspots() -> tuple[np.ndarray, np.ndarray]:
    """Yearly mean sunspot numbers 1700–2008 from statsmodels: (years [309] int, values [309] float32)."""
    try:
        from statsmodels.datasets import sunspots
    except ImportError as e:  # pragma: no cover - statsmodels is a declared dependency
        raise ImportError("load_sunspots needs statsmodels (pip install statsmodels)") from e
    df = sunspots.load_pandas().data
    return df["YEAR"].to_numpy().astype(int), df["SUNACTIVITY"].to_numpy().astype(np.float32)


def make_windows(series: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Sliding windows for one-step forecasting: x [n − window, window, 1] (values t−window..t−1),
    y [n − window] (value t)."""
    series = np.asarray(series, np.float32)
    if series.ndim != 1:
        raise ValueError(f"series must be 1-D, got shape {series.shape}")
    if not 1 <= window < len(series):
        raise ValueError(f"window must be in [1, {len(series) - 1}], got {window}")
    idx = np.arange(window)[None, :] + np.arange(len(series) - window)[:, None]
    return series[idx][..., None], series[window:]
