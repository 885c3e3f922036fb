"""Objectives of the generative families: autoencoders (`Reconstruction`), VAEs (`ELBO`), GANs
(`GANObjective`). Same contract as `objectives.py`: `(apply_fn, params, variables, batch, rng, train) ->
(loss, (metric_sums, variables))`, so they train through the one generic step, loop and checkpoints.

They are unsupervised (`needs_labels = False`): batches need only "x" (and "mask"). Noise, latent
samples and the GAN's z are drawn from the step's key, so a resumed run draws the same numbers.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxnets.models.autoencoder import reparameterize
from jaxnets.nn.losses import kl_bernoulli, kl_normal, mse
from jaxnets.train.objectives import _masked_mean, module_of

Array = jax.Array

NOISES = ("none", "gaussian", "masking")
SPARSITIES = ("none", "l1", "kl")
GAN_LOSSES = ("non_saturating", "minimax")


def corrupt(key: Array, x: Array, noise: str, level: float) -> Array:
    """Denoising-autoencoder corruption. "gaussian": x + level·ε; "masking": each entry set to 0 with
    probability `level` (in [0, 1]); "none": x."""
    if noise == "gaussian":
        return x + level * jax.random.normal(key, x.shape, x.dtype)
    if noise == "masking":
        return jnp.where(jax.random.bernoulli(key, level, x.shape), 0.0, x).astype(x.dtype)
    return x


def check_noise(noise: str, level: float, owner: str = "noise") -> None:
    if noise not in NOISES:
        raise ValueError(f"{owner}: noise must be one of {NOISES}, got {noise!r}")
    if noise == "masking" and not 0.0 <= level <= 1.0:
        raise ValueError(f"{owner}: masking noise level is a probability and must be in [0, 1], got {level}")
    if noise == "gaussian" and level < 0:
        raise ValueError(f"{owner}: gaussian noise level (std) must be >= 0, got {level}")


def encoder_jacobian(model, params, x: Array) -> Array:
    """∂h/∂x for every example: x [batch, *input_shape] -> [batch, latent_dim, input size] (reverse mode:
    one vector-Jacobian product per code unit). model: a linen module or its `apply`."""
    apply = model.apply if isinstance(model, nn.Module) else model

    def code(xi):
        return apply({"params": params}, xi[None], method="encode")[0]

    jac = jax.vmap(jax.jacrev(code))(x)
    return jac.reshape(x.shape[0], jac.shape[1], -1)


def contractive_penalty(model, params, x: Array) -> Array:
    """‖∂h/∂x‖²_F per example [batch] — the contractive autoencoder's penalty (Rifai et al. 2011)."""
    return jnp.sum(jnp.square(encoder_jacobian(model, params, x)), axis=(1, 2))


