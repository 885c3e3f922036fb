"""The one generic train step and its eval twin. Both are pure, jit-able and vmap-able.

A step differentiates the objective and applies the optimizer. Objectives with several *players*
(a GAN: `objective.players = ("discriminator", "generator")`, one top-level params entry and one
optimizer each, see `optim.player_optimizers`) are handled by the same step: the players update in
turn, each against the others' freshest parameters (alternating updates), inside the one jitted step.
Objectives see the step counter as `batch["step"]` (for schedules such as KL annealing).
"""
from __future__ import annotations

from collections.abc import Callable

import jax
import optax

from jaxnets.train.diagnostics import CAPTURED, step_diagnostics
from jaxnets.train.state import TrainState


def _players(objective) -> tuple[str, ...] | None:
    return getattr(objective, "players", None)


def _player_loss(objective, apply_fn, player: str, params: dict, variables, batch: dict, key):
    """The objective as a function of one player's parameters, the others held at their current values."""
    others = dict(params)
    return lambda own: objective(apply_fn, {**others, player: own}, variables, batch, key, True, player=player)


def _scaled(updates, batch: dict):
    """The optimizer's updates times the epoch's learning-rate scale, when the engine reduces the rate on
    a plateau (batch["lr_scale"], from `FitConfig.reduce_on_plateau`)."""
    if "lr_scale" not in batch:
        return updates
    return jax.tree_util.tree_map(lambda u: u * batch["lr_scale"].astype(u.dtype), updates)


def make_train_step(objective, diagnostics: bool = False) -> Callable[[TrainState, dict], tuple]:
    """(state, batch) -> (state', metric_sums), or (state', metric_sums, diagnostics) with
    diagnostics=True (`jaxnets.train.diagnostics`). The dropout/noise key is fold_in(rng, step)."""
    players = _players(objective)
    if diagnostics and players is not None:
        raise ValueError(f"FitConfig(diagnostics=True) is for one-player objectives; {type(objective).__name__} "
                         f"has players {players}")

    def train_step(state: TrainState, batch: dict):
        rng = jax.random.fold_in(state.rng, state.step)
        batch = {**batch, "step": state.step}
        if state.hyper:  # this member's settings of the objective (a sweep's l2, label smoothing …)
            batch["hyper"] = state.hyper
        if players is None:
            # An (empty) intermediates collection makes the model's `sow` calls record, as a mutable
            # collection of the training forward pass: the activations come back with the new variables.
            variables = {**state.variables, CAPTURED: {}} if diagnostics else state.variables
            grad_fn = jax.value_and_grad(lambda p: objective(state.apply_fn, p, variables, batch, rng, True),
                                         has_aux=True)
            (_, (metrics, new_vars)), grads = grad_fn(state.params)
            captured = None
            if diagnostics:
                new_vars = dict(new_vars)
                captured = new_vars.pop(CAPTURED, None)
            updates, opt_state = state.tx.update(grads, state.opt_state, state.params)
            updates = _scaled(updates, batch)
            params = optax.apply_updates(state.params, updates)
            new = state.replace(step=state.step + 1, params=params, opt_state=opt_state, variables=new_vars)
            if diagnostics:
                diag = step_diagnostics(grads, updates, state.params, params, captured, batch["mask"], opt_state)
                diag["learning_rate"] = diag["learning_rate"] * batch.get("lr_scale", 1.0)  # the rate in force
                return new, metrics, diag
            return new, metrics

        params, opt_state, variables, metrics = dict(state.params), dict(state.opt_state), state.variables, {}
        for i, player in enumerate(players):
            key = jax.random.fold_in(rng, i)
            loss_fn = _player_loss(objective, state.apply_fn, player, params, variables, batch, key)
            (_, (m, variables)), grads = jax.value_and_grad(loss_fn, has_aux=True)(params[player])
            updates, opt_state[player] = state.tx.update_player(player, grads, opt_state[player], params[player])
            params[player] = optax.apply_updates(params[player], _scaled(updates, batch))
            metrics.update(m)  # same keys each phase: the step reports the last player's view
        return state.replace(step=state.step + 1, params=params, opt_state=opt_state, variables=variables), metrics

    return train_step


def make_eval_step(objective) -> Callable[[TrainState, dict], dict]:
    """(state, batch) -> metric_sums, in eval mode (no dropout, batch statistics frozen)."""

    def eval_step(state: TrainState, batch: dict):
        batch = {**batch, "step": state.step, **({"hyper": state.hyper} if state.hyper else {})}
        _, (metrics, _) = objective(state.apply_fn, state.params, state.variables, batch, state.rng, False)
        return metrics

    return eval_step
