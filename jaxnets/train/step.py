"""The one generic train step and its eval twin. Both are pure, jit-able and vmap-able."""
from __future__ import annotations

from collections.abc import Callable

import jax
import optax

from jaxnets.train.state import TrainState


def make_train_step(objective) -> Callable[[TrainState, dict], tuple[TrainState, dict]]:
    """(state, batch) -> (state', metric_sums). The dropout/noise key is fold_in(rng, step)."""

    def train_step(state: TrainState, batch: dict):
        rng = jax.random.fold_in(state.rng, state.step)
        grad_fn = jax.value_and_grad(objective, has_aux=True)
        (_, (metrics, new_vars)), grads = grad_fn(state.params, state.variables, batch, rng, True)
        updates, opt_state = state.tx.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        return state.replace(step=state.step + 1, params=params, opt_state=opt_state, variables=new_vars), metrics

    return train_step


def make_eval_step(objective) -> Callable[[TrainState, dict], dict]:
    """(state, batch) -> metric_sums, in eval mode (no dropout, batch statistics frozen)."""

    def eval_step(state: TrainState, batch: dict):
        _, (metrics, _) = objective(state.params, state.variables, batch, state.rng, False)
        return metrics

    return eval_step
