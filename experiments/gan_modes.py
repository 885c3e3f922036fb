"""Mode coverage of GANs, measured: the 8-Gaussian ring, then a small GAN on digits.

    python -m experiments.gan_modes [--seeds N] [--quick]

Ring: 8 Gaussians (std 0.02) on a circle of radius 2 (Metz et al. 2017). After every epoch the
generator draws 2,000 samples; a sample is *high quality* within 3 std of its nearest centre, and a
mode is *covered* when it holds at least 1 % of all samples as high-quality ones. Settings (all Adam
β1 = 0.5, 100 epochs of 20,000 points, batch 256): the non-saturating loss with and without the R1
penalty, the seed's minimax loss, and `low_lr_constant` (learning rate 2e-4, not decayed), which
in our runs collapses onto about half of the modes. The other settings' learning rates decay to 0
(cosine), so the final generator is not caught mid-oscillation.

Digits: an MLP GAN on the 8x8 training digits (pixels in [0, 1]); a sample grid, and how many of
the 10 digit classes its samples cover, judged by a logistic-regression classifier trained on the
real digits (a class is covered when ≥ 2 % of samples are classified as it with confidence > 0.5).
"""
from __future__ import annotations

import dataclasses

import jax
import numpy as np
import optax
from sklearn.linear_model import LogisticRegression

from experiments.standalone import finish, header, start
from experiments.unsupervised import digit_splits, fit_seeds, train_all
from jaxnets.data import gaussian_ring, ring_centers
from jaxnets.generative_metrics import modes_covered, ring_mode_metrics
from jaxnets.models import GAN
from jaxnets.models.gan import generate
from jaxnets.plots import image_grid, line_plot
from jaxnets.report import fmt_stat, markdown_table
from jaxnets.train import GANObjective, make_optimizer, player_optimizers, summarize

RING_STD, MIN_SHARE = 0.02, 0.01

# name -> (loss, r1, learning rate, cosine decay, discriminator widths)
SETTINGS = {
    "non_saturating_r1": ("non_saturating", 0.1, 1e-3, True, (128, 128)),
    "non_saturating": ("non_saturating", 0.0, 1e-3, True, (128, 128)),
    "minimax": ("minimax", 0.0, 1e-3, True, (128, 128)),
    "low_lr_constant": ("non_saturating", 0.0, 2e-4, False, (128, 128)),  # measured: collapses to ~4 modes
}


@dataclasses.dataclass(frozen=True)
class Preset:
    ring_points: int = 20_000
    eval_points: int = 2_000
    epochs: int = 100
    batch_size: int = 256
    latent: int = 8
    digits_epochs: int = 300
    digits_latent: int = 16
    seeds: int = 5

    settings: tuple[str, ...] = tuple(SETTINGS)

    def quick(self) -> Preset:
        return dataclasses.replace(self, ring_points=2_000, eval_points=500, epochs=3, digits_epochs=3, seeds=2,
                                   settings=("non_saturating_r1", "minimax"))


def _tx(lr: float, cosine: bool, steps: int):
    sched = optax.cosine_decay_schedule(lr, steps) if cosine else lr
    adam = make_optimizer("adam", sched, b1=0.5)
    return player_optimizers(discriminator=adam, generator=adam)


