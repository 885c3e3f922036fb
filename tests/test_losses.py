import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jaxnets.nn import binary_cross_entropy, categorical_cross_entropy, get_loss, mse


def seed_bce(y, p):  # the seed's probability-space BCE, float64
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


@given(st.lists(st.floats(-20, 20), min_size=1, max_size=16), st.integers(0, 2**16))
def test_bce_from_logits_equals_closed_form(z, seed):
    z = np.asarray(z)
    y = np.random.default_rng(seed).integers(0, 2, z.size).astype(float)
    expected = seed_bce(y, 1 / (1 + np.exp(-z)))
    got = binary_cross_entropy(jnp.asarray(z, jnp.float32)[:, None], jnp.asarray(y))
    np.testing.assert_allclose(got, expected, rtol=2e-5, atol=1e-6)


def test_bce_gradient_is_seeds_simplified_delta():
    # The seed's backprop uses delta = sigmoid(z) - y for BCE + sigmoid (per example).
    z = jnp.linspace(-5, 5, 11)
    y = (jnp.arange(11) % 2).astype(jnp.float32)
    g = jax.grad(lambda z: jnp.sum(binary_cross_entropy(z, y)))(z)
    np.testing.assert_allclose(g, jax.nn.sigmoid(z) - y, atol=1e-6)


def test_cce_integer_and_one_hot_agree_and_match_closed_form():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(7, 5)).astype(np.float32)
    labels = rng.integers(0, 5, 7)
    p = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    expected = -np.log(p[np.arange(7), labels])
    a = categorical_cross_entropy(jnp.asarray(logits), jnp.asarray(labels))
    b = categorical_cross_entropy(jnp.asarray(logits), jax.nn.one_hot(labels, 5))
    np.testing.assert_allclose(a, expected, rtol=1e-5)
    np.testing.assert_allclose(b, a, rtol=1e-6)
    # gradient w.r.t. logits = softmax - one_hot (the seed's "Softmax + CCE simplification")
    g = jax.grad(lambda z: jnp.sum(categorical_cross_entropy(z, jnp.asarray(labels))))(jnp.asarray(logits))
    np.testing.assert_allclose(g, p - np.eye(5)[labels], atol=1e-6)


@pytest.mark.parametrize("z", [1e4, -1e4])
def test_stable_for_huge_logits(z):
    zb = jnp.full((2, 1), z, jnp.float32)
    y = jnp.asarray([0.0, 1.0])
    out = binary_cross_entropy(zb, y)
    chex.assert_tree_all_finite(out)
    np.testing.assert_allclose(out, [max(z, 0), max(-z, 0)], rtol=1e-6)  # the wrong label costs |z|
    chex.assert_tree_all_finite(jax.grad(lambda z: jnp.sum(binary_cross_entropy(z, y)))(zb))
    zc = jnp.asarray([[z, 0.0, -z]], jnp.float32)
    chex.assert_tree_all_finite(categorical_cross_entropy(zc, jnp.asarray([2])))
    np.testing.assert_allclose(categorical_cross_entropy(zc, jnp.asarray([1])), abs(z), rtol=1e-6)


def test_mse_matches_seed():
    y, p = np.array([[1.0], [2.0], [3.0]]), np.array([[1.5], [2.0], [2.0]])
    np.testing.assert_allclose(jnp.mean(mse(jnp.asarray(p), jnp.asarray(y))), np.mean((y - p) ** 2))


def test_unknown_loss():
    with pytest.raises(ValueError, match="valid names"):
        get_loss("hinge")
