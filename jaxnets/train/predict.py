"""Inference: logits, probabilities and class predictions for single or stacked states."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxnets.train.state import TrainState


def check_x(state: TrainState, x, where: str = "x") -> np.ndarray:
    """Validate an input batch against the shape the model was initialised with."""
    x = np.asarray(x)
    if x.ndim < 1 or x.shape[1:] != tuple(state.input_shape):
        raise ValueError(
            f"{where} must have shape [batch, {', '.join(map(str, state.input_shape))}], got {x.shape}"
        )
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{where} contains NaN or inf")
    return x


def _logits(apply_fn, params, variables, x):
    return apply_fn({"params": params, **variables}, x, train=False)


def _logits_many(apply_fn, params, variables, x):
    return jax.vmap(lambda p, v: _logits(apply_fn, p, v, x))(params, variables)


# Evaluation runs each program a few times, so on CPU it compiles at LLVM -O1 (as training does):
# for a 20-layer CNN that roughly halves the compile at no measurable cost for a few calls.
# `make_predict_fn` (what throughput is measured on) keeps the default optimisation.
_EVAL_OPTIONS = {"xla_backend_optimization_level": 1}
_jits = {
    (many, cpu): jax.jit(_logits_many if many else _logits, static_argnames=("apply_fn",),
                         compiler_options=_EVAL_OPTIONS if cpu else None)
    for many in (False, True) for cpu in (False, True)
}


def predict_logits(state: TrainState, x) -> jax.Array:
    """x: [batch, ...] -> logits [batch, k] (or [members, batch, k] for a stacked state)."""
    x = jnp.asarray(check_x(state, x))
    fn = _jits[(state.num_members is not None, jax.default_backend() == "cpu")]
    return fn(state.apply_fn, state.params, state.variables, x)


def probabilities(logits) -> np.ndarray:
    """Logits [..., k] -> class probabilities [..., max(k, 2)]: a single logit is a binary σ."""
    logits = jnp.asarray(logits)
    if logits.shape[-1] == 1:
        p1 = jax.nn.sigmoid(logits)
        return np.asarray(jnp.concatenate([1 - p1, p1], axis=-1))
    return np.asarray(jax.nn.softmax(logits, axis=-1))


def predict_classes(state: TrainState, x) -> np.ndarray:
    """Class ids [batch] (or [members, batch])."""
    return probabilities(predict_logits(state, x)).argmax(-1)


def make_predict_fn(state: TrainState):
    """A compiled x -> logits for one (unstacked) state, without per-call host validation:
    what throughput measurements and serving loops call."""
    if state.num_members is not None:
        raise ValueError("make_predict_fn needs a single state; use member(state, i)")
    params, variables, apply_fn = state.params, state.variables, state.apply_fn
    return jax.jit(lambda x: apply_fn({"params": params, **variables}, x, train=False))
