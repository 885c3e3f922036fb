import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from jaxnets.nn import ACTIVATIONS, get_activation, leaky_relu, relu, sigmoid, softmax, tanh

Z = np.linspace(-6, 6, 49)


# The seed's closed forms and hand-written derivatives, in float64 NumPy.
def seed_sigmoid(z):
    return 1 / (1 + np.exp(-z))


SEED_DERIVATIVES = {
    "sigmoid": (sigmoid, lambda z: seed_sigmoid(z) * (1 - seed_sigmoid(z))),
    "tanh": (tanh, lambda z: 1 - np.tanh(z) ** 2),
    "relu": (relu, lambda z: (z > 0).astype(float)),
    "leaky_relu": (leaky_relu, lambda z: np.where(z > 0, 1, 0.01)),
}


def test_values_match_seed_closed_forms():
    z = jnp.asarray(Z, jnp.float32)
    np.testing.assert_allclose(sigmoid(z), seed_sigmoid(Z), rtol=1e-6)
    np.testing.assert_allclose(tanh(z), (np.exp(Z) - np.exp(-Z)) / (np.exp(Z) + np.exp(-Z)), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(relu(z), np.maximum(0, Z))
    np.testing.assert_allclose(leaky_relu(z), np.maximum(0.01 * Z, Z), rtol=1e-6)
    np.testing.assert_allclose(leaky_relu(z, alpha=0.2), np.maximum(0.2 * Z, Z), rtol=1e-6)


@pytest.mark.parametrize("name", sorted(SEED_DERIVATIVES))
def test_autodiff_matches_seed_hand_written_derivative(name):
    fn, deriv = SEED_DERIVATIVES[name]
    z = Z[np.abs(Z) > 1e-3]  # the kink of (leaky) ReLU has no derivative
    g = jax.vmap(jax.grad(lambda x: fn(x)))(jnp.asarray(z, jnp.float32))
    np.testing.assert_allclose(g, deriv(z), rtol=1e-5, atol=1e-6)


@given(arrays(np.float32, st.integers(1, 16),
              elements=st.sampled_from([0.0, -0.0, 1e-30, -1e-30, 2.5, -2.5, np.nan, np.inf, -np.inf])),
       arrays(np.float32, 16, elements=st.floats(-1e3, 1e3, width=32)))
def test_relu_gradient_is_bit_identical_to_jnp_maximum(z, g):
    """relu's written derivative (a select) gives the same bits as the rule `jax.grad` derives for
    jnp.maximum(z, 0) — 1/2 at the tie, signed zeros and NaN included — so no result moves."""
    g = jnp.asarray(g[: z.shape[0]])
    ours = jax.vjp(relu, jnp.asarray(z))[1](g)[0]
    derived = jax.vjp(lambda x: jnp.maximum(x, 0), jnp.asarray(z))[1](g)[0]
    np.testing.assert_array_equal(np.asarray(ours).view(np.int32), np.asarray(derived).view(np.int32))
    fwd = jax.jvp(relu, (jnp.asarray(z),), (g,))[1]
    np.testing.assert_array_equal(np.asarray(fwd).view(np.int32), np.asarray(derived).view(np.int32))


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_stable_at_extremes(name):
    fn = get_activation(name)
    z = jnp.asarray([[-1e4, -50.0, 0.0, 50.0, 1e4]], jnp.float32)
    out = fn(z)
    chex.assert_tree_all_finite(out)
    chex.assert_tree_all_finite(jax.grad(lambda z: jnp.sum(fn(z)))(z))


def test_sigmoid_limits():
    np.testing.assert_array_equal(sigmoid(jnp.asarray([-1e4, 1e4])), [0.0, 1.0])


@given(arrays(np.float32, st.tuples(st.integers(1, 6), st.integers(1, 12)),
              elements=st.floats(-1e4, 1e4, width=32)))
def test_softmax_rows_are_distributions(z):
    p = np.asarray(softmax(jnp.asarray(z)))
    assert np.all(np.isfinite(p)) and np.all(p >= 0) and np.all(p <= 1)
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-5)
    # shift invariance: softmax(z + c) = softmax(z)
    np.testing.assert_allclose(softmax(jnp.asarray(z) - 3.0), p, atol=1e-5)


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="unknown activation 'swishy'.*leaky_relu"):
        get_activation("swishy")
    with pytest.raises(TypeError):
        get_activation(3)
