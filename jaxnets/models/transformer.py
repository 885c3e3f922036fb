"""Transformers (the text's "Transformer Networks"): encoder and decoder blocks, an encoder-only
classifier, a decoder-only causal language model with cached generation, and an encoder-decoder
model with greedy decoding. Pure linen; the training step is jaxnets' one generic step.

Tokens are int ids [batch, len] (0 = padding for the classifier and the encoder); float sequences
[batch, len, features] are projected to d_model instead. Every model returns logits from __call__;
`attention_weights` returns each layer's weights for inspection (the explicit path, one forward pass).
"""
from __future__ import annotations

import functools
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxnets.models.attention import (
    KVCache,
    LearnedPositions,
    MultiHeadAttention,
    causal_mask,
    sinusoidal_positions,
)

Array = jax.Array
POSITIONS = ("sinusoidal", "learned", "rope", "none")
NORMS = ("pre", "post")


def _check(owner: str, d_model: int, num_heads: int, positions: str, norm: str) -> None:
    if d_model % num_heads:
        raise ValueError(f"{owner}: num_heads={num_heads} does not divide d_model={d_model}")
    if positions not in POSITIONS:
        raise ValueError(f"{owner}: unknown positions {positions!r}; valid: {', '.join(POSITIONS)}")
    if norm not in NORMS:
        raise ValueError(f"{owner}: norm must be 'pre' or 'post', got {norm!r}")


class FeedForward(nn.Module):
    """Position-wise: Dense(ff_dim) → GELU → dropout → Dense(d_model). x: [batch, len, d_model]."""

    ff_dim: int
    dropout_rate: float = 0.0

    @nn.compact
    def __call__(self, x: Array, train: bool = False) -> Array:
        h = nn.gelu(nn.Dense(self.ff_dim, name="hidden")(x))
        h = nn.Dropout(self.dropout_rate)(h, deterministic=not train)
        return nn.Dense(x.shape[-1], name="output")(h)


def _residual(x: Array, sublayer, norm: nn.Module, pre: bool, drop: nn.Module, train: bool):
    """x + dropout(sublayer(norm(x))) (pre-norm) or norm(x + dropout(sublayer(x))) (post-norm, as in
    Vaswani et al.). sublayer returns (output, extra); -> (new x, extra)."""
    out, extra = sublayer(norm(x) if pre else x)
    y = x + drop(out, deterministic=not train)
    return (y if pre else norm(y)), extra


class EncoderBlock(nn.Module):
    """Self-attention then feed-forward, each with a residual and LayerNorm. x: [batch, len, d_model];
    mask: boolean, broadcasting to [batch, heads, len, len]. -> (x, weights or None)."""

    num_heads: int
    ff_dim: int
    dropout_rate: float = 0.0
    norm: str = "pre"
    rope: bool = False

    @nn.compact
    def __call__(self, x: Array, mask: Array | None = None, train: bool = False, return_weights: bool = False):
        pre, drop = self.norm == "pre", nn.Dropout(self.dropout_rate)
        attn = MultiHeadAttention(self.num_heads, dropout_rate=self.dropout_rate, rope=self.rope, name="attention")
        ff = FeedForward(self.ff_dim, self.dropout_rate, name="feed_forward")

        def attend(h):
            o = attn(h, mask=mask, train=train, return_weights=return_weights)
            return o.output, o.weights

        x, weights = _residual(x, attend, nn.LayerNorm(name="attention_norm"), pre, drop, train)
        x, _ = _residual(x, lambda h: (ff(h, train), None), nn.LayerNorm(name="ff_norm"), pre, drop, train)
        return x, weights


