"""Autoencoders and VAEs: shapes, penalties against finite differences / closed forms, linear AE = PCA,
bad configs, and overfit-a-batch through the one generic engine."""
import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jaxnets.data import load_digit_images
from jaxnets.models import VAE, Autoencoder, active_units, interpolate, reparameterize
from jaxnets.models.autoencoder import decode, encode, sample
from jaxnets.nn import kl_bernoulli, kl_normal
from jaxnets.train import (
    ELBO,
    Classification,
    FitConfig,
    Reconstruction,
    contractive_penalty,
    corrupt,
    create_state,
    create_states,
    encoder_jacobian,
    fit,
    make_optimizer,
)


@pytest.fixture(scope="module")
def digits():
    return np.asarray(load_digit_images().x, np.float32)  # [1797, 8, 8, 1] in [0, 1]


@pytest.mark.parametrize("kind,shape,hidden", [("mlp", (64,), (32,)), ("mlp", (8, 8, 1), (32, 16)),
                                               ("conv", (8, 8, 1), (4, 8))])
def test_autoencoder_shapes(kind, shape, hidden):
    ae = Autoencoder(input_shape=shape, latent_dim=3, hidden=hidden, kind=kind)
    x = jnp.ones((5, *shape))
    params = ae.init(jax.random.PRNGKey(0), x)["params"]
    assert set(params) == {"encoder", "decoder"}
    chex.assert_shape(ae.apply({"params": params}, x), (5, *shape))
    chex.assert_shape(encode(ae, params, x), (5, 3))
    chex.assert_shape(decode(ae, params, jnp.zeros((7, 3))), (7, *shape))
    with pytest.raises(ValueError, match=r"expects x: \[batch"):
        ae.apply({"params": params}, jnp.ones((5, 65)))


@pytest.mark.parametrize("kind,hidden", [("mlp", (16,)), ("conv", (4, 8))])
def test_vae_shapes_sample_interpolate(kind, hidden):
    vae = VAE(input_shape=(8, 8, 1), latent_dim=2, hidden=hidden, kind=kind)
    x = jax.random.uniform(jax.random.PRNGKey(1), (4, 8, 8, 1))
    params = vae.init(jax.random.PRNGKey(0), x)["params"]
    mean, log_var = vae.apply({"params": params}, x, method="encode")
    chex.assert_shape([mean, log_var], (4, 2))
    s = sample(vae, params, jax.random.PRNGKey(2), 6)
    chex.assert_shape(s, (6, 8, 8, 1))
    assert float(s.min()) >= 0 and float(s.max()) <= 1  # Bernoulli means
    path = interpolate(vae, params, x[0], x[1], steps=5)
    chex.assert_shape(path, (5, 8, 8, 1))
    chex.assert_trees_all_close(path[0], vae.apply({"params": params}, x[:1])[0], atol=1e-6)
    chex.assert_trees_all_close(path[-1], vae.apply({"params": params}, x[1:2])[0], atol=1e-6)


def test_bad_configs_raise_clear_errors():
    with pytest.raises(ValueError, match="undercomplete"):
        Autoencoder(input_shape=(64,), latent_dim=64)
    Autoencoder(input_shape=(64,), latent_dim=128, overcomplete=True)  # documented opt-out
    with pytest.raises(ValueError, match="latent_dim must be a positive int"):
        Autoencoder(input_shape=(64,), latent_dim=0)
    with pytest.raises(ValueError, match="divisible"):
        Autoencoder(input_shape=(6, 6, 1), latent_dim=4, hidden=(4, 8), kind="conv")
    with pytest.raises(ValueError, match="kind must be one of"):
        Autoencoder(input_shape=(64,), latent_dim=4, kind="rnn")
    with pytest.raises(ValueError, match="unknown activation"):
        Autoencoder(input_shape=(64,), latent_dim=4, activation="swishy")
    ae = Autoencoder(input_shape=(64,), latent_dim=4)
    with pytest.raises(ValueError, match=r"masking noise level .* \[0, 1\]"):
        Reconstruction(noise="masking", noise_level=1.5)
    with pytest.raises(ValueError, match=r"masking noise level"):
        Reconstruction(noise="masking", noise_level=-0.1)
    with pytest.raises(ValueError, match="noise must be one of"):
        Reconstruction(noise="salt")
    x = np.zeros((4, 64), np.float32)  # the code's range is the state's model's: checked when traced
    with pytest.raises(ValueError, match="code_activation='sigmoid'"):
        fit(create_state(ae, make_optimizer("adam", 1e-2), jax.random.PRNGKey(0), x),
            Reconstruction(sparsity="kl", sparsity_weight=1.0), {"x": x}, config=FitConfig(epochs=1, progress=False))
    with pytest.raises(ValueError, match="beta must be >= 0"):
        ELBO(beta=-1.0)
    with pytest.raises(ValueError, match="likelihood must be one of"):
        VAE(input_shape=(64,), likelihood="poisson")


