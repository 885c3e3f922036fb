"""The one compile site of training: `jax.jit(program, in_shardings, out_shardings, donate_argnums)`
lowered from abstract shapes and cached, so a second fit with the same shapes compiles nothing.

The training program is the epoch chunk of `epoch.py`, vmapped over the member axis with
`spmd_axis_name="members"` (members split across the mesh's `members` devices) and each batch
constrained to the `data` axis (XLA inserts the gradient reduction). The carry is donated: the
state is updated in place instead of living twice in memory. Logs come back replicated, so every
process (multi-host too) can read them. Two small programs are compiled with it: `start` (pad the
member axis to the mesh, fresh carry) and `finish` (best parameters, padding cut).
"""
from __future__ import annotations

import collections
import dataclasses
import threading
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from jaxnets import distributed
from jaxnets.runtime import tracing
from jaxnets.train.epoch import LoopCarry, make_run_chunk, member_carry
from jaxnets.train.state import TrainState


def state_sharding(n: int, mesh: Mesh):
    """Where an N-member state lives: split over `members` when N divides evenly, else replicated."""
    if n % mesh.shape[distributed.MEMBERS] == 0:
        return distributed.member_sharding(mesh)
    return distributed.replicated(mesh)


def _pad(tree, members: int):
    """Repeat the last member until there are `members` (padding copies never reach results)."""
    def pad(a):
        extra = members - a.shape[0]
        return a if extra == 0 else jnp.concatenate([a, jnp.repeat(a[-1:], extra, axis=0)])
    return jax.tree_util.tree_map(pad, tree)


def _cut(tree, n: int):
    return jax.tree_util.tree_map(lambda a: a[:n], tree)


@dataclasses.dataclass(frozen=True)
class FitProgram:
    """The compiled programs of one fit: `start(state)` -> carry (padded to `members`);
    `program(carry, train, val, epoch_ids)` -> (carry', logs as NumPy [members, chunk, ...]), the
    carry passed in donated (invalid afterwards); `finish(carry)` -> the final N-member state."""

    chunk: Any
    start: Any
    finish: Any
    config: Any
    mesh: Mesh
    n: int  # members of the state
    members: int  # padded member count the programs were compiled for
    compile_seconds: float

    def __call__(self, carry: LoopCarry, train: dict, val: dict | None, epoch_ids: np.ndarray):
        ids = distributed.put(np.asarray(epoch_ids, np.int32), distributed.replicated(self.mesh))
        carry, logs = self.chunk(carry, train, val, ids)
        return carry, jax.device_get(logs)


def _abstract(tree, sharding):
    return jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(np.shape(a), a.dtype, sharding=sharding), tree)


def _signature(tree) -> tuple:
    leaves, treedef = jax.tree_util.tree_flatten(tree)
    return treedef, tuple((tuple(np.shape(a)), str(a.dtype)) for a in leaves)


_CACHE: collections.OrderedDict = collections.OrderedDict()
_CACHE_SIZE = 32
_LOCK = threading.Lock()


def program_config(config):
    """The fields of a FitConfig that shape the program (progress bars and what the host does on
    divergence do not)."""
    return dataclasses.replace(config, progress=True, on_divergence="raise")


def compile_program(state: TrainState, objective, train: dict, val: dict | None, config, mesh: Mesh) -> FitProgram:
    """Compile (or fetch from the cache) the programs of a fit of this N-member state on `mesh`.
    state: leaves [N, ...] (arrays or ShapeDtypeStructs); train / val: dicts of arrays."""
    n = state.num_members
    key = (objective, program_config(config), val is not None, mesh, _signature(state), _signature(train),
           _signature(val))
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    t0 = time.perf_counter()
    members = distributed.padded_members(n, mesh)
    by_member, rep, placed = distributed.member_sharding(mesh), distributed.replicated(mesh), state_sharding(n, mesh)
    restore_best = config.restore_best  # resolved by the caller: a bool

    def start(state):
        # Copies: the carry is donated later, and must never share buffers with the caller's state.
        state = jax.tree_util.tree_map(jnp.copy, _pad(state, members))
        stopped = jnp.arange(members) >= n  # padding members: stopped
        return jax.vmap(lambda s, stop: member_carry(s, stop, config.reduce_on_plateau))(state, stopped)

    def finish(carry):
        final = carry.state
        if restore_best:
            final = final.replace(params=carry.best_params, variables=carry.best_variables)
        return _cut(final, n)

    data = mesh.shape[distributed.DATA]
    constrain = lambda b: b
    if data > 1:
        constrain = lambda b: jax.lax.with_sharding_constraint(b, distributed.batch_sharding(mesh))
    one = make_run_chunk(objective, config, val is not None, data_multiple=data, constrain=constrain)
    run = jax.vmap(one, in_axes=(0, None, None, None), spmd_axis_name=distributed.MEMBERS)

    abstract_state = _abstract(state, placed)
    ids = jax.ShapeDtypeStruct((config.chunk,), jnp.int32, sharding=rep)
    with tracing():
        carry = jax.eval_shape(start, abstract_state)
        lowered = [
            jax.jit(run, in_shardings=(by_member, rep, rep, rep), out_shardings=(by_member, rep), donate_argnums=0)
            .lower(_abstract(carry, by_member), _abstract(train, rep), _abstract(val, rep), ids),
            jax.jit(start, in_shardings=placed, out_shardings=placed).lower(abstract_state),
            jax.jit(finish, in_shardings=by_member, out_shardings=placed).lower(_abstract(carry, by_member)),
        ]
    # On CPU, LLVM -O1 for training (the four seed MLPs built 11-18 % faster than at -O2, docs/speed.md),
    # -O0 for start / finish, which only copy and select.
    chunk, start_c, finish_c = (lw.compile(compiler_options=distributed.cpu_compiler_options(
        mesh, xla_backend_optimization_level=level)) for lw, level in zip(lowered, (1, 0, 0)))
    # `start` computes in the input's placement, then reshards: the member sharding as its output made
    # XLA's partitioner spend seconds on the padded concatenates (5-seed ResNet, 2 devices: 6.4 vs 0.7 s).
    fp = FitProgram(chunk, lambda s: jax.device_put(start_c(s), by_member), finish_c, config, mesh, n, members,
                    time.perf_counter() - t0)
    with _LOCK:
        _CACHE[key] = fp
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return fp


# Checkpoints hold the N real members: cut the padding to save, pad again after a restore (only
# with a checkpointer, so compiled on first use).
_small: dict = {}


def _small_jit(name: str, fn, mesh: Mesh, out_sharding):
    key = (name, mesh, out_sharding)
    if key not in _small:
        _small[key] = jax.jit(fn, static_argnums=1, out_shardings=out_sharding)
    return _small[key]


def pad_carry(carry: LoopCarry, members: int, mesh: Mesh) -> LoopCarry:
    """An N-member carry (e.g. restored from a checkpoint) padded to `members`; padding is stopped."""
    def fn(carry, members):
        padded = _pad(carry, members)
        return padded.replace(stopped=padded.stopped | (jnp.arange(members) >= carry.stopped.shape[0]))
    padded = _small_jit("pad", fn, mesh, state_sharding(carry.stopped.shape[0], mesh))(carry, members)
    return jax.device_put(padded, distributed.member_sharding(mesh))  # resharded after: see `start`


def unpad(tree, n: int, mesh: Mesh):
    """The first n members of a padded tree."""
    return _small_jit("unpad", _cut, mesh, state_sharding(n, mesh))(tree, n)
