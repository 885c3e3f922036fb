"""Epoch shuffling: which examples form each mini-batch, as a pure function of (rng, epoch, step).

An epoch's order is a keyed pseudo-random bijection of [0, n) (an 8-round Feistel network with
cycle walking), evaluated for the rows of one step at a time: each step computes its own batch's
indices from (epoch key, step number), so the training program never holds an order of n indices
(its memory does not grow with the dataset) and sorts nothing (`jax.random.permutation` sorts n
random keys each epoch, which XLA:CPU does slowly). The last partial batch is padded with the
order's first examples and masked, never dropped; rows added to make a batch divisible by the data
axis are masked too.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp

_SHUFFLE_STREAM = 0x5EED  # epoch shuffling keys: fold_in(fold_in(rng, stream), epoch)
ROUNDS = 8  # Feistel rounds: with 4, orders of ~10 examples were measurably non-uniform (chi-square)


def epoch_key(rng: jax.Array, epoch) -> jax.Array:
    """The shuffling key of one epoch: a pure function of the member's rng and the epoch number, so
    a run resumed at any epoch shuffles exactly like an uninterrupted one."""
    return jax.random.fold_in(jax.random.fold_in(rng, _SHUFFLE_STREAM), epoch)


def round_keys(key: jax.Array) -> jax.Array:
    """uint32 [ROUNDS]: the Feistel round keys of one epoch's permutation."""
    return jax.random.bits(key, (ROUNDS,), jnp.uint32)


def _mix(x: jax.Array, k: jax.Array) -> jax.Array:
    """A keyed 32-bit hash (the "lowbias32" finaliser of x ^ k): every input bit flips each output
    bit with probability ~1/2."""
    x = x ^ k
    x = (x ^ (x >> 16)) * jnp.uint32(0x7FEB352D)
    x = (x ^ (x >> 15)) * jnp.uint32(0x846CA68B)
    return x ^ (x >> 16)


def permute(keys: jax.Array, positions: jax.Array, n: int) -> jax.Array:
    """The images of `positions` (ints in [0, n)) under the bijection of [0, n) keyed by `keys`.

    A balanced Feistel network permutes [0, 4^h) (4^h >= n); values that land outside [0, n) are
    permuted again until inside ("cycle walking": a bijection of [0, n), < 4 rounds expected)."""
    half = max(1, math.ceil(math.log2(max(n, 2)) / 2))
    low = jnp.uint32((1 << half) - 1)

    def feistel(x):
        left, right = x >> half, x & low
        for i in range(ROUNDS):
            left, right = right, left ^ (_mix(right, keys[i]) & low)
        return (left << half) | right

    x = feistel(positions.astype(jnp.uint32))
    x = jax.lax.while_loop(lambda x: jnp.any(x >= n), lambda x: jnp.where(x >= n, feistel(x), x), x)
    return x.astype(jnp.int32)


def padded_batch(batch_size: int, multiple: int = 1) -> int:
    """Rows per step: batch_size rounded up to a multiple of the data axis (extra rows are masked)."""
    return math.ceil(batch_size / multiple) * multiple


def num_batches(n: int, batch_size: int) -> int:
    return math.ceil(n / batch_size)


def batch_rows(keys: jax.Array | None, step, n: int, batch_size: int, multiple: int = 1):
    """Step `step` of an epoch: (indices [padded_batch] into n examples, mask [padded_batch] float).
    keys: the epoch's `round_keys`, or None for the identity order (evaluation, shuffle=False)."""
    cols = jnp.arange(padded_batch(batch_size, multiple))
    positions = step * batch_size + cols % batch_size
    mask = ((cols < batch_size) & (positions < n)).astype(jnp.float32)
    positions = positions % n  # padding: the order's first examples (real rows, weight 0)
    idx = positions.astype(jnp.int32) if keys is None else permute(keys, positions, n)
    return idx, mask


def batch_indices(key: jax.Array | None, n: int, batch_size: int, shuffle: bool, multiple: int = 1):
    """A whole epoch at once: indices [n_batches, padded_batch] and the mask (for tests and tools;
    the training program computes one step's rows at a time with `batch_rows`)."""
    keys = round_keys(key) if shuffle else None
    return jax.vmap(lambda s: batch_rows(keys, s, n, batch_size, multiple))(jnp.arange(num_batches(n, batch_size)))