def test_unsupervised_fit_needs_no_labels_but_classification_does():
    x = np.random.default_rng(0).normal(size=(20, 6)).astype(np.float32)
    ae = Autoencoder(input_shape=(6,), latent_dim=2, hidden=(8,))
    stt = create_state(ae, make_optimizer("adam", 1e-2), jax.random.PRNGKey(0), x)
    fit(stt, Reconstruction(), {"x": x}, config=FitConfig(epochs=1, progress=False))
    with pytest.raises(TypeError, match="'x' and 'y'"):
        fit(stt, Classification(2), {"x": x}, config=FitConfig(epochs=1, progress=False))
    with pytest.raises(ValueError, match="per-example shape"):
        fit(stt, Reconstruction(), {"x": x[:, :5]}, config=FitConfig(epochs=1, progress=False))


def test_contractive_penalty_matches_finite_differences_and_closed_form():
    """Autodiff Jacobian vs central differences; and for a one-layer sigmoid encoder the closed form
    ‖J‖²_F = Σ_j (h_j (1 − h_j))² Σ_i W_ij² (Rifai et al. 2011)."""
    jax.config.update("jax_enable_x64", True)
    try:
        ae = Autoencoder(input_shape=(5,), latent_dim=3, hidden=(), code_activation="sigmoid")
        x = jax.random.normal(jax.random.PRNGKey(0), (4, 5), jnp.float64)
        params = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64),
                                        ae.init(jax.random.PRNGKey(1), x)["params"])
        jac = encoder_jacobian(ae, params, x)
        chex.assert_shape(jac, (4, 3, 5))
        eps = 1e-6
        enc = lambda xx: ae.apply({"params": params}, xx, method="encode")
        fd = jnp.stack([(enc(x + eps * e[None]) - enc(x - eps * e[None])) / (2 * eps) for e in jnp.eye(5)], axis=-1)
        np.testing.assert_allclose(jac, fd, rtol=1e-6, atol=1e-9)
        h = enc(x)
        w = params["encoder"]["output"]["kernel"]  # [5, 3]
        closed = jnp.sum(jnp.square(h * (1 - h)) * jnp.sum(jnp.square(w), axis=0)[None], axis=1)
        np.testing.assert_allclose(contractive_penalty(ae, params, x), closed, rtol=1e-10)
    finally:
        jax.config.update("jax_enable_x64", False)


@given(st.lists(st.floats(-3, 3), min_size=2, max_size=6), st.lists(st.floats(-3, 3), min_size=2, max_size=6))
def test_kl_normal_closed_form_properties(mean, log_var):
    n = min(len(mean), len(log_var))
    m, lv = jnp.asarray(mean[:n])[None], jnp.asarray(log_var[:n])[None]
    kl = float(kl_normal(m, lv)[0])
    assert kl >= -1e-5
    expected = sum(0.5 * (a * a + np.exp(b) - b - 1) for a, b in zip(mean[:n], log_var[:n]))
    np.testing.assert_allclose(kl, expected, rtol=1e-4, atol=1e-5)
    assert float(kl_normal(jnp.zeros((1, n)), jnp.zeros((1, n)))[0]) == 0.0


