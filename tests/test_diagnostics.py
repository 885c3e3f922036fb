"""Diagnostics inside the compiled epoch, checked against NumPy and against autodiff outside the loop."""
import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxnets.models import MLP
from jaxnets.models.cnn import VGG
from jaxnets.train import (
    Classification,
    FitConfig,
    GANObjective,
    create_state,
    create_states,
    fit,
    loss_gradients,
    make_optimizer,
    make_schedule,
)

ONE_STEP = dict(shuffle=False, progress=False, diagnostics=True)


def _data(n=24, f=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, f)).astype(np.float32)
    return {"x": x, "y": (x[:, 0] > 0).astype(np.int32)}


def test_dead_fraction_equals_a_numpy_count_on_a_handcrafted_network():
    """Units 0 and 1 get a bias of -100 (zero on every example: dead); unit 2 is positive on only some
    examples (alive); the rest are ordinary. lr = 0, so the network is the same at every step."""
    d = _data()
    model = MLP((6, 1), activation="relu")
    st = create_state(model, optax.sgd(0.0), jax.random.PRNGKey(0), d["x"])
    kernel = np.asarray(st.params["hidden_0"]["kernel"]).copy()
    bias = np.zeros(6, np.float32)
    bias[:2] = -100.0
    kernel[:, 2], bias[2] = [1.0, 0.0, 0.0, 0.0], -0.5  # alive only where x0 > 0.5
    params = {**st.params, "hidden_0": {"kernel": jnp.asarray(kernel), "bias": jnp.asarray(bias)}}
    st = st.replace(params=params, opt_state=st.tx.init(params))
    h = np.maximum(d["x"] @ kernel + bias, 0.0)
    want = np.mean(~np.any(h != 0, axis=0))
    assert 0 < want < 1 and np.any(h[:, 2] == 0) and np.any(h[:, 2] > 0)
    r = fit(st, Classification(2), d, None, FitConfig(epochs=2, batch_size=8, **ONE_STEP))
    np.testing.assert_allclose(r.history["dead_fraction/activation_0"][0], [want, want])
    np.testing.assert_allclose(r.history["act_mean/activation_0"][0, 0],
                               np.mean([h[i:i + 8].mean() for i in (0, 8, 16)]), rtol=1e-5)
    assert np.isnan(r.history["learning_rate"]).all()  # a raw optax optimizer injects no rate


def test_gradient_update_and_activation_statistics_equal_references():
    """One full-batch step per epoch: gradient norms equal autodiff outside the loop; the SGD update
    ratio is lr·‖g‖ / max(‖w‖, ‖w - lr·g‖); activation mean/std equal NumPy's."""
    d = _data()
    lr = 0.1
    st = create_state(MLP((5, 1), activation="tanh"), make_optimizer("sgd", lr), jax.random.PRNGKey(1), d["x"])
    r = fit(st, Classification(2), d, None, FitConfig(epochs=1, batch_size=24, **ONE_STEP))
    g = loss_gradients(Classification(2), st, d)
    for layer in ("hidden_0", "output"):
        gk, w = np.asarray(g[layer]["kernel"], np.float64), np.asarray(st.params[layer]["kernel"], np.float64)
        np.testing.assert_allclose(r.history[f"grad_norm/{layer}/kernel"][0, 0], np.linalg.norm(gk), rtol=1e-5)
        ratio = lr * np.linalg.norm(gk) / max(np.linalg.norm(w), np.linalg.norm(w - lr * gk))
        np.testing.assert_allclose(r.history[f"update_ratio/{layer}/kernel"][0, 0], ratio, rtol=1e-5)
        np.testing.assert_allclose(r.history[f"param_norm/{layer}/kernel"][0, 0], np.linalg.norm(w - lr * gk),
                                   rtol=1e-5)
    flat = np.concatenate([np.ravel(v) for v in jax.tree_util.tree_leaves(g)])
    np.testing.assert_allclose(r.history["global_grad_norm"][0, 0], np.linalg.norm(flat), rtol=1e-5)
    h = np.tanh(d["x"] @ np.asarray(st.params["hidden_0"]["kernel"]) + np.asarray(st.params["hidden_0"]["bias"]))
    np.testing.assert_allclose(r.history["act_mean/activation_0"][0, 0], h.mean(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(r.history["act_std/activation_0"][0, 0], h.std(), rtol=1e-4)
    np.testing.assert_allclose(r.history["learning_rate"][0, 0], lr, rtol=1e-6)


def test_diagnostics_follow_the_schedule_and_leave_training_unchanged():
    d = _data(n=32)
    sched = make_schedule("cosine", 0.05, total_steps=8)
    st = create_states(MLP((6, 1)), make_optimizer("adam", sched, clip_norm=1.0), [0, 1], d["x"])
    cfg = FitConfig(epochs=4, batch_size=16, progress=False)
    plain = fit(st, Classification(2), d, None, cfg)
    diag = fit(st, Classification(2), d, None, FitConfig(epochs=4, batch_size=16, progress=False, diagnostics=True))
    chex.assert_trees_all_close(plain.state.params, diag.state.params, atol=1e-6)
    np.testing.assert_allclose(diag.history["train_loss"], plain.history["train_loss"], rtol=1e-6)
    # the rate in force at each of an epoch's two steps, averaged
    want = [(float(sched(2 * e)) + float(sched(2 * e + 1))) / 2 for e in range(4)]
    np.testing.assert_allclose(diag.history["learning_rate"][1], want, rtol=1e-5)
    assert diag.history["grad_norm/hidden_0/kernel"].shape == (2, 4)


def test_cnn_records_its_conv_blocks():
    rng = np.random.default_rng(0)
    d = {"x": rng.normal(size=(8, 8, 8, 1)).astype(np.float32), "y": rng.integers(0, 3, 8).astype(np.int32)}
    model = VGG(stages=((4,),), num_classes=3)
    st = create_state(model, make_optimizer("adam", 1e-3), jax.random.PRNGKey(0), d["x"])
    r = fit(st, Classification(3), d, None, FitConfig(epochs=1, batch_size=8, **ONE_STEP))
    dead = [k for k in r.history if k.startswith("dead_fraction/")]
    assert dead == ["dead_fraction/conv_0_0/activation"]  # VGG's ConvBlock of stage 0, conv 0
    assert all(0.0 <= r.history[k][0, 0] <= 1.0 for k in dead)


def test_diagnostics_plot_and_bad_configs(tmp_path):
    from jaxnets.plots import diagnostics

    d = _data()
    st = create_state(MLP((4, 1)), make_optimizer("sgd", 0.1), jax.random.PRNGKey(0), d["x"])
    r = fit(st, Classification(2), d, None, FitConfig(epochs=3, batch_size=8, **ONE_STEP))
    assert diagnostics(r.history, tmp_path / "d.png").stat().st_size > 0
    with pytest.raises(ValueError, match="no diagnostics"):
        diagnostics({"train_loss": r.history["train_loss"]}, tmp_path / "e.png")
    with pytest.raises(TypeError, match="FitConfig.diagnostics must be True or False"):
        FitConfig(epochs=1, diagnostics="yes")
    from jaxnets.train.step import make_train_step

    with pytest.raises(ValueError, match="one-player objectives.*players"):
        make_train_step(GANObjective(), diagnostics=True)
