"""Attention, as the text's chapter "Attention Mechanisms" defines it: Attention(Q, K, V) =
softmax(QKᵀ / √d_k) V, masks, multi-head attention and positional encodings.

Shapes: queries q [batch, q_len, heads, head_dim]; keys / values k, v [batch, kv_len, heads, head_dim];
weights [batch, heads, q_len, kv_len]; masks are boolean and broadcast to [batch, heads, q_len,
kv_len] (True = may attend). Masks are never additive floats: a 0/1 float mask added to the scores
(the usual pitfall) would shift them by 1 instead of removing keys, so a non-boolean mask is a TypeError.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array


# --- masks ------------------------------------------------------------------------------------------

def padding_mask(lengths, kv_len: int) -> Array:
    """lengths [batch] -> [batch, 1, 1, kv_len]: key j is visible iff j < lengths[b]."""
    lengths = jnp.asarray(lengths)
    return (jnp.arange(kv_len)[None, :] < lengths[:, None])[:, None, None, :]


def causal_mask(q_len: int, kv_len: int | None = None, offset: int = 0) -> Array:
    """[1, 1, q_len, kv_len]: query i (at absolute position offset + i) sees keys j <= offset + i."""
    kv_len = q_len if kv_len is None else kv_len
    return (jnp.arange(kv_len)[None, :] <= jnp.arange(q_len)[:, None] + offset)[None, None]


def combine_masks(*masks: Array | None) -> Array | None:
    """The logical AND of the masks given (None entries ignored); None when none is given."""
    masks = [m for m in masks if m is not None]
    if not masks:
        return None
    out = masks[0]
    for m in masks[1:]:
        out = jnp.logical_and(out, m)
    return out


def check_mask(mask, batch: int, heads: int, q_len: int, kv_len: int, where: str = "mask") -> None:
    """A boolean array that broadcasts to [batch, heads, q_len, kv_len]; TypeError / ValueError otherwise."""
    if mask is None:
        return
    if jnp.asarray(mask).dtype != jnp.bool_:
        raise TypeError(f"{where} must be boolean (True = may attend), got dtype {jnp.asarray(mask).dtype}: an "
                        f"additive 0/1 float mask shifts scores by 1 instead of removing keys; use mask > 0")
    want = (batch, heads, q_len, kv_len)
    shape = tuple(np.shape(mask))
    if len(shape) != 4 or any(s not in (1, w) for s, w in zip(shape, want)):
        raise ValueError(f"{where} of shape {shape} does not broadcast to [batch, heads, q_len, kv_len] = {want}")


# --- attention ---------------------------------------------------------------------------------------

def _check_qkv(q: Array, k: Array, v: Array) -> None:
    if q.ndim != 4 or k.ndim != 4 or v.ndim != 4:
        raise ValueError(f"attention expects q, k, v of rank 4 [batch, len, heads, head_dim], got shapes "
                         f"{q.shape}, {k.shape}, {v.shape}")
    if k.shape != v.shape or q.shape[0] != k.shape[0] or q.shape[2:] != k.shape[2:]:
        raise ValueError(f"attention: q {q.shape}, k {k.shape}, v {v.shape} disagree on batch, heads or head_dim")


@jax.custom_vjp
def softmax(scores: Array) -> Array:
    """jax.nn.softmax over the last axis with the textbook backward p·(g - Σ g·p): XLA:CPU ran the
    quotient-rule backward that JAX derives (through exp / Σ exp) 2x slower in attention."""
    return jax.nn.softmax(scores, axis=-1)


def _softmax_fwd(scores: Array):
    p = jax.nn.softmax(scores, axis=-1)
    return p, p


def _softmax_bwd(p: Array, g: Array):
    return (p * (g - jnp.sum(g * p, axis=-1, keepdims=True)),)


softmax.defvjp(_softmax_fwd, _softmax_bwd)


def _heads(q: Array, k: Array, v: Array) -> tuple[Array, Array, Array]:
    """[batch, len, heads, head_dim] -> heads-major [batch, heads, len, head_dim], q scaled by 1/√d_k.
    XLA:CPU runs both attention products as plain batched matmuls in this layout (in the other it
    spent about 2x the time), and the scale costs len x head_dim multiplies instead of len x len."""
    q = q / jnp.sqrt(jnp.asarray(q.shape[-1], q.dtype))
    return q.transpose(0, 2, 1, 3), k.transpose(0, 2, 1, 3), v.transpose(0, 2, 1, 3)


def _weights(qh: Array, kh: Array, mask: Array | None) -> Array:
    """softmax(qh khᵀ) in float32 (also under bfloat16 compute): [batch, heads, q_len, kv_len]."""
    scores = jnp.einsum("bhqd,bhkd->bhqk", qh, kh).astype(jnp.float32)
    if mask is not None:
        # The dtype's lowest finite value, not -inf: a fully masked row stays finite (no NaN), and a
        # masked key's exp underflows to exactly 0 in every row that has one key at least.
        scores = jnp.where(mask, scores, jnp.finfo(scores.dtype).min)
    return softmax(scores)


def _sees_a_key(mask: Array, kv_len: int, dtype) -> Array:
    """[..., q_len, 1]: 1 where the query sees at least one key. Rows without any get weight and output
    0 through this factor: a second `where` over the full weights doubled the time on XLA:CPU."""
    return jnp.broadcast_to(mask, (*mask.shape[:-1], kv_len)).any(axis=-1, keepdims=True).astype(dtype)


def scaled_dot_product_attention(q: Array, k: Array, v: Array, mask: Array | None = None) -> tuple[Array, Array]:
    """softmax(q kᵀ / √d_k) v, explicitly: -> (outputs [batch, q_len, heads, head_dim], weights
    [batch, heads, q_len, kv_len]). Masked keys get exactly zero weight; a query that sees no key
    at all gets zero weights and a zero output."""
    _check_qkv(q, k, v)
    check_mask(mask, q.shape[0], q.shape[2], q.shape[1], k.shape[1])
    qh, kh, vh = _heads(q, k, v)
    weights = _weights(qh, kh, mask).astype(v.dtype)
    out = jnp.einsum("bhqk,bhkd->bhqd", weights, vh)
    if mask is not None:
        seen = _sees_a_key(mask, k.shape[1], weights.dtype)
        weights, out = weights * seen, out * seen
    return out.transpose(0, 2, 1, 3), weights


def fused_attention(q: Array, k: Array, v: Array, mask: Array | None = None,
                    implementation: str | None = None) -> Array:
    """The same outputs through `jax.nn.dot_product_attention` (cuDNN's flash attention on a GPU when
    `implementation` allows), without weights for the caller. On the CPU, `implementation=None` runs
    the explicit path's maths with FlashAttention's backward instead, which XLA:CPU runs faster.
    Through jax.nn, rows whose every key is masked differ from the explicit path (uniform instead of
    zero weights)."""
    _check_qkv(q, k, v)
    check_mask(mask, q.shape[0], q.shape[2], q.shape[1], k.shape[1])
    if implementation is None and jax.default_backend() == "cpu":
        # XLA:CPU runs jax.nn's implementation about 2x slower than this one.
        out = _attend_heads(*_heads(q, k, v), mask)
        if mask is not None:
            out = out * _sees_a_key(mask, k.shape[1], out.dtype)
        return out.transpose(0, 2, 1, 3)
    return jax.nn.dot_product_attention(q, k, v, mask=mask, implementation=implementation)


@jax.custom_vjp
def _attend_heads(qh: Array, kh: Array, vh: Array, mask: Array | None) -> Array:
    """softmax(qh khᵀ) vh for heads-major [batch, heads, len, head_dim] (qh already scaled)."""
    return jnp.einsum("bhqk,bhkd->bhqd", _weights(qh, kh, mask).astype(vh.dtype), vh)


def _attend_heads_fwd(qh, kh, vh, mask):
    p = _weights(qh, kh, mask).astype(vh.dtype)
    out = jnp.einsum("bhqk,bhkd->bhqd", p, vh)
    return out, (qh, kh, vh, p, out)


def _attend_heads_bwd(residuals, g):
    # Σ_k p·dP over the keys equals Σ_d dO·O over head_dim (Dao et al., 2022): a reduction over
    # head_dim instead of the keys, independent of the dP product (the softmax backward through
    # autodiff was one fusion of dP with a reduction over the keys, XLA:CPU's slowest step).
    qh, kh, vh, p, out = residuals
    dv = jnp.einsum("bhqk,bhqd->bhkd", p, g)
    dp = jnp.einsum("bhqd,bhkd->bhqk", g, vh)
    ds = p * (dp - jnp.sum(g * out, axis=-1, keepdims=True))
    return jnp.einsum("bhqk,bhkd->bhqd", ds, kh), jnp.einsum("bhqk,bhqd->bhkd", ds, qh), dv, None


_attend_heads.defvjp(_attend_heads_fwd, _attend_heads_bwd)


def chunked_attention(q: Array, k: Array, v: Array, key_lengths: Array | None = None, *, causal: bool = False,
                      chunk: int = 128) -> Array:
    """The same outputs in memory linear in the length: queries in blocks of `chunk`, each reading
    the keys block by block with an online softmax (a running maximum and normaliser, Rabe & Staats
    2021; Dao et al. 2022), every query block rematerialised in the backward pass. Pure JAX.
    key_lengths [batch]: keys at or after a row's length are masked; causal: query i sees keys <= i.
    Lengths must be multiples of `chunk` (pad first)."""
    _check_qkv(q, k, v)
    (b, t, h, d), s = q.shape, k.shape[1]
    if t % chunk or s % chunk:
        raise ValueError(f"chunked_attention: q_len {t} and kv_len {s} must be multiples of chunk={chunk}")
    scale = 1.0 / math.sqrt(d)
    kb = k.reshape(b, s // chunk, chunk, h, d).swapaxes(0, 1)  # [key blocks, batch, chunk, heads, d]
    vb = v.reshape(b, s // chunk, chunk, h, d).swapaxes(0, 1)
    lengths = jnp.full((b,), s) if key_lengths is None else jnp.asarray(key_lengths)

    @jax.checkpoint
    def query_block(qi, i):  # qi [batch, chunk, heads, d] at positions i*chunk ...
        q_pos = i * chunk + jnp.arange(chunk)

        def key_block(carry, blk):
            out, m, norm = carry  # [b, c, h, d], running max [b, h, c], normaliser [b, h, c]
            kj, vj, j = blk
            k_pos = j * chunk + jnp.arange(chunk)
            scores = jnp.einsum("bqhd,bkhd->bhqk", qi, kj).astype(jnp.float32) * scale
            visible = k_pos[None, None, None, :] < lengths[:, None, None, None]
            if causal:
                visible = visible & (k_pos[None, None, None, :] <= q_pos[None, None, :, None])
            scores = jnp.where(visible, scores, -jnp.inf)
            m_new = jnp.maximum(m, scores.max(-1))
            safe = jnp.where(jnp.isfinite(m_new), m_new, 0.0)  # rows with nothing visible yet
            p = jnp.exp(scores - safe[..., None])
            correction = jnp.exp(jnp.where(jnp.isfinite(m), m - safe, -jnp.inf))
            norm = norm * correction + p.sum(-1)
            out = out * correction.swapaxes(1, 2)[..., None] + jnp.einsum("bhqk,bkhd->bqhd", p, vj)
            return (out, m_new, norm), None

        init = (jnp.zeros((b, chunk, h, d), jnp.float32), jnp.full((b, h, chunk), -jnp.inf),
                jnp.zeros((b, h, chunk)))
        (out, _, norm), _ = jax.lax.scan(key_block, init, (kb, vb, jnp.arange(s // chunk)))
        return (out / jnp.maximum(norm, 1e-30).swapaxes(1, 2)[..., None]).astype(q.dtype)

    qb = q.reshape(b, t // chunk, chunk, h, d).swapaxes(0, 1)
    out = jax.lax.map(lambda a: query_block(*a), (qb, jnp.arange(t // chunk)))
    return out.swapaxes(0, 1).reshape(b, t, h, d)


# --- positions ---------------------------------------------------------------------------------------

def sinusoidal_positions(length: int, dim: int, base: float = 10000.0) -> Array:
    """The text's encoding: PE(pos, 2i) = sin(pos / base^(2i/d)), PE(pos, 2i+1) = cos(…): [length, dim]."""
    if dim % 2:
        raise ValueError(f"sinusoidal_positions needs an even dim, got {dim}")
    pos = jnp.arange(length, dtype=jnp.float32)[:, None]
    freq = base ** (-jnp.arange(0, dim, 2, dtype=jnp.float32) / dim)
    angles = pos * freq[None, :]  # [length, dim/2]
    return jnp.stack([jnp.sin(angles), jnp.cos(angles)], axis=-1).reshape(length, dim)


