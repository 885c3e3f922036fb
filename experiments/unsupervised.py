"""Shared pieces of the autoencoder / GAN experiments: the digit splits, one vmapped fit per
configuration, applying every seed's parameters at once, and configurations trained two at a time."""
from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

import jax
import numpy as np

from experiments.standalone import checkpointed_fit
from jaxnets.data import load_digit_images, prepare
from jaxnets.data.split import Splits
from jaxnets.train import FitConfig, FitResult, create_states, make_optimizer


def digit_splits(seed: int = 0) -> Splits:
    """sklearn's 1,797 digits as images [n, 8, 8, 1] in [0, 1]: 64 % train, 16 % val, 20 % test
    (stratified by digit, fixed split for every seed so models are compared on the same examples)."""
    return prepare(load_digit_images(), test_size=0.2, val_size=0.2, seed=seed, standardize=False)


def fit_seeds(model, objective, train: dict, val: dict | None, *, seeds: int, epochs: int, learning_rate: float,
              batch_size: int, patience: int | None = None, name: str = "fit", progress: bool = True,
              tx=None, restore_best: bool = True, checkpoints=None) -> FitResult:
    """All seeds of one configuration as one compiled, vmapped program (Adam unless `tx` is given).
    With val data the best-validation-loss parameters are restored unless restore_best=False (a GAN's
    loss says nothing about sample quality). checkpoints: the run's `args.checkpoints` (standalone.start)."""
    tx = tx if tx is not None else make_optimizer("adam", learning_rate)
    state = create_states(model, tx, range(seeds), train["x"])
    config = FitConfig(epochs=epochs, batch_size=batch_size, patience=patience, progress=progress,
                       restore_best=restore_best and val is not None)
    return checkpointed_fit(checkpoints, state, objective, train, val, config, name)


@functools.cache
def _member_apply(model, method: str | None, kwargs: tuple):
    # One jitted function per (model, method): later calls with the same shapes reuse its compile.
    return jax.jit(jax.vmap(lambda p, xx: model.apply({"params": p}, xx, method=method, **dict(kwargs)),
                            in_axes=(0, None)))


def apply_members(model, params, x, method: str | None = None, **kwargs) -> np.ndarray:
    """model.apply for every member of stacked params at once: [members, n, ...]."""
    out = _member_apply(model, method, tuple(sorted(kwargs.items())))(params, np.asarray(x))
    return jax.tree_util.tree_map(np.asarray, out)


def pca_basis(train: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean [d], top-k principal directions [k, d]) of train [n, d]."""
    mean = train.mean(0)
    return mean, np.linalg.svd(train - mean, full_matrices=False)[2][:k]


def pca_reconstruct(train: np.ndarray, test: np.ndarray, k: int) -> np.ndarray:
    """Project test onto train's top-k principal subspace (centred on train's mean) and back."""
    mean, basis = pca_basis(train, k)
    return (test - mean) @ basis.T @ basis + mean


def train_all(jobs: dict[str, Callable[[], dict]], workers: int) -> tuple[dict[str, dict], float]:
    """Run independent configurations from `workers` threads (compiled programs release the GIL, so
    two run side by side on two cores). -> ({name: result}, wall seconds)."""
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {name: pool.submit(fn) for name, fn in jobs.items()}
        results = {name: f.result() for name, f in futures.items()}
    return results, time.perf_counter() - t0


def tile_images(images: Iterable[np.ndarray], ncols: int, pad: int = 1) -> np.ndarray:
    """[n, H, W] -> one [rows·(H+pad), ncols·(W+pad)] mosaic (for latent-plane grids)."""
    images = np.asarray(list(images))
    n, h, w = images.shape[:3]
    rows = -(-n // ncols)
    out = np.ones((rows * (h + pad), ncols * (w + pad)))  # white gaps
    for i, im in enumerate(images):
        r, c = divmod(i, ncols)
        out[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = im.reshape(h, w)
    return out
