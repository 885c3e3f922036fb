"""The pure epoch program: one member's chunk of epochs as `lax.scan`, with early stopping, best
parameters and the NaN guard carried per member on device. No host work, no shardings (those are
`compile.py`'s); `data_multiple` pads each batch to a multiple of the data axis, masked.
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import struct

from jaxnets.train.diagnostics import epoch_diagnostics
from jaxnets.train.shuffle import batch_rows, epoch_key, epoch_order, num_batches
from jaxnets.train.state import TrainState
from jaxnets.train.step import make_eval_step, make_train_step


@struct.dataclass
class LoopCarry:
    """Per-member loop state carried across epochs and host calls (and checkpointed whole).
    best_params / best_variables follow the best epoch only when they will be restored
    (`FitConfig.restore_best`); otherwise they stay at the initial values."""

    state: TrainState
    best_params: Any
    best_variables: Any
    best_loss: jax.Array
    best_epoch: jax.Array
    wait: jax.Array
    stopped: jax.Array
    diverged: jax.Array
    plateau: Any = None  # optax's ReduceLROnPlateauState under FitConfig(reduce_on_plateau=...)


def member_carry(state: TrainState, stopped: jax.Array, plateau=None) -> LoopCarry:
    """A fresh carry for one member (vmapped by the caller). stopped: True for padding members;
    plateau: FitConfig.reduce_on_plateau (a `Plateau`) or None."""
    return LoopCarry(state=state, best_params=state.params, best_variables=state.variables,
                     best_loss=jnp.asarray(jnp.inf, jnp.float32), best_epoch=jnp.asarray(-1, jnp.int32),
                     wait=jnp.asarray(0, jnp.int32), stopped=stopped, diverged=jnp.asarray(False),
                     plateau=None if plateau is None else plateau.transform().init(None))


def init_carry(state: TrainState, plateau=None) -> LoopCarry:
    """A fresh carry for a stacked state [N, ...] (what checkpoints hold; a template to restore into)."""
    return jax.vmap(lambda s, stop: member_carry(s, stop, plateau))(state, jnp.zeros(state.step.shape[0], bool))


def _gather(data: dict, order, step, batch_size: int, data_multiple: int, constrain) -> dict:
    """Batch `step` of the epoch (`order`, None: in order): its rows of every array,
    gathered inside the step so memory never holds more than a batch, placed by `constrain` (the
    data-axis sharding)."""
    n = jax.tree_util.tree_leaves(data)[0].shape[0]
    idx, mask = batch_rows(order, step, n, batch_size, data_multiple)
    return constrain({**jax.tree_util.tree_map(lambda a: a[idx], data), "mask": mask})


def _sum0(tree):
    return jax.tree_util.tree_map(lambda a: jnp.sum(a, axis=0), tree)


def evaluate_sums(objective, state: TrainState, data: dict, batch_size: int = 4096, data_multiple: int = 1,
                  constrain=lambda b: b) -> dict:
    """Metric sums of one (unstacked) state over a whole dataset, in batches of `batch_size`."""
    eval_step = make_eval_step(objective)
    n = jax.tree_util.tree_leaves(data)[0].shape[0]
    batch = min(batch_size, n)
    gather = lambda s: _gather(data, None, s, batch, data_multiple, constrain)
    if num_batches(n, batch) == 1:  # one batch: no loop to compile
        return eval_step(state, gather(0))
    _, sums = jax.lax.scan(lambda c, s: (c, eval_step(state, gather(s))), None, jnp.arange(num_batches(n, batch)))
    return _sum0(sums)


def _all_finite(tree) -> jax.Array:
    """True iff no leaf holds a NaN or inf: x * 0 is NaN exactly for non-finite x, so one fused sum
    over all leaves decides it."""
    leaves = [jnp.ravel(a) for a in jax.tree_util.tree_leaves(tree)]
    return jnp.isfinite(jnp.sum(jnp.concatenate(leaves) * 0)) if leaves else jnp.asarray(True)


# Small datasets draw a whole chunk's epoch orders at once: drawing an order costs a few small
# kernels per epoch whatever n is, which dominated short epochs (the text's four MLPs trained alone:
# 1.34 -> 0.94 s). Larger data draw each epoch's order in its epoch, so memory holds one order.
CHUNK_ORDERS_MAX_EXAMPLES = 4096
CHUNK_ORDERS_MAX = 1 << 20  # epochs x examples (4 MiB of int32)


def make_run_chunk(objective, config, has_val: bool, data_multiple: int = 1, constrain=lambda b: b):
    """One member's program for a chunk of epochs: (carry, train, val, epoch_ids [chunk]) -> (carry, logs).

    Epoch ids past `config.epochs` are skipped with `lax.cond` (its predicate is the same for every
    member, so it stays a real branch under vmap): every host call reuses one compiled program.
    logs per epoch: train / val metric sums, ran (the epoch was applied), stopped, diverged, best_epoch,
    and with `config.diagnostics` the epoch's diagnostics (`diagnostics.epoch_diagnostics`).
    """
    train_step = make_train_step(objective, diagnostics=config.diagnostics)
    tree_where = lambda c, a, b: jax.tree_util.tree_map(lambda x, y: jnp.where(c, x, y), a, b)
    # Best parameters are only read back when restoring them: otherwise no select per parameter.
    track_best = config.restore_best  # resolved: a bool
    plateau_tx = None if config.reduce_on_plateau is None else config.reduce_on_plateau.transform()
    on_val = has_val and config.monitor == "val_loss"

    def epoch_fn(carry: LoopCarry, x, train, val):
        epoch, order = x  # order: this epoch's order when the chunk's were drawn at once, else None
        st = carry.state
        n = jax.tree_util.tree_leaves(train)[0].shape[0]
        if config.shuffle and order is None:
            order = epoch_order(epoch_key(st.rng, epoch), n)
        steps = jnp.arange(num_batches(n, config.batch_size))

        def step(s, i):
            batch = _gather(train, order, i, config.batch_size, data_multiple, constrain)
            if carry.plateau is not None:  # this epoch's learning-rate scale (see train_step)
                batch["lr_scale"] = carry.plateau.scale
            out = train_step(s, batch)
            return out[0], out[1:]

        new, (sums, *diag) = jax.lax.scan(step, st, steps)
        train_sums = _sum0(sums)
        train_loss = train_sums["loss_sum"] / jnp.maximum(train_sums["count"], 1.0)
        finite = jnp.isfinite(train_loss) & _all_finite(new.params)
        if has_val:
            val_sums = evaluate_sums(objective, new, val, config.eval_batch_size, data_multiple, constrain)
            monitor = val_sums["loss_sum"] / jnp.maximum(val_sums["count"], 1.0) if on_val else train_loss
        else:
            val_sums = jax.tree_util.tree_map(lambda a: jnp.full_like(a, jnp.nan), train_sums)
            monitor = train_loss
        frozen = carry.stopped | carry.diverged
        ok = finite & ~frozen
        improved = ok & (monitor < carry.best_loss - config.min_delta)
        wait = jnp.where(improved, 0, jnp.where(ok, carry.wait + 1, carry.wait))
        stopped = carry.stopped
        if config.patience is not None:
            stopped = stopped | (wait >= config.patience)
        carry = LoopCarry(
            state=tree_where(ok, new, st),
            best_params=tree_where(improved, new.params, carry.best_params) if track_best else carry.best_params,
            best_variables=(tree_where(improved, new.variables, carry.best_variables) if track_best
                            else carry.best_variables),
            best_loss=jnp.where(improved, monitor, carry.best_loss),
            best_epoch=jnp.where(improved, epoch, carry.best_epoch),
            wait=wait,
            stopped=stopped,
            diverged=carry.diverged | (~finite & ~frozen),
            plateau=None if carry.plateau is None else tree_where(
                ok, plateau_tx.update((), carry.plateau, value=monitor)[1], carry.plateau),
        )
        logs = {"train": train_sums, "val": val_sums, "ran": ok, "stopped": carry.stopped,
                "diverged": carry.diverged, "best_epoch": carry.best_epoch}
        if diag:
            logs["diagnostics"] = epoch_diagnostics(diag[0])
        if carry.plateau is not None:  # the scale the next epoch trains with
            logs["lr_scale"] = jnp.asarray(carry.plateau.scale, jnp.float32)
        return carry, logs

    def run_chunk(carry: LoopCarry, train: dict, val: dict | None, epoch_ids: jax.Array):
        n = jax.tree_util.tree_leaves(train)[0].shape[0]
        orders = None
        if config.shuffle and n <= CHUNK_ORDERS_MAX_EXAMPLES and epoch_ids.shape[0] * n <= CHUNK_ORDERS_MAX:
            # Every epoch's order of the chunk in one vectorised pass: per epoch, the permutation's
            # rounds cost a few small kernels each, which dominated small models' epochs.
            orders = jax.vmap(lambda e: epoch_order(epoch_key(carry.state.rng, e), n))(epoch_ids)
        xs = (epoch_ids, orders)
        if config.epochs % config.chunk == 0:  # every chunk is full: no branch to compile
            return jax.lax.scan(lambda c, x: epoch_fn(c, x, train, val), carry, xs)

        def body(c, x):
            shapes = jax.eval_shape(lambda: epoch_fn(c, x, train, val)[1])
            skip = lambda c: (c, jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), shapes))
            return jax.lax.cond(x[0] < config.epochs, lambda c: epoch_fn(c, x, train, val), skip, c)

        return jax.lax.scan(body, carry, xs)

    return run_chunk
