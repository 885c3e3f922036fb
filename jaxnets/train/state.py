"""TrainState: everything a step reads and writes, as one pytree (vmappable, shardable, checkpointable)."""
from __future__ import annotations

import collections
import functools
from collections.abc import Callable, Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct
from jax.sharding import Mesh

from jaxnets import distributed
from jaxnets.runtime import tracing


@struct.dataclass
class TrainState:
    """step: int32 []; params / opt_state / variables (mutable collections such as batch_stats);
    rng: a raw uint32[2] key from which every step and epoch key is derived with `fold_in`, so a run
    resumed at epoch k draws exactly the same numbers as one never stopped. apply_fn: the model —
    the one source of truth that objectives, evaluation and prediction all apply. hyper: the
    objective's per-member settings ({"l2": [], "label_smoothing": []} …) set by a sweep, read by
    objectives in place of their fields (`objectives.setting`); empty otherwise.

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
    hyper: dict = struct.field(default_factory=dict)

    @property
    def num_members(self) -> int | None:
        """N for a stacked (vmapped) state, None for a single one."""
        return None if self.step.ndim == 0 else int(self.step.shape[0])


def _init(model: nn.Module, tx: optax.GradientTransformation, rng: jax.Array, x1: jax.Array) -> TrainState:
    init_key, dropout_key, state_key = jax.random.split(rng, 3)
    variables = dict(model.init({"params": init_key, "dropout": dropout_key}, x1, train=False))
    params = variables.pop("params")
    return TrainState(step=jnp.zeros((), jnp.int32), params=params, opt_state=tx.init(params), variables=variables,
                      rng=state_key, apply_fn=model.apply, tx=tx, input_shape=tuple(x1.shape[1:]))


# Compiled initialisers per (model, optimizer, sharding, shapes): a second create_states with the same
# shapes compiles nothing.
_INIT_PROGRAMS: collections.OrderedDict = collections.OrderedDict()
_INIT_PROGRAMS_SIZE = 64


def _init_many(model: nn.Module, tx: optax.GradientTransformation, keys: jax.Array, x1: jax.Array) -> TrainState:
    return jax.vmap(lambda k: _init(model, tx, k, x1))(keys)


def _seed_keys(seeds) -> np.ndarray:
    seeds = np.asarray(seeds)
    if seeds.ndim != 1 or seeds.size == 0:
        raise ValueError(f"seeds must be a non-empty 1-D sequence, got shape {seeds.shape}")
    if not np.issubdtype(seeds.dtype, np.integer) or seeds.min() < 0 or seeds.max() >= 2**32:
        raise ValueError(f"seeds must be integers in [0, 2**32), got {seeds.tolist()}")
    return seeds.astype(np.uint32)


def _first_example(sample_x) -> np.ndarray:
    x = np.asarray(sample_x)
    if x.ndim < 1 or x.shape[0] == 0:
        raise ValueError(f"sample_x must be a batch [n >= 1, ...] of inputs, got shape {x.shape}")
    return x[:1]


def prng_keys(seeds: np.ndarray) -> np.ndarray:
    """Raw keys [n, 2] equal to `jax.vmap(jax.random.PRNGKey)(seeds)`. For the default Threefry
    implementation a key is [seed >> 32, seed & 0xFFFFFFFF], built on the host (no program to compile)."""
    if jax.config.jax_default_prng_impl != "threefry2x32":
        return np.asarray(jax.vmap(jax.random.PRNGKey)(jnp.asarray(seeds, jnp.uint32)))
    return np.stack([np.zeros(len(seeds), np.uint32), seeds.astype(np.uint32)], axis=1)


def _initialise(model, tx, keys: np.ndarray, sample_x, mesh: Mesh, sharding) -> TrainState:
    rep = distributed.replicated(mesh)
    x1 = distributed.put(_first_example(sample_x), rep)
    keys = distributed.put(keys, rep)
    key = (model, tx, sharding, keys.shape, x1.shape, str(x1.dtype))
    program = _INIT_PROGRAMS.get(key)
    if program is None:
        with tracing():
            lowered = jax.jit(_init_many, static_argnums=(0, 1), out_shardings=sharding).lower(model, tx, keys, x1)
        # On CPU the initialiser (it runs once) compiles without LLVM optimisation: the same integer
        # random bits, and the four seed MLPs built 22-30 % faster, `cnn_vs_mlp --quick` 41 -> 26 s.
        options = distributed.cpu_compiler_options(sharding.mesh, xla_backend_optimization_level=0)
        program = _INIT_PROGRAMS[key] = lowered.compile(compiler_options=options)
        while len(_INIT_PROGRAMS) > _INIT_PROGRAMS_SIZE:
            _INIT_PROGRAMS.popitem(last=False)
    return program(keys, x1)


def create_states(model: nn.Module, tx: optax.GradientTransformation, seeds: Sequence[int],
                  sample_x, mesh: Mesh | None = None) -> TrainState:
    """N independently initialised members stacked on a leading axis (one per seed), initialised
    straight into their sharding: split over the mesh's `members` axis when N divides evenly, else
    replicated (the engine pads the member axis itself). sample_x: [batch, ...] (shape and dtype only).
    mesh: default `distributed.default_mesh(N)`."""
    seeds = _seed_keys(seeds)
    mesh = mesh if mesh is not None else distributed.default_mesh(len(seeds))
    if len(seeds) % mesh.shape[distributed.MEMBERS] == 0:
        return _initialise(model, tx, prng_keys(seeds), sample_x, mesh, distributed.member_sharding(mesh))
    # Uneven: initialise on one device, then copy to every device. The same initialiser run
    # replicated over a 2-device CPU mesh deadlocked in XLA for an embedding RNN (3 seeds).
    one = distributed.make_mesh(1, 1, devices=[mesh.devices.flat[0]])
    state = _initialise(model, tx, prng_keys(seeds), sample_x, one, distributed.replicated(one))
    return jax.device_put(state, distributed.replicated(mesh))


def create_state(model: nn.Module, tx: optax.GradientTransformation, rng: jax.Array, sample_x,
                 mesh: Mesh | None = None) -> TrainState:
    """Initialise one model (no member axis) from a raw key (`jax.random.PRNGKey(seed)`)."""
    mesh = mesh if mesh is not None else distributed.default_mesh(1)
    keys = np.asarray(rng, np.uint32).reshape(1, -1)
    stacked = _initialise(model, tx, keys, sample_x, mesh, distributed.replicated(mesh))
    return jax.tree_util.tree_map(lambda a: a[0], stacked)


@functools.partial(jax.jit, static_argnums=1)
def _member(state: TrainState, i: int) -> TrainState:
    # One program for the whole tree (an eager a[i] per leaf compiles a program per leaf shape).
    return jax.tree_util.tree_map(lambda a: a[i], state)


def member(state: TrainState, i: int) -> TrainState:
    """Member i of a stacked state, as a single state."""
    if state.num_members is None:
        raise ValueError("member() needs a stacked state (leading member axis)")
    if not -state.num_members <= i < state.num_members:
        raise IndexError(f"member {i} of a state with {state.num_members} members")
    return _member(state, int(i) % state.num_members)


def stack(states: Sequence[TrainState]) -> TrainState:
    """Stack single states (same structure) on a new leading member axis."""
    return jax.tree_util.tree_map(lambda *a: jnp.stack(a), *states)