class DecoderBlock(nn.Module):
    """Causal self-attention, cross-attention to the encoder's `memory` (when given), feed-forward.
    x: [batch, len, d_model]; cache: this layer's KVCache when decoding step by step.
    -> (x, (self weights, cross weights), cache)."""

    num_heads: int
    ff_dim: int
    dropout_rate: float = 0.0
    norm: str = "pre"
    rope: bool = False

    @nn.compact
    def __call__(self, x: Array, memory: Array | None = None, memory_mask: Array | None = None,
                 train: bool = False, return_weights: bool = False, cache: KVCache | None = None):
        pre, drop = self.norm == "pre", nn.Dropout(self.dropout_rate)
        offset = jnp.zeros((), jnp.int32) if cache is None else cache.length
        kv_len = x.shape[1] if cache is None else cache.key.shape[1]
        self_attn = MultiHeadAttention(self.num_heads, dropout_rate=self.dropout_rate, rope=self.rope,
                                       name="self_attention")

        def attend(h):
            o = self_attn(h, mask=causal_mask(x.shape[1], kv_len, offset), train=train,
                          return_weights=return_weights, cache=cache)
            return o.output, (o.weights, o.cache)

        x, (w_self, cache) = _residual(x, attend, nn.LayerNorm(name="self_norm"), pre, drop, train)
        w_cross = None
        if memory is not None:
            cross = MultiHeadAttention(self.num_heads, dropout_rate=self.dropout_rate, name="cross_attention")

            def attend_memory(h):
                o = cross(h, memory, mask=memory_mask, train=train, return_weights=return_weights)
                return o.output, o.weights

            x, w_cross = _residual(x, attend_memory, nn.LayerNorm(name="cross_norm"), pre, drop, train)
        ff = FeedForward(self.ff_dim, self.dropout_rate, name="feed_forward")
        x, _ = _residual(x, lambda h: (ff(h, train), None), nn.LayerNorm(name="ff_norm"), pre, drop, train)
        return x, (w_self, w_cross), cache


class _Embed(nn.Module):
    """Token ids [batch, len] -> embeddings, or float features [batch, len, f] -> Dense; plus the
    sinusoidal or learned positions from `offset` on (rope: added inside attention instead)."""

    vocab_size: int | None
    d_model: int
    max_len: int
    positions: str

    @nn.compact
    def __call__(self, x: Array, offset: int | Array = 0) -> Array:
        if self.vocab_size is not None:
            if x.ndim != 2 or not jnp.issubdtype(x.dtype, jnp.integer):
                raise ValueError(f"expected token ids [batch, len] of ints, got {x.dtype} of shape {x.shape}")
            h = nn.Embed(self.vocab_size, self.d_model, name="tokens")(x) * jnp.sqrt(float(self.d_model))
        else:
            if x.ndim != 3:
                raise ValueError(f"expected float sequences [batch, len, features], got shape {x.shape}")
            h = nn.Dense(self.d_model, name="project")(x)
        if isinstance(offset, int) and offset + x.shape[1] > self.max_len:
            raise ValueError(f"sequence of {offset + x.shape[1]} positions is longer than max_len={self.max_len}")
        if self.positions == "sinusoidal":
            table = sinusoidal_positions(self.max_len, self.d_model)
            h = h + jax.lax.dynamic_slice_in_dim(table, offset, x.shape[1], axis=0)[None]
        elif self.positions == "learned":
            h = LearnedPositions(self.max_len, self.d_model, name="positions")(h, offset)
        return h


def _padding(x: Array, pad_id: int | None) -> Array | None:
    """[batch, 1, 1, len]: the non-padding tokens (None for float inputs or pad_id=None)."""
    if pad_id is None or not jnp.issubdtype(x.dtype, jnp.integer):
        return None
    return (x != pad_id)[:, None, None, :]


class TransformerClassifier(nn.Module):
    """Encoder-only: tokens or float sequences -> logits [batch, outputs], from the top layer's mean
    over the non-padding positions (pool="mean") or its last position (pool="last")."""

    outputs: int
    vocab_size: int | None = None
    d_model: int = 64
    num_heads: int = 4
    num_layers: int = 2
    ff_dim: int = 128
    max_len: int = 512
    positions: str = "sinusoidal"
    norm: str = "pre"
    dropout_rate: float = 0.0
    pad_id: int | None = 0
    pool: str = "mean"

    def __post_init__(self):
        _check(type(self).__name__, self.d_model, self.num_heads, self.positions, self.norm)
        if self.pool not in ("mean", "last"):
            raise ValueError(f"TransformerClassifier: pool must be 'mean' or 'last', got {self.pool!r}")
        super().__post_init__()

    def setup(self):
        self.embed = _Embed(self.vocab_size, self.d_model, self.max_len, self.positions)
        self.blocks = [EncoderBlock(self.num_heads, self.ff_dim, self.dropout_rate, self.norm,
                                    rope=self.positions == "rope") for _ in range(self.num_layers)]
        self.final_norm = nn.LayerNorm() if self.norm == "pre" else None
        self.head = nn.Dense(self.outputs)

    def _forward(self, x: Array, train: bool, return_weights: bool):
        mask = _padding(x, self.pad_id)
        h = self.embed(x)
        weights = []
        for block in self.blocks:
            h, w = block(h, mask, train, return_weights)
            weights.append(w)
        if self.final_norm is not None:
            h = self.final_norm(h)
        if self.pool == "last":
            return self.head(h[:, -1]), weights
        keep = jnp.ones(h.shape[:2], h.dtype) if mask is None else mask[:, 0, 0, :].astype(h.dtype)
        pooled = (h * keep[..., None]).sum(1) / jnp.maximum(keep.sum(1, keepdims=True), 1.0)
        return self.head(pooled), weights

    def __call__(self, x: Array, train: bool = False) -> Array:
        return self._forward(x, train, False)[0]

    def attention_weights(self, x: Array) -> list[Array]:
        """Each layer's weights [batch, heads, len, len]."""
        return self._forward(x, False, True)[1]


