"""GAN: both players in one params tree, alternating updates in the one jitted step, losses in closed
form, both players checkpointed together, and a GAN that fits a point mass."""
import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxnets.checkpoint import Checkpointer
from jaxnets.data import gaussian_ring, ring_centers
from jaxnets.generative_metrics import modes_covered, ring_mode_metrics
from jaxnets.models import GAN
from jaxnets.models.gan import generate
from jaxnets.train import (
    FitConfig,
    GANObjective,
    create_state,
    create_states,
    fit,
    make_optimizer,
    make_train_step,
    player_optimizers,
)
from jaxnets.train.epoch import init_carry


def _gan(**kw):
    return GAN(data_shape=(2,), latent_dim=3, generator_features=(8,), discriminator_features=(8,), **kw)


def test_gan_shapes_and_errors():
    gan = _gan()
    x = jnp.ones((5, 2))
    params = gan.init(jax.random.PRNGKey(0), x)["params"]
    assert set(params) == {"generator", "discriminator"}
    chex.assert_shape(gan.apply({"params": params}, x), (5,))
    chex.assert_shape(generate(gan, params, jax.random.PRNGKey(1), 7), (7, 2))
    with pytest.raises(ValueError, match=r"expects z: \[batch, 3\]"):
        gan.apply({"params": params}, jnp.ones((4, 2)), method="generate")
    with pytest.raises(ValueError, match="expects x"):
        gan.apply({"params": params}, jnp.ones((4, 3)), method="discriminate")
    with pytest.raises(ValueError, match="loss must be one of"):
        GANObjective(loss="wasserstein")
    with pytest.raises(ValueError, match="r1 must be >= 0"):
        GANObjective(r1=-1.0)
    with pytest.raises(ValueError, match="non-empty dict"):
        player_optimizers()
    with pytest.raises(ValueError, match="one entry per player"):
        player_optimizers(generator=optax.sgd(0.1)).init(params)


def test_losses_in_closed_form():
    gan = _gan()
    x = jax.random.normal(jax.random.PRNGKey(0), (6, 2))
    params = gan.init(jax.random.PRNGKey(1), x)["params"]
    batch = {"x": x, "mask": jnp.ones(6)}
    key = jax.random.PRNGKey(2)
    fake = gan.apply({"params": params}, jax.random.normal(key, (6, 3)), method="generate")
    p_real = jax.nn.sigmoid(gan.apply({"params": params}, x, method="discriminate"))
    p_fake = jax.nn.sigmoid(gan.apply({"params": params}, fake, method="discriminate"))
    d_loss = -jnp.mean(jnp.log(p_real) + jnp.log(1 - p_fake))
    for loss, g_loss in (("non_saturating", -jnp.mean(jnp.log(p_fake))), ("minimax", jnp.mean(jnp.log(1 - p_fake)))):
        obj = GANObjective(loss=loss)
        ld, _ = obj(gan.apply, params, {}, batch, key, True, player="discriminator")
        lg, (m, _) = obj(gan.apply, params, {}, batch, key, True, player="generator")
        np.testing.assert_allclose([ld, lg], [d_loss, g_loss], rtol=1e-5)
        np.testing.assert_allclose(m["d_real_sum"] / 6, jnp.mean(p_real), rtol=1e-5)


def test_r1_penalty_value():
    gan = _gan()
    x = jax.random.normal(jax.random.PRNGKey(0), (4, 2))
    params = gan.init(jax.random.PRNGKey(1), x)["params"]
    batch, key = {"x": x, "mask": jnp.ones(4)}, jax.random.PRNGKey(2)
    base, _ = GANObjective()(gan.apply, params, {}, batch, key, True, player="discriminator")
    with_r1, _ = GANObjective(r1=2.0)(gan.apply, params, {}, batch, key, True, player="discriminator")
    eps = 1e-3
    d = lambda xx: gan.apply({"params": params}, xx, method="discriminate")
    grad_fd = jnp.stack([(d(x + eps * e[None]) - d(x - eps * e[None])) / (2 * eps) for e in jnp.eye(2)], axis=1)
    np.testing.assert_allclose(with_r1 - base, 0.5 * 2.0 * jnp.mean(jnp.sum(grad_fd**2, axis=1)), rtol=1e-2)
    g_base, _ = GANObjective()(gan.apply, params, {}, batch, key, True, player="generator")
    g_r1, _ = GANObjective(r1=2.0)(gan.apply, params, {}, batch, key, True, player="generator")
    assert float(g_base) == float(g_r1)  # the penalty is the discriminator's alone