class LearnedPositions(nn.Module):
    """A learned table of `max_len` position vectors added to x [batch, len, dim], from `offset` on."""

    max_len: int
    dim: int

    @nn.compact
    def __call__(self, x: Array, offset: int | Array = 0) -> Array:
        table = self.param("table", nn.initializers.normal(0.02), (self.max_len, self.dim))
        if isinstance(offset, int) and offset + x.shape[1] > self.max_len:
            raise ValueError(f"LearnedPositions: positions {offset}..{offset + x.shape[1] - 1} exceed the table's "
                             f"max_len={self.max_len}")
        return x + jax.lax.dynamic_slice_in_dim(table, offset, x.shape[1], axis=0)[None].astype(x.dtype)


def apply_rope(x: Array, positions: Array, base: float = 10000.0) -> Array:
    """Rotary position embedding: x [batch, len, heads, head_dim], positions [len] (or [batch, len]).
    Each pair (x_i, x_{i + d/2}) turns by the angle position · base^(-2i/d), so the score of a query at
    m and a key at n depends on m − n only."""
    d = x.shape[-1]
    if d % 2:
        raise ValueError(f"apply_rope needs an even head_dim, got {d}")
    freq = base ** (-jnp.arange(0, d // 2, dtype=jnp.float32) * 2 / d)
    positions = jnp.asarray(positions, jnp.float32)
    angles = positions[..., None] * freq.reshape((1,) * positions.ndim + (-1,))  # [(batch,) len, d/2]
    angles = angles[None, :, None, :] if angles.ndim == 2 else angles[:, :, None, :]
    cos, sin = jnp.cos(angles), jnp.sin(angles)
    x1, x2 = x[..., : d // 2].astype(jnp.float32), x[..., d // 2:].astype(jnp.float32)
    return jnp.concatenate([x1 * cos - x2 * sin, x1 * sin + x2 * cos], axis=-1).astype(x.dtype)


# --- multi-head attention ---------------------------------------------------------------------------

class KVCache(NamedTuple):
    """Keys and values of the positions decoded so far: key, value [batch, max_len, heads, head_dim];
    `length`: how many positions are filled (an int32 scalar)."""

    key: Array
    value: Array
    length: Array

    @staticmethod
    def empty(batch: int, max_len: int, heads: int, head_dim: int, dtype=jnp.float32) -> KVCache:
        z = jnp.zeros((batch, max_len, heads, head_dim), dtype)
        return KVCache(z, z, jnp.zeros((), jnp.int32))


class AttentionOutput(NamedTuple):
    output: Array  # [batch, q_len, out_features]
    weights: Array | None  # [batch, heads, q_len, kv_len] when asked for (the explicit path)
    cache: KVCache | None  # the updated cache when one was given


class MultiHeadAttention(nn.Module):
    """Multi-head attention (self- or cross-): heads attend in parallel on learned projections of the
    inputs, and their concatenation is projected back. The parameters mirror Flax's
    `nn.MultiHeadDotProductAttention` (query / key / value / out, DenseGeneral kernels [features,
    heads, head_dim] and [heads, head_dim, out_features]).

    inputs_q [batch, q_len, features]; inputs_kv [batch, kv_len, features] (default: inputs_q).
    rope: rotate queries and keys by their positions (`q_positions`, `kv_positions`; default 0..len-1).
    With `return_weights` the explicit path runs and returns the weights; otherwise `fused` chooses
    `fused_attention` (jax.nn's on accelerators, a custom-backward explicit path on the CPU). With a
    `cache` (decoding), the new keys and values are written at cache.length and the queries attend
    to every filled position.
    """

    num_heads: int
    qkv_features: int | None = None
    out_features: int | None = None
    dropout_rate: float = 0.0
    use_bias: bool = True
    rope: bool = False
    fused: bool = True
    kernel_init: nn.initializers.Initializer = nn.initializers.lecun_normal()

    @nn.compact
    def __call__(self, inputs_q: Array, inputs_kv: Array | None = None, mask: Array | None = None, *,
                 train: bool = False, return_weights: bool = False, cache: KVCache | None = None,
                 q_positions: Array | None = None, kv_positions: Array | None = None) -> AttentionOutput:
        inputs_kv = inputs_q if inputs_kv is None else inputs_kv
        features = self.qkv_features or inputs_q.shape[-1]
        if features % self.num_heads:
            raise ValueError(f"MultiHeadAttention: {self.num_heads} heads do not divide {features} features")
        head_dim = features // self.num_heads
        dense = lambda name: nn.DenseGeneral((self.num_heads, head_dim), use_bias=self.use_bias,
                                            kernel_init=self.kernel_init, name=name)
        q, k, v = dense("query")(inputs_q), dense("key")(inputs_kv), dense("value")(inputs_kv)
        start = jnp.zeros((), jnp.int32) if cache is None else cache.length
        if self.rope:
            q_pos = start + jnp.arange(q.shape[1]) if q_positions is None else q_positions
            k_pos = start + jnp.arange(k.shape[1]) if kv_positions is None else kv_positions
            q, k = apply_rope(q, q_pos), apply_rope(k, k_pos)
        if cache is not None:
            if cache.key.shape[2:] != k.shape[2:] or cache.key.shape[0] != k.shape[0]:
                raise ValueError(f"MultiHeadAttention: cache of shape {cache.key.shape} does not fit keys {k.shape}")
            # Outside jit the fill level is known: writing past the end would silently clamp.
            if not isinstance(start, jax.core.Tracer) and int(start) + k.shape[1] > cache.key.shape[1]:
                raise ValueError(f"MultiHeadAttention: {int(start)} cached + {k.shape[1]} new positions exceed the "
                                 f"cache's {cache.key.shape[1]}")
            key = jax.lax.dynamic_update_slice_in_dim(cache.key, k.astype(cache.key.dtype), start, axis=1)
            value = jax.lax.dynamic_update_slice_in_dim(cache.value, v.astype(cache.value.dtype), start, axis=1)
            cache = KVCache(key, value, start + k.shape[1])
            filled = (jnp.arange(key.shape[1]) < cache.length)[None, None, None, :]
            mask = combine_masks(mask, filled)
            k, v = key, value
        check_mask(mask, q.shape[0], self.num_heads, q.shape[1], k.shape[1])
        if return_weights or not self.fused or (train and self.dropout_rate > 0):
            out, weights = self._explicit(q, k, v, mask, train)
        else:
            out, weights = fused_attention(q, k, v, mask), None
        out = nn.DenseGeneral(self.out_features or inputs_q.shape[-1], axis=(-2, -1), use_bias=self.use_bias,
                              kernel_init=self.kernel_init, name="out")(out)
        return AttentionOutput(out, weights if return_weights else None, cache)

    def _explicit(self, q, k, v, mask, train):
        out, weights = scaled_dot_product_attention(q, k, v, mask)
        if train and self.dropout_rate > 0:  # dropout on the weights (Vaswani et al.), recomputing the mix
            weights = nn.Dropout(self.dropout_rate)(weights, deterministic=False)
            out = jnp.einsum("bhqk,bhkd->bhqd", weights, v.transpose(0, 2, 1, 3)).transpose(0, 2, 1, 3)
        return out, weights
