import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnets.models import MLP, count_params
from jaxnets.train import Classification, FitConfig, create_state, fit, make_optimizer


def seed_param_count(layers):  # the seed: sum(w.size) + sum(b.size)
    return sum(a * b + b for a, b in zip(layers[:-1], layers[1:]))


@pytest.mark.parametrize("hidden", [(16, 1), (32, 16, 8, 1), (128, 64, 1), (64, 32, 16, 8, 4, 1), (128, 64, 10)])
def test_seed_layer_lists_map_one_to_one(hidden):
    model = MLP(hidden)
    params = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 30)))["params"]
    assert count_params(params) == seed_param_count([30, *hidden])
    assert len(params) == len(hidden)


class TestForward(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_shapes_and_jit_agree(self):
        model = MLP((8, 3), activation="tanh")
        x = jax.random.normal(jax.random.PRNGKey(1), (5, 4))
        variables = model.init(jax.random.PRNGKey(0), x)
        out = self.variant(lambda v, x: model.apply(v, x))(variables, x)
        chex.assert_shape(out, (5, 3))
        chex.assert_tree_all_finite(out)
        np.testing.assert_allclose(out, model.apply(variables, x), rtol=1e-6)


def test_known_weights_give_exact_output():
    # h = relu(x W1 + b1), y = h W2 + b2 with hand-chosen weights.
    model = MLP((2, 1), activation="relu")
    params = {
        "hidden_0": {"kernel": jnp.asarray([[1.0, -1.0], [2.0, 0.5]]), "bias": jnp.asarray([0.0, 1.0])},
        "output": {"kernel": jnp.asarray([[1.0], [-2.0]]), "bias": jnp.asarray([0.5])},
    }
    x = jnp.asarray([[1.0, 1.0], [-1.0, 0.0]])
    # row 0: z = [3, 0.5] -> h = [3, 0.5] -> 3 - 1 + .5 = 2.5 ; row 1: z = [-1, 2] -> h = [0, 2] -> -4 + .5
    np.testing.assert_allclose(model.apply({"params": params}, x), [[2.5], [-3.5]])


def test_xavier_uniform_respects_seed_limit():
    model = MLP((128, 64, 1), kernel_init="xavier_uniform")
    k = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 30)))["params"]["hidden_0"]["kernel"]
    limit = np.sqrt(6 / (30 + 128))
    assert float(jnp.abs(k).max()) <= limit
    assert float(jnp.abs(k).max()) > 0.9 * limit  # actually spans the interval


def test_dropout_only_in_training():
    model = MLP((64, 2), dropout_rate=0.5)
    x = jnp.ones((4, 8))
    v = model.init(jax.random.PRNGKey(0), x)
    eval1 = model.apply(v, x, train=False)
    eval2 = model.apply(v, x, train=False)
    tr1 = model.apply(v, x, train=True, rngs={"dropout": jax.random.PRNGKey(1)})
    tr2 = model.apply(v, x, train=True, rngs={"dropout": jax.random.PRNGKey(2)})
    np.testing.assert_array_equal(eval1, eval2)
    assert not np.allclose(tr1, tr2)


@pytest.mark.parametrize("features", [(16, 0, 1), (-3, 1), (), (4.5, 1)])
def test_bad_widths_raise(features):
    with pytest.raises(ValueError, match="features"):
        MLP(features)


def test_bad_names_raise():
    with pytest.raises(ValueError, match="unknown activation 'relu6x'"):
        MLP((4, 1), activation="relu6x")
    with pytest.raises(ValueError, match="unknown kernel_init"):
        MLP((4, 1), kernel_init="orthogonalish")
    with pytest.raises(ValueError, match="dropout_rate"):
        MLP((4, 1), dropout_rate=1.0)


def test_wrong_rank_input_raises():
    model = MLP((4, 1))
    with pytest.raises(ValueError, match=r"x: \[batch, features\]"):
        model.init(jax.random.PRNGKey(0), jnp.zeros((2, 3, 4)))


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "leaky_relu"])
def test_overfits_a_tiny_batch(activation):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 5)).astype(np.float32)
    y = rng.integers(0, 3, 16).astype(np.int32)
    model = MLP((32, 3), activation=activation)
    state = create_state(model, make_optimizer("adam", 3e-2), jax.random.PRNGKey(0), x)
    r = fit(state, Classification(3), {"x": x, "y": y}, None,
            FitConfig(epochs=150, batch_size=16, progress=False))
    assert r.history["train_accuracy"][0, -1] == 1.0
    assert r.history["train_loss"][0, -1] < 0.1


def test_norm_layers_equal_their_closed_forms():
    """norm="batch": batch statistics in training (biased variance, eps 1e-5), running averages updated
    with momentum 0.9 and used in evaluation; norm="layer": per-example statistics. NumPy references."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 5)).astype(np.float32)
    for norm in ("batch", "layer"):
        model = MLP((6, 2), norm=norm, activation="linear")
        v = model.init(jax.random.PRNGKey(0), x)
        assert "bias" not in v["params"]["hidden_0"]  # the norm's offset replaces it
        z = x.astype(np.float64) @ np.asarray(v["params"]["hidden_0"]["kernel"], np.float64)
        axis = 0 if norm == "batch" else 1
        eps = 1e-5 if norm == "batch" else 1e-6
        h = (z - z.mean(axis, keepdims=True)) / np.sqrt(z.var(axis, keepdims=True) + eps)
        out = v["params"]["output"]
        want = h @ np.asarray(out["kernel"]) + np.asarray(out["bias"])  # fresh scale 1, offset 0
        if norm == "batch":
            got, new = model.apply(v, x, train=True, mutable=["batch_stats"])
            stats = new["batch_stats"]["norm_0"]
            np.testing.assert_allclose(stats["mean"], 0.1 * z.mean(0), rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(stats["var"], 0.9 + 0.1 * z.var(0), rtol=1e-5)
            ev = model.apply({**v, **new}, x, train=False)  # running averages, not this batch
            h_ev = (z - 0.1 * z.mean(0)) / np.sqrt(0.9 + 0.1 * z.var(0) + 1e-5)
            np.testing.assert_allclose(ev, h_ev @ np.asarray(out["kernel"]) + np.asarray(out["bias"]), rtol=1e-4,
                                       atol=1e-5)
        else:
            got = model.apply(v, x, train=True)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match=r"MLP.norm must be one of \(None, 'batch', 'layer'\), got 'group'"):
        MLP((4, 1), norm="group")


@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_normalised_mlp_overfits_a_tiny_batch(norm):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 5)).astype(np.float32)
    y = rng.integers(0, 3, 16).astype(np.int32)
    state = create_state(MLP((32, 32, 3), norm=norm), make_optimizer("adam", 3e-2), jax.random.PRNGKey(0), x)
    r = fit(state, Classification(3), {"x": x, "y": y}, {"x": x, "y": y},
            FitConfig(epochs=150, batch_size=16, progress=False))
    assert r.history["train_accuracy"][0, -1] == 1.0 and r.history["val_accuracy"][0, -1] == 1.0