def run(argv=None) -> dict:
    args, preset, out = start("gan_modes", Preset(), argv, __doc__)
    ring = gaussian_ring(preset.ring_points, seed=0, std=RING_STD)
    ring_eval = {"x": gaussian_ring(preset.eval_points, seed=1, std=RING_STD)["x"]}
    steps = preset.epochs * -(-preset.ring_points // preset.batch_size)
    final_samples = {}

    def ring_job(name: str):
        loss, r1, lr, cosine, d_features = SETTINGS[name]

        def train() -> dict:
            gan = GAN(data_shape=(2,), latent_dim=preset.latent, discriminator_features=d_features)
            obj = GANObjective(loss=loss, r1=r1, sample_metrics=ring_mode_metrics(ring_centers(), RING_STD))
            fr = fit_seeds(gan, obj, {"x": ring["x"]}, ring_eval, seeds=preset.seeds, epochs=preset.epochs,
                           learning_rate=lr, batch_size=preset.batch_size, name=name, progress=not args.no_progress,
                           checkpoints=args.checkpoints,
                           tx=_tx(lr, cosine, steps), restore_best=False)
            # The "validation" pass of fit() is the evaluation: samples scored every epoch, nothing selected.
            covered = modes_covered(fr.history["val_mode_hits"], MIN_SHARE)  # [seeds, epochs]
            hq = fr.history["val_high_quality"]
            final_samples[name] = np.asarray(generate(gan, jax.tree_util.tree_map(lambda a: a[0], fr.state.params),
                                                      jax.random.PRNGKey(0), 1000))
            return {"loss": loss, "r1": r1, "learning_rate": lr, "cosine_decay": cosine,
                    "discriminator_features": list(d_features),
                    "modes_covered": summarize(covered[:, -1]), "high_quality_fraction": summarize(hq[:, -1]),
                    "max_modes_during_training": summarize(covered.max(1)),
                    "final_d_real": summarize(fr.history["val_d_real"][:, -1]),
                    "final_d_fake": summarize(fr.history["val_d_fake"][:, -1]),
                    "compile_seconds": fr.compile_seconds, "train_seconds": fr.train_seconds,
                    "_covered": covered, "_hq": hq}
        return train

    models, wall = train_all({n: ring_job(n) for n in preset.settings}, args.workers)
    epochs = np.arange(1, preset.epochs + 1)
    line_plot(epochs, {n: m.pop("_covered") for n, m in models.items()}, out / "modes_over_training.png",
              xlabel="epoch", ylabel="modes covered (of 8)", title="8-Gaussian ring: modes covered (mean, min–max)")
    line_plot(epochs, {n: m.pop("_hq") for n, m in models.items()}, out / "quality_over_training.png",
              xlabel="epoch", ylabel="high-quality fraction", title="8-Gaussian ring: samples within 3 std of a mode")
    _ring_scatter(final_samples, ring["x"], out / "ring_samples.png")

    digits = _digits_gan(preset, args, out)
    results = {**header("gan_modes", args, preset), "ring": {"modes": 8, "radius": 2.0, "std": RING_STD,
                                                              "min_share": MIN_SHARE},
               "models": models, "digits_gan": digits, "training_wall_seconds": wall}
    rows = [[n, fmt_stat(m["modes_covered"], 1), fmt_stat(m["max_modes_during_training"], 1),
             fmt_stat(m["high_quality_fraction"], 3), f"{m['train_seconds']:.0f}"] for n, m in models.items()]
    table = (f"**gan_modes** · 8-Gaussian ring, {preset.epochs} epochs · {preset.seeds} seeds · wall {wall:.0f} s\n\n"
             + markdown_table(["setting", "modes covered (end)", "max during training", "high-quality fraction",
                               "train s"], rows)
             + f"\nDigits GAN ({preset.digits_epochs} epochs, {preset.seeds} seeds): classes covered "
               f"{fmt_stat(digits['classes_covered'], 1)} of 10, confident samples "
               f"{fmt_stat(digits['confident_fraction'], 3)} (real test digits: "
               f"{digits['real_confident_fraction']:.3f}).\n")
    return finish(out, results, table)


def _ring_scatter(samples: dict, real: np.ndarray, path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3 * len(samples), 3.2))
    axes = fig.subplots(1, len(samples), squeeze=False)
    for ax, (name, s) in zip(axes[0], samples.items()):
        ax.scatter(real[:2000, 0], real[:2000, 1], s=2, color="0.7")
        ax.scatter(s[:, 0], s[:, 1], s=2, color="C3")
        ax.set_xlim(-3, 3)
        ax.set_ylim(-3, 3)
        ax.set_aspect("equal")
        ax.set_title(name, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _digits_gan(preset: Preset, args, out) -> dict:
    splits = digit_splits()
    train = {"x": splits.train["x"]}
    gan = GAN(data_shape=(8, 8, 1), latent_dim=preset.digits_latent, generator_features=(128, 256),
              discriminator_features=(256, 128), output_activation="sigmoid")
    steps = preset.digits_epochs * -(-len(train["x"]) // 64)
    fr = fit_seeds(gan, GANObjective(r1=0.1), train, None, seeds=preset.seeds, epochs=preset.digits_epochs,
                   learning_rate=5e-4, batch_size=64, name="digits_gan", progress=not args.no_progress,
                   checkpoints=args.checkpoints,
                   tx=_tx(5e-4, True, steps))
    flat = lambda a: np.asarray(a).reshape(len(a), -1)
    clf = LogisticRegression(max_iter=2000).fit(flat(splits.train["x"]), splits.train["y"])
    covered, confident = [], []
    for i in range(preset.seeds):
        params = jax.tree_util.tree_map(lambda a, i=i: a[i], fr.state.params)
        proba = clf.predict_proba(flat(generate(gan, params, jax.random.PRNGKey(i), 2000)))
        ok = proba.max(1) > 0.5
        share = np.bincount(proba.argmax(1)[ok], minlength=10) / len(proba)
        covered.append(int(np.sum(share >= 0.02)))
        confident.append(float(ok.mean()))
        if i == 0:
            grid = np.asarray(generate(gan, params, jax.random.PRNGKey(100), 64))[..., 0]
            image_grid(list(grid), out / "digits_samples.png", ncols=8, title="GAN samples (digits, seed 0)")
    real_conf = float((clf.predict_proba(flat(splits.test["x"])).max(1) > 0.5).mean())
    return {"classes_covered": summarize(covered), "confident_fraction": summarize(confident),
            "real_confident_fraction": real_conf, "compile_seconds": fr.compile_seconds,
            "train_seconds": fr.train_seconds}


if __name__ == "__main__":
    run()
