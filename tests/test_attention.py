"""Attention against its definition, NumPy, Flax and PyTorch: weights are distributions over the
visible keys, masks remove keys exactly, causality, permutation equivariance, RoPE's relative
positions, the fused path equal to the explicit one, and clear errors."""
import chex
import flax.linen as nn
import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings

from jaxnets.models.attention import (
    KVCache,
    LearnedPositions,
    MultiHeadAttention,
    apply_rope,
    causal_mask,
    chunked_attention,
    fused_attention,
    padding_mask,
    scaled_dot_product_attention,
    sinusoidal_positions,
    softmax,
)

TOL = dict(rtol=2e-5, atol=2e-6)


def _qkv(b=2, t=5, s=7, h=3, d=4, seed=0):
    r = np.random.default_rng(seed)
    return tuple(jnp.asarray(r.normal(size=shape).astype(np.float32)) for shape in ((b, t, h, d), (b, s, h, d),
                                                                                   (b, s, h, d)))


def _numpy_attention(q, k, v, mask=None):
    q, k, v = (np.asarray(a, np.float64) for a in (q, k, v))
    scores = np.einsum("bqhd,bkhd->bhqk", q, k) / np.sqrt(q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    w = np.exp(scores - scores.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    return np.einsum("bhqk,bkhd->bqhd", w, v), w


@settings(max_examples=25, deadline=None)
@given(b=st.integers(1, 3), t=st.integers(1, 6), s=st.integers(1, 6), h=st.integers(1, 3), d=st.integers(1, 5),
       seed=st.integers(0, 10_000))
def test_weights_are_distributions_over_visible_keys(b, t, s, h, d, seed):
    q, k, v = _qkv(b, t, s, h, d, seed)
    lengths = np.random.default_rng(seed).integers(1, s + 1, size=b)  # every query sees >= 1 key
    mask = padding_mask(lengths, s)
    out, w = scaled_dot_product_attention(q, k, v, mask)
    w = np.asarray(w)
    assert (w >= 0).all()
    np.testing.assert_allclose(w.sum(-1), 1.0, rtol=1e-5)
    hidden = ~np.broadcast_to(np.asarray(mask), w.shape)
    assert (w[hidden] == 0).all()  # exactly zero, not small
    want_out, want_w = _numpy_attention(q, k, v, np.asarray(mask))
    np.testing.assert_allclose(w, want_w, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out, want_out, rtol=1e-4, atol=1e-5)


def test_fused_path_equals_the_explicit_one_and_jit_agrees():
    q, k, v = _qkv()
    mask = causal_mask(5, 7, offset=2) & padding_mask([7, 4], 7)
    explicit, _ = scaled_dot_product_attention(q, k, v, mask)
    np.testing.assert_allclose(fused_attention(q, k, v, mask), explicit, **TOL)
    np.testing.assert_allclose(jax.jit(fused_attention)(q, k, v, mask), explicit, **TOL)
    np.testing.assert_allclose(jax.jit(scaled_dot_product_attention)(q, k, v, mask)[0], explicit, **TOL)
    # jax.nn's own XLA implementation (what `fused_attention` runs off the CPU), forward and backward.
    xla = lambda q, k, v: fused_attention(q, k, v, mask, implementation="xla")
    np.testing.assert_allclose(xla(q, k, v), explicit, **TOL)
    loss = lambda f: lambda *a: jnp.sum(jnp.sin(f(*a)))
    want = jax.grad(loss(xla), argnums=(0, 1, 2))(q, k, v)
    for path in (lambda *a: scaled_dot_product_attention(*a, mask)[0], lambda *a: fused_attention(*a, mask)):
        for g, w in zip(jax.grad(loss(path), argnums=(0, 1, 2))(q, k, v), want):
            np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)


def test_the_fused_path_and_its_gradient_zero_a_query_that_sees_no_key():
    q, k, v = _qkv(b=2, t=3, s=4)
    mask = jnp.array([[True, False, True, False], [False] * 4, [True] * 4])[None, None]  # query 1 sees nothing
    loss = lambda f: lambda *a: jnp.sum(jnp.sin(f(*a)) * jnp.arange(1.0, 5.0)[None, None, None, :])
    explicit = lambda *a: scaled_dot_product_attention(*a, mask)[0]
    fused = lambda *a: fused_attention(*a, mask)
    np.testing.assert_allclose(fused(q, k, v), explicit(q, k, v), **TOL)
    assert (np.asarray(fused(q, k, v))[:, 1] == 0).all()
    for g, w in zip(jax.grad(loss(fused), argnums=(0, 1, 2))(q, k, v),
                    jax.grad(loss(explicit), argnums=(0, 1, 2))(q, k, v)):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-6)