@dataclasses.dataclass(frozen=True)
class Reconstruction:
    """Autoencoder objective: mean squared reconstruction error of the clean x, plus optional
    denoising corruption of the input, a sparsity penalty on the code and a contractive penalty.

    noise / noise_level: "gaussian" (std) or "masking" (drop probability in [0, 1]); the corruption is
      drawn from the step's key in training and from the state's fixed key in evaluation, so the
      validation loss measures denoising too.
    sparsity: "l1" (weight · Σ_j |h_j|, per example) or "kl" (weight · Σ_j KL(ρ ‖ ρ̂_j), ρ̂_j = the
      batch-mean activation of unit j; needs a sigmoid code); sparsity_target = ρ.
    contractive: weight on ‖∂h/∂x‖²_F (computed with autodiff).
    batch: {"x": [b, ...], "mask": [b]}. Metrics: loss (reconstruction MSE), penalty, count.
    """

    noise: str = "none"
    noise_level: float = 0.0
    sparsity: str = "none"
    sparsity_weight: float = 0.0
    sparsity_target: float = 0.05
    contractive: float = 0.0
    needs_labels = False

    def __post_init__(self):
        check_noise(self.noise, self.noise_level, "Reconstruction")
        if self.sparsity not in SPARSITIES:
            raise ValueError(f"Reconstruction.sparsity must be one of {SPARSITIES}, got {self.sparsity!r}")
        if self.sparsity_weight < 0 or self.contractive < 0:
            raise ValueError("Reconstruction: sparsity_weight and contractive must be >= 0, got "
                             f"{self.sparsity_weight} and {self.contractive}")
        if not 0.0 < self.sparsity_target < 1.0:
            raise ValueError(f"Reconstruction.sparsity_target must be in (0, 1), got {self.sparsity_target}")

    def __call__(self, apply_fn, params, variables, batch: dict, rng: Array, train: bool):
        code = getattr(module_of(apply_fn, "Reconstruction"), "code_activation", None)
        if self.sparsity == "kl" and code != "sigmoid":
            raise ValueError("Reconstruction(sparsity='kl') needs codes in (0, 1): build the Autoencoder with "
                             "code_activation='sigmoid'")
        x, mask = batch["x"], batch["mask"]
        x_in = corrupt(rng, x, self.noise, self.noise_level)
        h = apply_fn({"params": params}, x_in, method="encode")
        x_hat = apply_fn({"params": params}, h, method="decode")
        loss, loss_sum = _masked_mean(mse(x_hat, x), mask)
        penalty = jnp.zeros(x.shape[0], x.dtype)
        if self.sparsity == "l1":
            penalty = penalty + self.sparsity_weight * jnp.sum(jnp.abs(h), axis=-1)
        if self.sparsity == "kl":
            rate = jnp.sum(h * mask[:, None], 0) / jnp.maximum(jnp.sum(mask), 1.0)
            penalty = penalty + self.sparsity_weight * jnp.sum(kl_bernoulli(self.sparsity_target, rate))
        if self.contractive:
            penalty = penalty + self.contractive * contractive_penalty(apply_fn, params, x_in)
        mean_penalty, penalty_sum = _masked_mean(penalty, mask)
        metrics = {"loss_sum": loss_sum, "penalty_sum": penalty_sum, "count": jnp.sum(mask)}
        return loss + mean_penalty, (metrics, variables)


@dataclasses.dataclass(frozen=True)
class ELBO:
    """VAE objective: −ELBO = E_q[−log p(x|z)] + β_t · KL(q(z|x) ‖ N(0, I)), one reparameterised sample.

    beta: β (β-VAE; 1 = the true bound, must be >= 0); kl_warmup_steps: KL annealing, β_t = β ·
    min(1, step / kl_warmup_steps) in training (0 = off; evaluation uses β). The likelihood is the
    model's: Bernoulli (summed BCE from logits) or Gaussian with unit variance (½‖x − x̂‖²), summed
    over the input.
    Metrics: loss (the β_t-weighted objective), neg_elbo (β = 1), recon (−log p(x|z)), kl, mse, count.
    """

    beta: float = 1.0
    kl_warmup_steps: int = 0
    needs_labels = False

    def __post_init__(self):
        if not self.beta >= 0:
            raise ValueError(f"ELBO.beta must be >= 0 (β weighs a KL divergence), got {self.beta}")
        if not isinstance(self.kl_warmup_steps, int) or self.kl_warmup_steps < 0:
            raise ValueError(f"ELBO.kl_warmup_steps must be an int >= 0, got {self.kl_warmup_steps!r}")

    def beta_at(self, step: Array) -> Array:
        if not self.kl_warmup_steps:
            return jnp.asarray(self.beta, jnp.float32)
        return self.beta * jnp.minimum(1.0, step.astype(jnp.float32) / self.kl_warmup_steps)

    def __call__(self, apply_fn, params, variables, batch: dict, rng: Array, train: bool):
        x, mask = batch["x"], batch["mask"]
        mean, log_var = apply_fn({"params": params}, x, method="encode")
        z = reparameterize(rng, mean, log_var)
        out = apply_fn({"params": params}, z, logits=True, method="decode")
        flat = lambda a: a.reshape(a.shape[0], -1)
        if module_of(apply_fn, "ELBO").likelihood == "bernoulli":
            recon = jnp.sum(jax.nn.softplus(flat(out)) - flat(out) * flat(x), axis=-1)
            x_hat = jax.nn.sigmoid(out)
        else:
            recon = 0.5 * jnp.sum(jnp.square(flat(out) - flat(x)), axis=-1)
            x_hat = out
        kl = kl_normal(mean, log_var)
        # Evaluation always uses the full β: a validation loss weighted by the annealed β_t would rise
        # during warm-up and make early stopping keep a barely regularised early epoch.
        beta = self.beta_at(batch["step"]) if (train and "step" in batch) else self.beta
        loss, loss_sum = _masked_mean(recon + beta * kl, mask)
        metrics = {"loss_sum": loss_sum, "neg_elbo_sum": jnp.sum((recon + kl) * mask),
                   "recon_sum": jnp.sum(recon * mask), "kl_sum": jnp.sum(kl * mask),
                   "mse_sum": jnp.sum(mse(x_hat, x) * mask), "count": jnp.sum(mask)}
        return loss, (metrics, variables)


