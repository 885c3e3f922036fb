"""Training diagnostics: what happens inside a network while it trains, computed in the compiled step.

`FitConfig(diagnostics=True)` makes the train step return, besides its metric sums, per step:

* ``grad_norm/<path>``: ‖∂loss/∂w‖ of each parameter (path: its tree path, e.g. ``hidden_0/kernel``);
* ``update_ratio/<path>``: ‖Δw‖ / max(‖w‖ before, after) of the optimizer's update (≈ 1e-3 is the
  classic healthy value);
* ``param_norm/<path>``: ‖w‖ after the step (an epoch logs its last step's);
* ``act_mean/<layer>``, ``act_std/<layer>``: mean and standard deviation of the activations a model
  records with ``self.sow("intermediates", name, h)`` (MLP and ConvBlock record each hidden layer
  after its activation), over the batch's valid rows;
* ``alive/<layer>``: per unit (last axis), whether it was non-zero for any valid example;
* ``global_grad_norm``: ‖∂loss/∂θ‖ over all parameters, before any clipping;
* ``learning_rate``: the rate the optimizer applied (its injected hyper-parameter, times the plateau
  scale under `FitConfig(reduce_on_plateau=...)`; NaN if the optimizer injects none).

`epoch_diagnostics` reduces an epoch's steps: the mean over steps, except ``alive``, which becomes
``dead_fraction/<layer>``: the fraction of units that were zero on every example of the epoch (a
dead ReLU unit). `FitResult.history` holds each as [members, epochs]; `jaxnets.plots.diagnostics`
draws them.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxnets.train.state import TrainState

CAPTURED = "intermediates"  # the collection models `sow` their activations into


def path_name(path) -> str:
    """A tree path as "hidden_0/kernel"."""
    return "/".join(str(getattr(k, "key", getattr(k, "idx", k))) for k in path)


def _norms(tree) -> dict[str, jax.Array]:
    return {path_name(p): jnp.sqrt(jnp.sum(jnp.square(v.astype(jnp.float32))))
            for p, v in jax.tree_util.tree_leaves_with_path(tree)}


def applied_learning_rate(opt_state) -> jax.Array:
    """The learning rate in the optimizer state's injected hyper-parameters (make_optimizer), NaN if
    the optimizer has none."""
    def find(s):
        if isinstance(s, tuple) and hasattr(s, "hyperparams") and "learning_rate" in s.hyperparams:
            return s.hyperparams["learning_rate"]
        if isinstance(s, tuple):
            for item in s:
                found = find(item)
                if found is not None:
                    return found
        return None

    lr = find(opt_state)
    return jnp.asarray(jnp.nan if lr is None else lr, jnp.float32)


def activation_stats(captured: dict, mask: jax.Array) -> dict[str, jax.Array]:
    """Mean, std and per-unit "alive" of every sown activation [batch, ..., units], valid rows only."""
    out = {}
    for path, value in jax.tree_util.tree_leaves_with_path(captured):
        name = path_name(p for p in path if getattr(p, "idx", None) is None)  # drop sow's tuple index
        h = value.astype(jnp.float32).reshape(value.shape[0], -1, value.shape[-1])  # [batch, positions, units]
        w = mask.astype(jnp.float32)[:, None, None]
        count = jnp.maximum(jnp.sum(w) * h.shape[1] * h.shape[2], 1.0)
        mean = jnp.sum(h * w) / count
        var = jnp.maximum(jnp.sum(jnp.square(h) * w) / count - jnp.square(mean), 0.0)
        out[f"act_mean/{name}"] = mean
        out[f"act_std/{name}"] = jnp.sqrt(var)
        out[f"alive/{name}"] = jnp.any((h != 0) & (w > 0), axis=(0, 1))
    return out


def step_diagnostics(grads, updates, params, new_params, captured: dict | None, mask: jax.Array,
                     opt_state) -> dict[str, jax.Array]:
    """One step's diagnostics (see the module docstring); `opt_state` is the state after the update."""
    out = {"global_grad_norm": jnp.sqrt(sum(jnp.sum(jnp.square(g.astype(jnp.float32)))
                                            for g in jax.tree_util.tree_leaves(grads))),
           "learning_rate": applied_learning_rate(opt_state)}
    before, after = _norms(params), _norms(new_params)
    out.update({f"grad_norm/{k}": v for k, v in _norms(grads).items()})
    # Relative to the larger of the norms before and after the step: a parameter that starts at zero
    # (a bias) then has ratio 1 on its first step instead of an infinite one.
    out.update({f"update_ratio/{k}": v / jnp.maximum(jnp.maximum(before[k], after[k]), 1e-12)
                for k, v in _norms(updates).items()})
    out.update({f"param_norm/{k}": v for k, v in after.items()})
    if captured:
        out.update(activation_stats(captured, mask))
    return out


def epoch_diagnostics(per_step: dict[str, jax.Array]) -> dict[str, jax.Array]:
    """[steps, ...] per name -> one value per epoch: means over steps; alive -> dead_fraction."""
    out = {}
    for k, v in per_step.items():
        if k.startswith("alive/"):
            out["dead_fraction/" + k.removeprefix("alive/")] = 1.0 - jnp.mean(jnp.any(v, axis=0).astype(jnp.float32))
        elif k.startswith("param_norm/"):
            out[k] = v[-1]  # at the end of the epoch
        else:
            out[k] = jnp.mean(v, axis=0)
    return out


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
