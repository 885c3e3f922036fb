"""Inference for single or stacked states, in fixed-size batches (one compiled program per model
and batch size, whatever the number of rows; memory bounded by the batch)."""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from jaxnets import distributed
from jaxnets.metrics import probabilities  # noqa: F401 - part of this module's API (jaxnets.train)
from jaxnets.train.state import TrainState

OUTPUTS = ("logits", "probabilities", "classes")


def check_x(state: TrainState, x, where: str = "x") -> np.ndarray:
    """Validate an input batch against the shape the model was initialised with."""
    try:
        x = np.asarray(x)
    except (TypeError, ValueError) as e:  # ragged lists
        raise TypeError(f"{where} must be a numeric array-like [batch, ...], got {type(x).__name__}: {e}") from None
    if not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise TypeError(f"{where} must hold numbers, got dtype {x.dtype}")
    if x.ndim < 1 or x.shape[1:] != tuple(state.input_shape):
        raise ValueError(f"{where} must have shape [batch, {', '.join(map(str, state.input_shape))}], got {x.shape}")
    if x.shape[0] == 0:
        raise ValueError(f"{where} is empty: no rows to predict")
    if np.issubdtype(x.dtype, np.floating) and not np.all(np.isfinite(x)):
        raise ValueError(f"{where} contains NaN or inf")
    return x


def _apply(apply_fn, params, variables, x):
    return apply_fn({"params": params, **variables}, x, train=False)


@functools.lru_cache(maxsize=64)
def _program(apply_fn, many: bool):
    one = functools.partial(_apply, apply_fn)
    return jax.jit(jax.vmap(one, in_axes=(0, 0, None)) if many else one)


def predict(state: TrainState, x, *, batch_size: int = 4096, output: str = "logits") -> np.ndarray:
    """The model's outputs for x [n, ...], in batches of `batch_size` rows (the last one padded).

    output: "logits" (raw outputs: regression values too) [n, k], "probabilities" [n, max(k, 2)],
    or "classes" [n]; a stacked state gives a leading member axis [members, n, ...].
    """
    if output not in OUTPUTS:
        raise ValueError(f"predict: output must be one of {OUTPUTS}, got {output!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise ValueError(f"predict: batch_size must be a positive int, got {batch_size!r}")
    x = check_x(state, x)
    n = x.shape[0]
    many = state.num_members is not None
    fn = _program(state.apply_fn, many)
    rows = min(batch_size, max(n, 1))
    mesh = distributed.mesh_of(state.params)
    outs = []
    for i in range(0, n, rows):
        chunk = x[i:i + rows]
        if len(chunk) < rows:  # pad the last batch: one program for every batch
            chunk = np.concatenate([chunk, np.repeat(chunk[-1:], rows - len(chunk), axis=0)])
        xb = distributed.put(chunk, distributed.replicated(mesh)) if mesh is not None else jnp.asarray(chunk)
        out = np.asarray(jax.device_get(fn(state.params, state.variables, xb)))
        outs.append(out[:, :n - i] if many else out[:n - i])  # the batch axis: 1 for a stack, else 0
    logits = np.concatenate(outs, axis=1 if many else 0)
    if output == "logits":
        return logits
    proba = probabilities(logits)
    return proba if output == "probabilities" else proba.argmax(-1)


def predict_logits(state: TrainState, x, batch_size: int = 4096) -> np.ndarray:
    """x: [batch, ...] -> logits [batch, k] (or [members, batch, k] for a stacked state)."""
    return predict(state, x, batch_size=batch_size)


def predict_classes(state: TrainState, x, batch_size: int = 4096) -> np.ndarray:
    """Class ids [batch] (or [members, batch])."""
    return predict(state, x, batch_size=batch_size, output="classes")


def make_predict_fn(state: TrainState):
    """A compiled x -> logits for one (unstacked) state, without per-call host validation:
    what throughput measurements and serving loops call."""
    if state.num_members is not None:
        raise ValueError("make_predict_fn needs a single state; use member(state, i)")
    params, variables, apply_fn = state.params, state.variables, state.apply_fn
    return jax.jit(lambda x: apply_fn({"params": params, **variables}, x, train=False))
