"""Training diagnostics: gradients of an objective's loss, for single or stacked states."""
from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxnets.train.state import TrainState


def loss_gradients(objective, state: TrainState, data: dict, train: bool = True):
    """∂loss/∂params on data = {"x": [n, ...], "y": [n]} (all n examples as one batch), in train
    mode by default (BatchNorm uses batch statistics, as during a step; dropout keys from state.rng).
    Returns a params-shaped tree, with a leading member axis for a stacked state."""
    batch = {"x": jnp.asarray(data["x"]), "y": jnp.asarray(data["y"]),
             "mask": jnp.ones(len(data["y"]), jnp.float32)}

    def one(params, variables, rng):
        return jax.grad(lambda p: objective(state.apply_fn, p, variables, batch, rng, train)[0])(params)

    fn = jax.jit(one if state.num_members is None else jax.vmap(one))
    return fn(state.params, state.variables, state.rng)