class TransformerLM(nn.Module):
    """Decoder-only causal language model: tokens [batch, len] -> next-token logits [batch, len,
    vocab_size]. `decode(tokens, caches)` continues from the cached positions (see `generate`)."""

    vocab_size: int
    d_model: int = 64
    num_heads: int = 4
    num_layers: int = 2
    ff_dim: int = 128
    max_len: int = 256
    positions: str = "sinusoidal"
    norm: str = "pre"
    dropout_rate: float = 0.0

    def __post_init__(self):
        _check(type(self).__name__, self.d_model, self.num_heads, self.positions, self.norm)
        super().__post_init__()

    def setup(self):
        self.embed = _Embed(self.vocab_size, self.d_model, self.max_len, self.positions)
        self.blocks = [DecoderBlock(self.num_heads, self.ff_dim, self.dropout_rate, self.norm,
                                    rope=self.positions == "rope") for _ in range(self.num_layers)]
        self.final_norm = nn.LayerNorm() if self.norm == "pre" else None
        self.head = nn.Dense(self.vocab_size)

    def _forward(self, tokens: Array, train: bool, return_weights: bool, caches: Sequence[KVCache] | None):
        offset = 0 if caches is None else caches[0].length
        h = self.embed(tokens, offset)
        weights, new_caches = [], []
        for i, block in enumerate(self.blocks):
            h, (w, _), c = block(h, train=train, return_weights=return_weights,
                                 cache=None if caches is None else caches[i])
            weights.append(w)
            new_caches.append(c)
        if self.final_norm is not None:
            h = self.final_norm(h)
        return self.head(h), weights, new_caches

    def __call__(self, tokens: Array, train: bool = False) -> Array:
        return self._forward(tokens, train, False, None)[0]

    def decode(self, tokens: Array, caches: Sequence[KVCache]) -> tuple[Array, list[KVCache]]:
        """Logits of `tokens` [batch, len] placed after the cached positions, and the updated caches."""
        logits, _, caches = self._forward(tokens, False, False, caches)
        return logits, caches

    def attention_weights(self, tokens: Array) -> list[Array]:
        return self._forward(tokens, False, True, None)[1]

    def init_caches(self, batch: int, length: int | None = None, dtype=jnp.float32) -> list[KVCache]:
        length = self.max_len if length is None else length
        head_dim = self.d_model // self.num_heads
        return [KVCache.empty(batch, length, self.num_heads, head_dim, dtype) for _ in range(self.num_layers)]


def generate(model: TransformerLM, params, prompt, steps: int, temperature: float, rng: Array) -> Array:
    """Sample `steps` tokens after `prompt` [batch, p] with a key/value cache: the prompt in one pass,
    then one token per step, each drawn from softmax(logits / temperature). -> [batch, p + steps]."""
    prompt = jnp.asarray(prompt)
    if prompt.ndim != 2 or prompt.shape[1] < 1:
        raise ValueError(f"generate: prompt must be token ids [batch, p >= 1], got shape {prompt.shape}")
    if not temperature > 0:
        raise ValueError(f"generate: temperature must be > 0, got {temperature}")
    if steps < 1 or prompt.shape[1] + steps > model.max_len:
        raise ValueError(f"generate: prompt of {prompt.shape[1]} + {steps} steps must fit max_len={model.max_len} "
                         f"(and steps >= 1)")
    return _generate(model, params, prompt, steps, float(temperature), rng)


