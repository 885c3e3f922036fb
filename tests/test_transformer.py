"""Transformers through the one training step: each model overfits a small batch; the language
model's cached decoding equals its full forward pass at every step; causality; attention maps;
greedy seq2seq decoding; bad configurations."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnets.models.transformer import (
    Seq2SeqTransformer,
    TransformerClassifier,
    TransformerLM,
    generate,
    greedy_decode,
)
from jaxnets.train import Classification, FitConfig, TokenClassification, create_states, fit, make_optimizer, member

SMALL = dict(d_model=16, num_heads=2, num_layers=2, ff_dim=32)


def _fit(model, objective, data, epochs, lr=3e-3, seeds=(0, 1)):
    state = create_states(model, make_optimizer("adam", lr), list(seeds), data["x"])
    return fit(state, objective, data, None, FitConfig(epochs=epochs, batch_size=len(data["x"]), progress=False))


def test_encoder_classifier_overfits_a_batch_and_its_weights_skip_padding():
    r = np.random.default_rng(0)
    x = r.integers(1, 8, size=(24, 6)).astype(np.int32)
    x[::3, 4:] = 0  # padding at the end of every third sequence
    y = (x == 5).any(1).astype(np.int32)  # "does token 5 occur": needs to look at every position
    model = TransformerClassifier(outputs=2, vocab_size=8, max_len=6, **SMALL)
    res = _fit(model, Classification(2), {"x": x, "y": y}, epochs=150)
    assert np.nanmin(res.history["train_accuracy"][:, -1]) == 1.0
    weights = model.apply({"params": member(res.state, 0).params}, x, method="attention_weights")
    assert len(weights) == 2 and weights[0].shape == (24, 2, 6, 6)
    w = np.asarray(weights[0])
    np.testing.assert_allclose(w.sum(-1), 1.0, rtol=1e-5)
    assert (w[::3, :, :, 4:] == 0).all()


@pytest.mark.parametrize("positions", ["sinusoidal", "learned", "rope"])
def test_cached_decoding_equals_the_full_forward_pass_at_every_step(positions):
    model = TransformerLM(vocab_size=11, max_len=12, positions=positions, **SMALL)
    tokens = jnp.asarray(np.random.default_rng(1).integers(0, 11, size=(3, 9)), jnp.int32)
    params = model.init(jax.random.key(0), tokens)["params"]
    full = model.apply({"params": params}, tokens)
    caches = model.init_caches(3, 12)
    logits, caches = model.apply({"params": params}, tokens[:, :4], caches, method="decode")  # the prompt
    steps = [logits]
    for t in range(4, 9):
        logits, caches = model.apply({"params": params}, tokens[:, t:t + 1], caches, method="decode")
        steps.append(logits)
    np.testing.assert_allclose(jnp.concatenate(steps, axis=1), full, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(jax.jit(model.apply)({"params": params}, tokens), full, rtol=1e-5, atol=1e-6)


def test_language_model_is_causal():
    model = TransformerLM(vocab_size=7, max_len=8, **SMALL)
    tokens = jnp.asarray(np.random.default_rng(2).integers(0, 7, size=(2, 8)), jnp.int32)
    params = model.init(jax.random.key(0), tokens)["params"]
    a = model.apply({"params": params}, tokens)
    b = model.apply({"params": params}, tokens.at[:, 5].set((tokens[:, 5] + 1) % 7))
    np.testing.assert_array_equal(a[:, :5], b[:, :5])
    assert not np.allclose(a[:, 5:], b[:, 5:])


def test_language_model_overfits_and_generates_what_it_learned():
    period = np.array([1, 2, 3, 4, 5, 6], np.int32)
    seq = np.tile(period, 4)  # 1 2 3 4 5 6 1 2 3 ...
    x = np.stack([np.roll(seq, -k)[:16] for k in range(6)])
    y = np.stack([np.roll(seq, -k)[1:17] for k in range(6)])
    model = TransformerLM(vocab_size=8, max_len=24, **SMALL)
    res = _fit(model, TokenClassification(8), {"x": x, "y": y}, epochs=200, seeds=(0,))
    assert res.history["train_accuracy"][0, -1] == 1.0
    params = member(res.state, 0).params
    out = generate(model, params, jnp.asarray([[3, 4, 5]], jnp.int32), steps=8, temperature=0.05,
                   rng=jax.random.key(0))
    assert out.shape == (1, 11)
    np.testing.assert_array_equal(out[0], [3, 4, 5, 6, 1, 2, 3, 4, 5, 6, 1])
    again = generate(model, params, jnp.asarray([[3, 4, 5]], jnp.int32), 8, 0.05, jax.random.key(0))
    np.testing.assert_array_equal(out, again)  # same key, same tokens


def test_seq2seq_learns_to_reverse_and_decodes_greedily():
    r = np.random.default_rng(3)
    src = r.integers(3, 9, size=(32, 5)).astype(np.int32)
    tgt = src[:, ::-1]
    bos = 1
    dec_in = np.concatenate([np.full((32, 1), bos, np.int32), tgt[:, :-1]], axis=1)
    model = Seq2SeqTransformer(vocab_size=10, src_len=5, max_len=8, **SMALL)
    res = _fit(model, TokenClassification(10), {"x": np.concatenate([src, dec_in], 1), "y": tgt}, epochs=300,
               seeds=(0,))
    params = member(res.state, 0).params
    decoded = greedy_decode(model, params, src, steps=5, bos_id=bos)
    assert (np.asarray(decoded) == tgt).mean() > 0.95
    cross = model.apply({"params": params}, np.concatenate([src, dec_in], 1), method="cross_attention_weights")
    assert cross[0].shape == (32, 2, 5, 5)


def test_bad_configurations_are_clear_errors():
    with pytest.raises(ValueError, match="num_heads=3 does not divide d_model=16"):
        TransformerLM(vocab_size=5, d_model=16, num_heads=3)
    with pytest.raises(ValueError, match="unknown positions 'alibi'"):
        TransformerClassifier(outputs=2, positions="alibi")
    model = TransformerLM(vocab_size=5, max_len=6, **SMALL)
    params = model.init(jax.random.key(0), jnp.zeros((1, 3), jnp.int32))["params"]
    with pytest.raises(ValueError, match="longer than max_len=6"):
        model.apply({"params": params}, jnp.zeros((1, 7), jnp.int32))
    with pytest.raises(ValueError, match="must fit max_len=6"):
        generate(model, params, jnp.zeros((1, 4), jnp.int32), steps=3, temperature=1.0, rng=jax.random.key(0))
    with pytest.raises(ValueError, match="temperature must be > 0"):
        generate(model, params, jnp.zeros((1, 2), jnp.int32), steps=2, temperature=0.0, rng=jax.random.key(0))
    with pytest.raises(ValueError, match="token ids"):
        model.apply({"params": params}, jnp.zeros((1, 3), jnp.float32))