@dataclasses.dataclass(frozen=True)
class GANObjective:
    """Two-player objective for `models.GAN`; the generic step updates "discriminator" then "generator".

    D minimises −log D(x) − log(1 − D(G(z))) = softplus(−d_real) + softplus(d_fake) (from logits).
    G minimises, with loss="non_saturating", −log D(G(z)) = softplus(−d_fake) (strong gradients when D
    wins, Goodfellow et al. 2014), or with loss="minimax" (the seed's form) log(1 − D(G(z))) = −softplus(d_fake).
    r1: weight γ of the R1 penalty γ/2 · ‖∇_x D(x)‖² on real data, added to D's loss (Mescheder et
    al. 2018): it keeps D from growing steep around the data, which damps the oscillation that
    makes a GAN hop between modes. 0 = off (the plain GAN).
    sample_metrics: optional (fake [b, ...], real [b, ...]) -> {name: per-example values [b] or [b, k]},
    summed in evaluation (e.g. `metrics.ring_mode_metrics` for mode coverage).
    Metrics: loss (= d_loss + g_loss), d_loss, g_loss, d_real / d_fake (mean D probability), count.
    """

    loss: str = "non_saturating"
    r1: float = 0.0
    sample_metrics: Callable | None = None
    players = ("discriminator", "generator")
    needs_labels = False

    def __post_init__(self):
        if self.loss not in GAN_LOSSES:
            raise ValueError(f"GANObjective.loss must be one of {GAN_LOSSES}, got {self.loss!r}")
        if not self.r1 >= 0:
            raise ValueError(f"GANObjective.r1 must be >= 0, got {self.r1}")

    def __call__(self, apply_fn, params, variables, batch: dict, rng: Array, train: bool, player: str | None = None):
        x, mask = batch["x"], batch["mask"]
        v = {"params": params}
        z = jax.random.normal(rng, (x.shape[0], module_of(apply_fn, "GANObjective").latent_dim), x.dtype)
        fake = apply_fn(v, z, method="generate")
        d_fake = apply_fn(v, fake, method="discriminate")
        d_real = apply_fn(v, x, method="discriminate")
        d_loss_ex = jax.nn.softplus(-d_real) + jax.nn.softplus(d_fake)
        if self.r1 and player == "discriminator":
            grad_x = jax.grad(lambda xr: jnp.sum(apply_fn(v, xr, method="discriminate")))(x)
            d_loss_ex = d_loss_ex + 0.5 * self.r1 * jnp.sum(jnp.square(grad_x).reshape(x.shape[0], -1), axis=1)
        g_loss_ex = jax.nn.softplus(-d_fake) if self.loss == "non_saturating" else -jax.nn.softplus(d_fake)
        d_loss, d_sum = _masked_mean(d_loss_ex, mask)
        g_loss, g_sum = _masked_mean(g_loss_ex, mask)
        metrics = {"loss_sum": d_sum + g_sum, "d_loss_sum": d_sum, "g_loss_sum": g_sum,
                   "d_real_sum": jnp.sum(jax.nn.sigmoid(d_real) * mask),
                   "d_fake_sum": jnp.sum(jax.nn.sigmoid(d_fake) * mask), "count": jnp.sum(mask)}
        if not train and self.sample_metrics is not None:
            for k, val in self.sample_metrics(fake, x).items():
                metrics[k] = jnp.sum(val * mask.reshape(mask.shape + (1,) * (val.ndim - 1)), axis=0)
        loss = {"discriminator": d_loss, "generator": g_loss}.get(player, d_loss + g_loss)
        return loss, (metrics, variables)