def test_kl_normal_matches_monte_carlo():
    m, lv = jnp.array([[0.7, -1.2]]), jnp.array([[-0.5, 0.8]])
    z = reparameterize(jax.random.PRNGKey(0), jnp.broadcast_to(m, (200_000, 2)), jnp.broadcast_to(lv, (200_000, 2)))
    log_q = jax.scipy.stats.norm.logpdf(z, m, jnp.exp(0.5 * lv)).sum(-1)
    log_p = jax.scipy.stats.norm.logpdf(z).sum(-1)
    np.testing.assert_allclose(float(jnp.mean(log_q - log_p)), float(kl_normal(m, lv)[0]), rtol=0.02)


def test_kl_bernoulli_and_corruption():
    np.testing.assert_allclose(kl_bernoulli(0.05, jnp.array(0.05)), 0.0, atol=1e-7)
    r = 0.3
    np.testing.assert_allclose(kl_bernoulli(0.05, jnp.array(r)), 0.05 * np.log(0.05 / r) + 0.95 * np.log(0.95 / 0.7),
                               rtol=1e-5)
    assert np.isfinite(float(kl_bernoulli(0.05, jnp.array(0.0))))
    x = jnp.ones((200, 100))
    masked = corrupt(jax.random.PRNGKey(0), x, "masking", 0.3)
    assert abs(float(jnp.mean(masked == 0)) - 0.3) < 0.01
    noisy = corrupt(jax.random.PRNGKey(0), x, "gaussian", 0.5)
    assert abs(float(jnp.std(noisy - x)) - 0.5) < 0.01
    chex.assert_trees_all_equal(corrupt(jax.random.PRNGKey(0), x, "none", 0.0), x)


def test_elbo_kl_annealing_schedule():
    vae = VAE(input_shape=(4,), latent_dim=2, hidden=(8,))
    obj = ELBO(beta=4.0, kl_warmup_steps=100)
    np.testing.assert_allclose([float(obj.beta_at(jnp.asarray(s))) for s in (0, 50, 100, 500)], [0, 2, 4, 4])
    assert float(ELBO(beta=0.5).beta_at(jnp.asarray(0))) == 0.5
    # In evaluation the loss uses the full β at any step (comparable across epochs for early stopping).
    x = jnp.ones((3, 4)) * 0.5
    params = vae.init(jax.random.PRNGKey(0), x)["params"]
    batch = {"x": x, "mask": jnp.ones(3), "step": jnp.asarray(0)}
    key = jax.random.PRNGKey(1)
    _, (m, _) = obj(vae.apply, params, {}, batch, key, False)
    np.testing.assert_allclose(m["loss_sum"], m["recon_sum"] + 4.0 * m["kl_sum"], rtol=1e-5)
    _, (m, _) = obj(vae.apply, params, {}, batch, key, True)
    np.testing.assert_allclose(m["loss_sum"], m["recon_sum"], rtol=1e-5)  # β_0 = 0 while training