@settings(max_examples=20, deadline=None)
@given(shape=st.lists(st.integers(1, 6), min_size=1, max_size=3), seed=st.integers(0, 10_000))
def test_softmax_backward_equals_autodiff_of_jax_nn_softmax(shape, seed):
    r = np.random.default_rng(seed)
    s, g = (jnp.asarray(3 * r.normal(size=shape).astype(np.float32)) for _ in range(2))
    np.testing.assert_array_equal(softmax(s), jax.nn.softmax(s, axis=-1))
    got = jax.vjp(softmax, s)[1](g)[0]
    want = jax.vjp(lambda x: jax.nn.softmax(x, axis=-1), s)[1](g)[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_a_query_that_sees_no_key_gets_zero_weights_and_no_nan():
    q, k, v = _qkv(b=1, t=2, s=3)
    mask = jnp.array([[[[False, False, False], [True, False, False]]]])
    out, w = scaled_dot_product_attention(q, k, v, mask)
    assert np.isfinite(out).all() and (np.asarray(w)[0, :, 0] == 0).all() and (np.asarray(out)[0, 0] == 0).all()


def _mha(fused=True, rope=False, heads=2, features=8, **kw):
    return MultiHeadAttention(num_heads=heads, fused=fused, rope=rope, **kw)


def test_causal_self_attention_by_gradient_and_by_perturbation():
    x = jax.random.normal(jax.random.key(0), (1, 6, 8))
    model = _mha()
    params = model.init(jax.random.key(1), x)["params"]
    mask = causal_mask(6)
    f = lambda x: model.apply({"params": params}, x, mask=mask).output[0]  # [t, features]
    jac = jax.jacrev(f)(x)[:, :, 0]  # d out[t, :] / d x[0, s, :] -> [t, f, s, f]
    norms = np.abs(np.asarray(jac)).sum(axis=(1, 3))  # [t, s]
    assert (norms[np.triu_indices(6, k=1)] == 0).all() and (np.diag(norms) > 0).all()
    bumped = x.at[0, 4].add(10.0)
    before, after = f(x), f(bumped)
    np.testing.assert_array_equal(before[:4], after[:4])  # earlier outputs do not see a later change
    assert not np.allclose(before[4:], after[4:])


def test_self_attention_without_positions_is_permutation_equivariant():
    x = jax.random.normal(jax.random.key(0), (2, 5, 8))
    model = _mha()
    params = model.init(jax.random.key(1), x)["params"]
    perm = np.array([3, 0, 4, 1, 2])
    out = model.apply({"params": params}, x).output
    np.testing.assert_allclose(model.apply({"params": params}, x[:, perm]).output, out[:, perm], **TOL)
    rope = _mha(rope=True)  # with rotary positions the order matters
    moved = rope.apply({"params": params}, x[:, perm]).output
    assert not np.allclose(moved, rope.apply({"params": params}, x).output[:, perm])


def test_rope_scores_depend_only_on_the_relative_offset():
    r = np.random.default_rng(0)
    q, k = (jnp.asarray(r.normal(size=(1, 1, 1, 8)).astype(np.float32)) for _ in range(2))
    score = lambda m, n: float(jnp.sum(apply_rope(q, jnp.array([m])) * apply_rope(k, jnp.array([n]))))
    for m, n in ((3, 1), (7, 2), (0, 5)):
        for shift in (1, 10, 37):
            assert score(m + shift, n + shift) == pytest.approx(score(m, n), rel=1e-4, abs=1e-5)
    assert score(3, 1) != pytest.approx(score(3, 2), rel=1e-3)
    np.testing.assert_allclose(apply_rope(q, jnp.array([0])), q)  # position 0: no rotation


def test_sinusoidal_positions_are_the_texts_formula():
    pe = np.asarray(sinusoidal_positions(50, 16))
    pos, i = np.arange(50)[:, None], np.arange(8)[None, :]
    np.testing.assert_allclose(pe[:, 0::2], np.sin(pos / 10000 ** (2 * i / 16)), atol=1e-5)
    np.testing.assert_allclose(pe[:, 1::2], np.cos(pos / 10000 ** (2 * i / 16)), atol=1e-5)


def test_multi_head_attention_equals_flax_with_the_same_weights():
    xq = jax.random.normal(jax.random.key(0), (2, 4, 12))
    xkv = jax.random.normal(jax.random.key(1), (2, 6, 12))
    mask = padding_mask([6, 3], 6)
    ours = MultiHeadAttention(num_heads=3, qkv_features=9, out_features=5)
    params = ours.init(jax.random.key(2), xq, xkv)["params"]
    flax_mha = nn.MultiHeadDotProductAttention(num_heads=3, qkv_features=9, out_features=5, deterministic=True)
    chex.assert_trees_all_equal_shapes(params, flax_mha.init(jax.random.key(2), xq, xkv)["params"])
    want = flax_mha.apply({"params": params}, xq, xkv, mask=mask)
    for fused in (True, False):
        got = MultiHeadAttention(num_heads=3, qkv_features=9, out_features=5, fused=fused).apply(
            {"params": params}, xq, xkv, mask=mask)
        np.testing.assert_allclose(got.output, want, **TOL)


def test_multi_head_attention_equals_torch_with_mapped_weights():
    torch = pytest.importorskip("torch")
    e, h, b, t = 12, 3, 2, 5
    ref = torch.nn.MultiheadAttention(e, h, batch_first=True).double()
    x = np.random.default_rng(0).normal(size=(b, t, e))
    w_in, b_in = ref.in_proj_weight.detach().numpy(), ref.in_proj_bias.detach().numpy()
    dense = lambda i: {"kernel": jnp.asarray(w_in[i * e:(i + 1) * e].T.reshape(e, h, e // h), jnp.float32),
                       "bias": jnp.asarray(b_in[i * e:(i + 1) * e].reshape(h, e // h), jnp.float32)}
    params = {"query": dense(0), "key": dense(1), "value": dense(2),
              "out": {"kernel": jnp.asarray(ref.out_proj.weight.detach().numpy().T.reshape(h, e // h, e), jnp.float32),
                      "bias": jnp.asarray(ref.out_proj.bias.detach().numpy(), jnp.float32)}}
    causal = np.triu(np.ones((t, t), bool), k=1)  # torch: True = may NOT attend
    want_out, want_w = ref(*[torch.tensor(x)] * 3, attn_mask=torch.tensor(causal), average_attn_weights=False)
    got = MultiHeadAttention(num_heads=h).apply({"params": params}, jnp.asarray(x, jnp.float32),
                                                mask=causal_mask(t), return_weights=True)
    np.testing.assert_allclose(got.output, want_out.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got.weights, want_w.detach().numpy(), rtol=1e-4, atol=1e-6)


def test_cached_decoding_equals_the_full_causal_pass():
    x = jax.random.normal(jax.random.key(0), (2, 7, 8))
    for rope in (False, True):
        model = _mha(rope=rope)
        params = model.init(jax.random.key(1), x)["params"]
        full = model.apply({"params": params}, x, mask=causal_mask(7)).output
        cache = KVCache.empty(2, 10, 2, 4)
        outs = []
        for t0, t1 in ((0, 3), (3, 4), (4, 7)):  # a prompt of 3, then one token, then three
            r = model.apply({"params": params}, x[:, t0:t1], mask=causal_mask(t1 - t0, 10, offset=t0), cache=cache)
            cache = r.cache
            outs.append(r.output)
        assert int(cache.length) == 7
        np.testing.assert_allclose(jnp.concatenate(outs, axis=1), full, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="7 cached \\+ 4 new positions exceed the cache's 10"):
        model.apply({"params": params}, x[:, :4], mask=causal_mask(4, 10, offset=7), cache=cache)


def test_bad_inputs_are_clear_errors():
    x = jnp.zeros((1, 4, 8))
    with pytest.raises(ValueError, match="3 heads do not divide 8 features"):
        MultiHeadAttention(num_heads=3).init(jax.random.key(0), x)
    model = _mha()
    params = model.init(jax.random.key(0), x)["params"]
    with pytest.raises(TypeError, match="must be boolean"):
        model.apply({"params": params}, x, mask=jnp.ones((1, 1, 4, 4)))
    with pytest.raises(ValueError, match="does not broadcast"):
        model.apply({"params": params}, x, mask=jnp.ones((1, 1, 3, 4), bool))
    with pytest.raises(ValueError, match="exceed the table's max_len=3"):
        LearnedPositions(3, 8).init(jax.random.key(0), x)
    with pytest.raises(ValueError, match="rank 4"):
        scaled_dot_product_attention(x, x, x)


def test_chunked_attention_equals_the_explicit_path_and_its_gradient():
    q, k, v = _qkv(b=2, t=32, s=48, h=2, d=4, seed=5)
    lengths = jnp.array([48, 20])
    explicit = lambda q, k, v: scaled_dot_product_attention(q, k, v, padding_mask(lengths, 48))[0]
    chunked = lambda q, k, v: chunked_attention(q, k, v, lengths, chunk=8)
    np.testing.assert_allclose(chunked(q, k, v), explicit(q, k, v), rtol=1e-5, atol=1e-5)
    g1 = jax.grad(lambda *a: jnp.sum(jnp.sin(chunked(*a))), argnums=(0, 1, 2))(q, k, v)
    g2 = jax.grad(lambda *a: jnp.sum(jnp.sin(explicit(*a))), argnums=(0, 1, 2))(q, k, v)
    for a, b in zip(g1, g2):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    q, k, v = _qkv(b=1, t=16, s=16, h=1, d=4, seed=6)
    np.testing.assert_allclose(chunked_attention(q, k, v, causal=True, chunk=4),
                               scaled_dot_product_attention(q, k, v, causal_mask(16))[0], rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="multiples of chunk=24"):
        chunked_attention(q, k, v, chunk=24)


def test_chunked_attention_memory_grows_linearly_and_the_explicit_path_quadratically():
    """XLA's own count of the training-time (forward + backward) temporary memory, 4x the length."""
    def temp_bytes(fn, t):
        x = jax.ShapeDtypeStruct((1, t, 2, 8), jnp.float32)
        loss = jax.jit(jax.grad(lambda q, k, v: jnp.sum(fn(q, k, v)), argnums=(0, 1, 2)))
        return loss.lower(x, x, x).compile().memory_analysis().temp_size_in_bytes

    explicit = lambda q, k, v: scaled_dot_product_attention(q, k, v)[0]
    chunked = lambda q, k, v: chunked_attention(q, k, v, chunk=64)
    growth = {name: temp_bytes(f, 1024) / temp_bytes(f, 256) for name, f in (("explicit", explicit),
                                                                             ("chunked", chunked))}
    assert growth["chunked"] <= 5.0 and growth["explicit"] >= 12.0, growth