@functools.partial(jax.jit, static_argnums=(0, 3))
def _generate(model, params, prompt, steps, temperature, rng):
    caches = model.init_caches(prompt.shape[0], prompt.shape[1] + steps)
    logits, caches = model.apply({"params": params}, prompt, caches, method="decode")
    keys = jax.random.split(rng, steps)
    first = jax.random.categorical(keys[0], logits[:, -1] / temperature)

    def step(carry, key):
        token, caches = carry
        logits, caches = model.apply({"params": params}, token[:, None], caches, method="decode")
        nxt = jax.random.categorical(key, logits[:, -1] / temperature)
        return (nxt, caches), token

    (last, _), tokens = jax.lax.scan(step, (first, caches), keys[1:])
    return jnp.concatenate([prompt, tokens.T, last[:, None]], axis=1).astype(prompt.dtype)


class Seq2SeqTransformer(nn.Module):
    """Encoder-decoder: x = [source ids ‖ decoder input ids] along time ([batch, src_len + tgt_len],
    so the generic step trains it as one array; 0 pads the source) -> logits [batch, tgt_len,
    vocab_size] for the target tokens. The decoder input is the target shifted right behind `bos_id`."""

    vocab_size: int
    src_len: int
    d_model: int = 64
    num_heads: int = 4
    num_layers: int = 2
    ff_dim: int = 128
    max_len: int = 128
    positions: str = "sinusoidal"
    norm: str = "pre"
    dropout_rate: float = 0.0

    def __post_init__(self):
        _check(type(self).__name__, self.d_model, self.num_heads, self.positions, self.norm)
        super().__post_init__()

    def setup(self):
        rope = self.positions == "rope"
        self.src_embed = _Embed(self.vocab_size, self.d_model, self.max_len, self.positions)
        self.tgt_embed = _Embed(self.vocab_size, self.d_model, self.max_len, self.positions)
        self.encoder = [EncoderBlock(self.num_heads, self.ff_dim, self.dropout_rate, self.norm, rope)
                        for _ in range(self.num_layers)]
        self.decoder = [DecoderBlock(self.num_heads, self.ff_dim, self.dropout_rate, self.norm, rope)
                        for _ in range(self.num_layers)]
        self.enc_norm = nn.LayerNorm()
        self.dec_norm = nn.LayerNorm()
        self.head = nn.Dense(self.vocab_size)

    def _forward(self, x: Array, train: bool, return_weights: bool):
        src, tgt = x[:, :self.src_len], x[:, self.src_len:]
        src_mask = _padding(src, 0)
        memory = self.src_embed(src)
        for block in self.encoder:
            memory, _ = block(memory, src_mask, train)
        memory = self.enc_norm(memory)
        h = self.tgt_embed(tgt)
        cross = []
        for block in self.decoder:
            h, (_, w), _ = block(h, memory, src_mask, train, return_weights)
            cross.append(w)
        return self.head(self.dec_norm(h)), cross

    def __call__(self, x: Array, train: bool = False) -> Array:
        return self._forward(x, train, False)[0]

    def cross_attention_weights(self, x: Array) -> list[Array]:
        """Each decoder layer's cross-attention weights [batch, heads, tgt_len, src_len] (alignments)."""
        return self._forward(x, False, True)[1]


def greedy_decode(model: nn.Module, params, src, steps: int, bos_id: int) -> Array:
    """The most likely target of `src` [batch, src_len], one token at a time, for any model whose
    input is [source ‖ decoder input] (`Seq2SeqTransformer`, `rnn.Seq2SeqRNN`); each step reruns the
    decoder on the prefix (short targets). -> [batch, steps]."""
    src = jnp.asarray(src)
    if src.ndim != 2 or src.shape[1] != model.src_len:
        raise ValueError(f"greedy_decode: src must be [batch, {model.src_len}], got shape {src.shape}")
    limit = getattr(model, "max_len", None)
    if steps < 1 or (limit is not None and steps > limit):
        raise ValueError(f"greedy_decode: steps must be in [1, {limit}], got {steps}")
    return _greedy(model, params, src, steps, bos_id)


@functools.partial(jax.jit, static_argnums=(0, 3, 4))
def _greedy(model, params, src, steps, bos_id):
    tgt = jnp.full((src.shape[0], steps + 1), bos_id, src.dtype)

    def step(tgt, t):
        logits = model.apply({"params": params}, jnp.concatenate([src, tgt[:, :-1]], axis=1))
        return tgt.at[:, t + 1].set(jnp.argmax(logits[:, t], -1).astype(tgt.dtype)), None

    tgt, _ = jax.lax.scan(step, tgt, jnp.arange(steps))
    return tgt[:, 1:]
