"""Many members in one program: per-member hyper-parameters and mean ± spread summaries."""
from __future__ import annotations

from collections.abc import Sequence

import jax.numpy as jnp
import numpy as np

from jaxnets.train.state import TrainState


def set_learning_rates(state: TrainState, learning_rates: Sequence[float]) -> TrainState:
    """Give each member of a stacked state its own learning rate (optimizer from `make_optimizer`).

    The rate lives in the optimizer state (optax.inject_hyperparams), so N rates train as one
    compiled program."""
    n = state.num_members
    lrs = jnp.asarray(learning_rates, jnp.float32)
    if n is None or lrs.shape != (n,):
        raise ValueError(f"need one learning rate per member: state has {n} members, got shape {lrs.shape}")

    found = []

    def visit(s):
        # optax's inject_hyperparams states (their class name differs across optax versions) are
        # NamedTuples with a `hyperparams` dict; walk chains (tuples) to find them.
        if isinstance(s, tuple) and hasattr(s, "hyperparams") and hasattr(s, "_replace"):
            if "learning_rate" not in s.hyperparams:
                raise ValueError("optimizer state has no injectable learning_rate")
            lr = s.hyperparams["learning_rate"]
            found.append(True)
            return s._replace(hyperparams={**s.hyperparams, "learning_rate": lrs.astype(lr.dtype).reshape(lr.shape)})
        if isinstance(s, tuple):
            items = [visit(x) for x in s]
            return type(s)(*items) if hasattr(s, "_fields") else tuple(items)
        return s

    new = visit(state.opt_state)
    if not found:
        raise ValueError("no optax.inject_hyperparams state found: build the optimizer with make_optimizer()")
    return state.replace(opt_state=new)


def summarize(values: Sequence[float]) -> dict:
    """{"mean", "std" (population, ddof=0), "min", "max", "per_seed"} of one number per member."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or v.size == 0:
        raise ValueError(f"summarize needs a non-empty 1-D sequence, got shape {v.shape}")
    return {"mean": float(v.mean()), "std": float(v.std()), "min": float(v.min()), "max": float(v.max()),
            "per_seed": [float(x) for x in v]}