def test_step_alternates_discriminator_then_generator():
    """The generic step updates D first, then G against the *updated* D — checked against a manual
    two-phase update with the same keys."""
    gan = _gan()
    x = jax.random.normal(jax.random.PRNGKey(0), (8, 2))
    tx = player_optimizers(discriminator=optax.sgd(0.1), generator=optax.adam(0.01))
    state = create_state(gan, tx, jax.random.PRNGKey(3), x)
    obj = GANObjective()
    batch = {"x": x, "mask": jnp.ones(8)}
    new, metrics = jax.jit(make_train_step(obj))(state, batch)

    rng = jax.random.fold_in(state.rng, state.step)
    b = {**batch, "step": state.step}
    p = dict(state.params)
    gd = jax.grad(lambda d: obj(gan.apply, {**p, "discriminator": d}, {}, b, jax.random.fold_in(rng, 0), True,
                                player="discriminator")[0])(p["discriminator"])
    p["discriminator"] = jax.tree_util.tree_map(lambda w, g: w - 0.1 * g, p["discriminator"], gd)
    gg = jax.grad(lambda g: obj(gan.apply, {**p, "generator": g}, {}, b, jax.random.fold_in(rng, 1), True,
                                player="generator")[0])(p["generator"])
    upd, _ = optax.adam(0.01).update(gg, state.opt_state["generator"], p["generator"])
    p["generator"] = optax.apply_updates(p["generator"], upd)
    chex.assert_trees_all_close(new.params, p, rtol=1e-5, atol=1e-6)
    assert int(new.step) == 1 and set(metrics) >= {"d_loss_sum", "g_loss_sum", "loss_sum", "count"}
    assert int(new.opt_state["generator"][0].count) == 1  # adam's state: the generator's own


def test_both_players_checkpoint_bit_exactly(tmp_path):
    gan = _gan()
    x = np.random.default_rng(0).normal(size=(32, 2)).astype(np.float32)
    tx = player_optimizers(discriminator=make_optimizer("adam", 1e-3), generator=make_optimizer("adam", 1e-3))
    r = fit(create_states(gan, tx, [0, 1], x), GANObjective(), {"x": x},
            config=FitConfig(epochs=3, batch_size=16, progress=False))
    carry = init_carry(r.state)
    logs = {"train": {"loss_sum": np.ones((2, 3)), "count": np.ones((2, 3))},
            "val": {"loss_sum": np.ones((2, 3)), "count": np.ones((2, 3))}, "ran": np.ones((2, 3), bool)}
    ck = Checkpointer(tmp_path)
    ck.save(3, carry, logs)
    restored, _, _ = ck.restore(init_carry(create_states(gan, tx, [7, 8], x)))
    chex.assert_trees_all_equal(restored, carry)
    ck.close()


def test_gan_fits_a_point_mass():
    """Overfit check: with all data at one point the generator must put its samples there (the "Dirac
    GAN", where an unregularised GAN oscillates and R1 converges: Mescheder et al. 2018)."""
    target = np.array([1.5, -0.5], np.float32)
    x = np.tile(target, (1024, 1))
    gan = _gan()
    adam = make_optimizer("adam", 2e-3, b1=0.5)
    tx = player_optimizers(discriminator=adam, generator=adam)
    r = fit(create_states(gan, tx, [0], x), GANObjective(r1=1.0), {"x": x},
            config=FitConfig(epochs=80, batch_size=64, progress=False))
    samples = generate(gan, jax.tree_util.tree_map(lambda a: a[0], r.state.params), jax.random.PRNGKey(5), 500)
    assert float(jnp.mean(jnp.linalg.norm(samples - target[None], axis=1))) < 0.1


def test_ring_mode_metrics():
    centers = ring_centers(8, 2.0)
    m = ring_mode_metrics(centers, std=0.02)(jnp.asarray(centers), None)
    chex.assert_trees_all_equal(m["high_quality"], jnp.ones(8))
    chex.assert_trees_all_equal(m["mode_hits"], jnp.eye(8))
    far = ring_mode_metrics(centers, std=0.02)(jnp.zeros((3, 2)), None)
    assert float(far["high_quality"].sum()) == 0 and float(far["mode_hits"].sum()) == 0
    data = gaussian_ring(4000, seed=0)
    hits = ring_mode_metrics(centers, std=0.02)(jnp.asarray(data["x"]), None)
    assert float(hits["high_quality"].mean()) > 0.98  # 3σ holds ~98.9 % of a 2-D Gaussian
    good = np.asarray(hits["high_quality"]) == 1
    np.testing.assert_array_equal(np.argmax(np.asarray(hits["mode_hits"]), 1)[good], data["y"][good])
    assert modes_covered(np.asarray(hits["mode_hits"]).mean(0)) == 8
    assert modes_covered(np.array([0.5, 0.5, 0, 0.005])) == 2
