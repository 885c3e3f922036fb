"""TrainState: everything a step reads and writes, as one pytree (vmappable, checkpointable)."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from jaxnets.runtime import paused_gc


@struct.dataclass
class TrainState:
    """step: int32 []; params / opt_state / variables (mutable collections such as batch_stats);
    rng: a raw uint32[2] key from which every step and epoch key is derived with `fold_in`, so a run
    resumed at epoch k draws exactly the same numbers as one never stopped.

    With a leading member axis on every leaf the same class holds N seeds / hyper-parameter settings.
    """

    step: jax.Array
    params: Any
    opt_state: Any
    variables: Any
    rng: jax.Array
    apply_fn: Callable = struct.field(pytree_node=False)
    tx: optax.GradientTransformation = struct.field(pytree_node=False)
    input_shape: tuple = struct.field(pytree_node=False, default=())

    @property
    def num_members(self) -> int | None:
        """N for a stacked (vmapped) state, None for a single one."""
        return None if self.step.ndim == 0 else int(self.step.shape[0])


# Initialisation runs once, but its threefry draws compile slowly (~0.1 s per kernel at XLA:CPU's
# default optimisation level). Compiled unoptimised it takes 5-8x less time, and the integer
# random bits are the same; we always init this way, so results stay deterministic. The program is
# small: splitting its LLVM module for parallel code generation costs more than it saves (the seed's
# four MLPs: 1.01 -> 0.89 s to initialise).
_INIT_COMPILER_OPTIONS = {"xla_backend_optimization_level": 0, "xla_cpu_parallel_codegen_split_count": 1}


def _init(model: nn.Module, tx: optax.GradientTransformation, rng: jax.Array, sample_x) -> TrainState:
    sample_x = jnp.asarray(sample_x)
    init_key, dropout_key, state_key = jax.random.split(rng, 3)
    variables = model.init({"params": init_key, "dropout": dropout_key}, sample_x[:1], train=False)
    variables = dict(variables)
    params = variables.pop("params")
    return TrainState(
        step=jnp.zeros((), jnp.int32),
        params=params,
        opt_state=tx.init(params),
        variables=variables,
        rng=state_key,
        apply_fn=model.apply,
        tx=tx,
        input_shape=tuple(sample_x.shape[1:]),
    )


def _init_many(model: nn.Module, tx: optax.GradientTransformation, keys: jax.Array, x1: jax.Array) -> TrainState:
    if keys.shape[0] == 1:
        # One member: no vmap to trace (the seed's four MLPs lower 0.08-0.12 s faster); the same
        # numbers, since every Threefry draw depends only on its own key.
        return jax.tree_util.tree_map(lambda a: a[None], _init(model, tx, keys[0], x1))
    return jax.vmap(lambda k: _init(model, tx, k, x1))(keys)


# Module-level jits with model and optimizer static (both hash by value): a second create_states for
# the same model, optimizer and shapes reuses the compiled initialiser instead of compiling it again.
_init_many_cpu = jax.jit(_init_many, static_argnums=(0, 1), compiler_options=_INIT_COMPILER_OPTIONS)
_init_many_default = jax.jit(_init_many, static_argnums=(0, 1))


def _first_example(sample_x) -> np.ndarray:
    # Host-side slice: slicing a NumPy array compiles nothing (a cold start compiles every eager op).
    return np.asarray(sample_x[:1] if isinstance(sample_x, jax.Array) else np.asarray(sample_x)[:1])


def _init_jit():
    return _init_many_cpu if jax.default_backend() == "cpu" else _init_many_default


def _initialise(model, tx, keys, sample_x) -> TrainState:
    x1 = _first_example(sample_x)
    with paused_gc():
        return _init_jit()(model, tx, keys, x1).replace(apply_fn=model.apply, tx=tx, input_shape=tuple(x1.shape[1:]))


def _seed_keys(seeds) -> jax.Array:
    seeds = np.asarray(seeds)
    if seeds.ndim != 1 or seeds.size == 0:
        raise ValueError(f"seeds must be a non-empty 1-D sequence, got shape {seeds.shape}")
    if not np.issubdtype(seeds.dtype, np.integer) or seeds.min() < 0 or seeds.max() >= 2**32:
        raise ValueError(f"seeds must be integers in [0, 2**32), got {seeds.tolist()}")
    return prng_keys(seeds)


def create_states(
    model: nn.Module, tx: optax.GradientTransformation, seeds: Sequence[int] | jax.Array, sample_x
) -> TrainState:
    """N independently initialised members stacked on a leading axis (one per seed), built by vmap."""
    return _initialise(model, tx, _seed_keys(seeds), sample_x)


@dataclasses.dataclass(frozen=True)
class LoweredStates:
    """`create_states` in two halves: tracing and lowering the initialiser (Python, holds the GIL),
    then compiling and running it (`run`, XLA: releases the GIL). A caller building several models
    lowers the next one while this one compiles on another thread. `shapes` is the state's structure
    (ShapeDtypeStruct leaves), enough to lower the training program (`lower_fit`) before `run`."""

    lowered: Any
    keys: jax.Array
    x1: np.ndarray
    shapes: TrainState

    def run(self) -> TrainState:
        """Compile and run the initialiser: the same numbers as `create_states`."""
        state = self.lowered.compile()(self.keys, self.x1)
        return state.replace(apply_fn=self.shapes.apply_fn, tx=self.shapes.tx, input_shape=self.shapes.input_shape)


def lower_states(model: nn.Module, tx: optax.GradientTransformation, seeds: Sequence[int] | jax.Array,
                 sample_x) -> LoweredStates:
    """Trace and lower the initialiser of `create_states(model, tx, seeds, sample_x)` without compiling it."""
    keys, x1 = _seed_keys(seeds), _first_example(sample_x)
    with paused_gc():
        lowered = _init_jit().lower(model, tx, keys, x1)
    shapes = lowered.out_info.replace(apply_fn=model.apply, tx=tx, input_shape=tuple(x1.shape[1:]))
    return LoweredStates(lowered, keys, x1, shapes)


def prng_keys(seeds: np.ndarray) -> jax.Array:
    """Raw keys [n, 2] equal to `jax.vmap(jax.random.PRNGKey)(seeds)`. For the default Threefry
    implementation a key is [seed >> 32, seed & 0xFFFFFFFF], built on the host without compiling."""
    if jax.config.jax_default_prng_impl != "threefry2x32":
        return jax.vmap(jax.random.PRNGKey)(jnp.asarray(seeds, jnp.uint32))
    return jax.device_put(np.stack([np.zeros(len(seeds), np.uint32), seeds.astype(np.uint32)], axis=1))


def create_state(model: nn.Module, tx: optax.GradientTransformation, rng: jax.Array, sample_x) -> TrainState:
    """Initialise one model from a key. sample_x: [batch, ...] (only its shape and dtype are used)."""
    return jax.tree_util.tree_map(lambda a: a[0], _initialise(model, tx, jnp.asarray(rng)[None], sample_x))


def member(state: TrainState, i: int) -> TrainState:
    """Member i of a stacked state, as a single state."""
    if state.num_members is None:
        raise ValueError("member() needs a stacked state (leading member axis)")
    return jax.tree_util.tree_map(lambda a: a[i], state)


def stack(states: Sequence[TrainState]) -> TrainState:
    """Stack single states (same structure) on a new leading member axis."""
    return jax.tree_util.tree_map(lambda *a: jnp.stack(a), *states)