class TestObjectiveJitAndNoJit(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_reconstruction_and_elbo_agree(self):
        x = jax.random.uniform(jax.random.PRNGKey(0), (6, 8, 8, 1))
        batch = {"x": x, "mask": jnp.ones(6), "step": jnp.asarray(3)}
        for model, obj in [
            (Autoencoder(input_shape=(8, 8, 1), latent_dim=4, hidden=(16,), code_activation="sigmoid"),
             Reconstruction(noise="gaussian", noise_level=0.1, sparsity="kl", sparsity_weight=0.1,
                            contractive=0.01)),
            (VAE(input_shape=(8, 8, 1), latent_dim=2, hidden=(16,)), ELBO(beta=2.0, kl_warmup_steps=10)),
        ]:
            params = model.init(jax.random.PRNGKey(1), x)["params"]
            fn = self.variant(lambda p, b, obj=obj, f=model.apply: obj(f, p, {}, b, jax.random.PRNGKey(2), True))
            loss, (metrics, _) = fn(params, batch)
            ref_loss, (ref_metrics, _) = obj(model.apply, params, {}, batch, jax.random.PRNGKey(2), True)
            chex.assert_trees_all_close((loss, metrics), (ref_loss, ref_metrics), rtol=1e-5)
            assert np.isfinite(float(loss))


def _fit(model, obj, x, epochs, lr=3e-3, seeds=(0,), batch_size=64):
    states = create_states(model, make_optimizer("adam", lr), list(seeds), x)
    return fit(states, obj, {"x": x}, config=FitConfig(epochs=epochs, batch_size=batch_size, progress=False))


@pytest.mark.parametrize("kind", ["mlp", "conv"])
def test_autoencoder_overfits_a_batch(digits, kind):
    x = digits[:32]
    ae = Autoencoder(input_shape=(8, 8, 1), latent_dim=16, hidden=(64,) if kind == "mlp" else (8, 16), kind=kind)
    r = _fit(ae, Reconstruction(), x, epochs=300, batch_size=32)
    assert r.history["train_loss"][0, -1] < 0.1 * r.history["train_loss"][0, 0], r.history["train_loss"][0, ::50]


def test_vae_overfits_a_batch(digits):
    x = digits[:32]
    vae = VAE(input_shape=(8, 8, 1), latent_dim=4, hidden=(64,))
    r = _fit(vae, ELBO(), x, epochs=300, batch_size=32)
    mse = r.history["train_mse"][0]
    assert mse[-1] < 0.5 * mse[0] and r.history["train_kl"][0, -1] > 0


def test_denoising_and_sparsity_change_what_is_learned(digits):
    """Denoising: the trained DAE maps masked digits closer to the clean ones than the corruption was.
    KL sparsity: mean code activation moves to the target ρ = 0.05 (vs ~0.5 without the penalty)."""
    x = digits[:512].reshape(512, -1)
    dae = Autoencoder(input_shape=(64,), latent_dim=32, hidden=(128,), output_activation="sigmoid")
    obj = Reconstruction(noise="masking", noise_level=0.3)
    r = _fit(dae, obj, x, epochs=60)
    params = jax.tree_util.tree_map(lambda a: a[0], r.state.params)
    noisy = corrupt(jax.random.PRNGKey(9), jnp.asarray(x), "masking", 0.3)
    out = dae.apply({"params": params}, noisy)
    assert float(jnp.mean((out - x) ** 2)) < 0.5 * float(jnp.mean((noisy - x) ** 2))

    sae = Autoencoder(input_shape=(64,), latent_dim=48, hidden=(), code_activation="sigmoid", overcomplete=True)
    rates = {}
    for w in (0.0, 1.0):
        r = _fit(sae, Reconstruction(sparsity="kl", sparsity_weight=w, sparsity_target=0.05), x, epochs=60)
        h = encode(sae, jax.tree_util.tree_map(lambda a: a[0], r.state.params), jnp.asarray(x))
        rates[w] = float(jnp.mean(h))
    assert rates[1.0] < 0.1 < rates[0.0], rates


def test_linear_autoencoder_matches_pca(digits):
    """A linear AE trained on MSE reaches PCA's reconstruction error (PCA is the optimum for a linear
    code of that size: Baldi & Hornik 1989) and spans the same subspace."""
    x = digits.reshape(len(digits), -1)
    k = 4
    centered = x - x.mean(0)
    _, _, vt = np.linalg.svd(centered, full_matrices=False)
    basis = vt[:k]
    pca_mse = float(np.mean((centered - centered @ basis.T @ basis) ** 2))
    ae = Autoencoder(input_shape=(64,), latent_dim=k, hidden=())
    r = _fit(ae, Reconstruction(), x, epochs=150, lr=1e-2, batch_size=128)
    params = jax.tree_util.tree_map(lambda a: a[0], r.state.params)
    ae_mse = float(jnp.mean((ae.apply({"params": params}, x) - x) ** 2))
    assert pca_mse * 0.999 < ae_mse < pca_mse * 1.02, (ae_mse, pca_mse)
    w = np.asarray(params["decoder"]["output"]["kernel"])  # [k, 64]: the decoder's span
    q, _ = np.linalg.qr(w.T)
    cosines = np.linalg.svd(basis @ q, compute_uv=False)  # cosines of the principal angles
    assert cosines.min() > 0.98, cosines


def test_active_units_detects_collapse():
    rng = np.random.default_rng(0)
    means = np.stack([rng.normal(size=500), 1e-3 * rng.normal(size=500), np.zeros(500)], axis=1)
    assert active_units(jnp.asarray(means)) == 1
