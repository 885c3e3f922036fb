"""Epoch shuffling: which examples form each mini-batch, as a pure function of (rng, epoch).

An epoch's order is a keyed pseudo-random bijection of [0, n) ("swap-or-not"), computed inside the
program once per epoch with elementwise integer ops: unlike `jax.random.permutation` it sorts
nothing (XLA:CPU sorts slowly, and a sort's temporaries are several arrays of n), so the program's
temporary memory grows only by the order itself (4 bytes per example) and each step gathers just its
batch. The last partial batch is padded with the order's first examples and masked, never dropped;
rows added to make a batch divisible by the data axis are masked too.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp

_SHUFFLE_STREAM = 0x5EED  # epoch keys: hash(hash(rng, stream), epoch)
ROUNDS = 32  # swap-or-not rounds: positions test uniform (KS, chi-square) for n from 10 to 100k


def _mix(x: jax.Array, k: jax.Array) -> jax.Array:
    """A keyed 32-bit hash (the "lowbias32" finaliser of x ^ k): every input bit flips each output
    bit with probability ~1/2."""
    x = x ^ k
    x = (x ^ (x >> 16)) * jnp.uint32(0x7FEB352D)
    x = (x ^ (x >> 15)) * jnp.uint32(0x846CA68B)
    return x ^ (x >> 16)


def _hash(key: jax.Array, data) -> jax.Array:
    """uint32 [..., 2]: a 64-bit keyed hash of uint32 `data` [...] under key uint32 [2]."""
    data = jnp.asarray(data).astype(jnp.uint32)
    h0 = _mix(_mix(data, key[0]) ^ jnp.uint32(0x9E3779B9), key[1])
    h1 = _mix(_mix(data, key[1]) ^ jnp.uint32(0x85EBCA6B), h0)
    return jnp.stack([h0, h1], axis=-1)


# The keys come from integer hashes of the member's raw key, not from jax.random: a Threefry call
# inside the vmapped epoch compiled into 0.44 CPU-s of XLA:CPU time per model, the hashes into 0.17
# (the shuffle of the text's MLPs, 500 epochs), and the order is still a pure function of (rng, epoch).
def epoch_key(rng: jax.Array, epoch) -> jax.Array:
    """uint32 [2], the shuffling key of one epoch: a pure function of the member's raw key
    (uint32 [2]) and the epoch number, so a run resumed at any epoch shuffles exactly like an
    uninterrupted one."""
    return _hash(_hash(jnp.asarray(rng, jnp.uint32), _SHUFFLE_STREAM), epoch)


def round_keys(key: jax.Array) -> jax.Array:
    """uint32 [ROUNDS, 2]: one epoch's permutation (per round: the pairing key, the coin key)."""
    return _hash(key, jnp.arange(ROUNDS, dtype=jnp.uint32))


def permute(keys: jax.Array, positions: jax.Array, n: int) -> jax.Array:
    """The images of `positions` (ints in [0, n)) under the bijection of [0, n) keyed by `keys`.

    "Swap-or-not" (Hoang, Morris, Rogaway 2012): each round pairs x with K - x (mod n) and swaps the
    pair when a keyed coin of the pair says so. Every round is an involution of [0, n), so the
    composition is a bijection for any n, with no cycle walking and no loop of unknown length."""
    if n >= 2**31:
        raise ValueError(f"shuffling needs fewer than 2**31 examples, got {n}")

    pair_keys = keys[:, 0] % n  # K in [0, n): a division per round, not per element

    def round_(i, x):
        k = pair_keys[i]
        partner = jnp.where(x <= k, k - x, k + n - x)  # K - x (mod n)
        coin = _mix(jnp.maximum(x, partner), keys[i, 1]) & 1  # the same coin for both ends of a pair
        return jnp.where(coin == 1, partner, x)

    x = jax.lax.fori_loop(0, ROUNDS, round_, positions.astype(jnp.uint32))
    return x.astype(jnp.int32)


def padded_batch(batch_size: int, multiple: int = 1) -> int:
    """Rows per step: batch_size rounded up to a multiple of the data axis (extra rows are masked)."""
    return math.ceil(batch_size / multiple) * multiple


def num_batches(n: int, batch_size: int) -> int:
    return math.ceil(n / batch_size)


def epoch_order(key: jax.Array, n: int) -> jax.Array:
    """int32 [n]: the epoch's order of the n examples (the permutation of `key`)."""
    return permute(round_keys(key), jnp.arange(n, dtype=jnp.uint32), n)


def batch_rows(order: jax.Array | None, step, n: int, batch_size: int, multiple: int = 1):
    """Step `step` of an epoch: (indices [padded_batch] into n examples, mask [padded_batch] float).
    order: the epoch's `epoch_order`, or None for the examples in order (evaluation, shuffle=False)."""
    cols = jnp.arange(padded_batch(batch_size, multiple))
    positions = step * batch_size + cols % batch_size
    mask = ((cols < batch_size) & (positions < n)).astype(jnp.float32)
    positions = positions % n  # padding: the order's first examples (real rows, weight 0)
    return (positions if order is None else order[positions]).astype(jnp.int32), mask


def batch_indices(key: jax.Array | None, n: int, batch_size: int, shuffle: bool, multiple: int = 1):
    """A whole epoch at once: indices [n_batches, padded_batch] and the mask (for tests and tools;
    the training program gathers one step's rows at a time with `batch_rows`)."""
    order = epoch_order(key, n) if shuffle else None
    return jax.vmap(lambda s: batch_rows(order, s, n, batch_size, multiple))(jnp.arange(num_batches(n, batch_size)))
