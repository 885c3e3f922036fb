"""Latent space of a 2-D VAE on digits; β-VAE and KL annealing; posterior collapse measured.

    python -m experiments.latent_space [--seeds N] [--quick]

A VAE (Bernoulli pixels, 2-D latent) for β ∈ {0.5, 1, 4}, each with and without KL annealing (β
ramps from 0 over the first `warmup_epochs`). Reported per setting on the test digits: −ELBO
(β = 1, nats per image), reconstruction term, KL, active latent units (Cov_x E[z|x] > 0.01: a
collapsed posterior leaves units unused; the seed's "latent variables become meaningless"), and how
well the 2-D codes separate digits (5-nearest-neighbour accuracy, codes of the train split as
reference). Figures for β = 1 with annealing (seed 0): codes coloured by digit, the decoded latent
plane, an interpolation between two test digits.
"""
from __future__ import annotations

import dataclasses

import jax
import numpy as np
from sklearn.neighbors import KNeighborsClassifier

from experiments.standalone import finish, header, start
from experiments.unsupervised import apply_members, digit_splits, fit_seeds, tile_images, train_all
from jaxnets.models import VAE, active_units, interpolate
from jaxnets.plots import image_grid, scatter_classes
from jaxnets.report import fmt_stat, markdown_table
from jaxnets.train import ELBO, evaluate_sums, finalize_metrics, summarize


@dataclasses.dataclass(frozen=True)
class Preset:
    betas: tuple[float, ...] = (0.5, 1.0, 4.0)
    latent: int = 2
    hidden: tuple[int, ...] = (256, 128)
    epochs: int = 300
    patience: int = 30
    warmup_epochs: int = 50
    batch_size: int = 64
    learning_rate: float = 1e-3
    seeds: int = 5

    def quick(self) -> Preset:
        return dataclasses.replace(self, betas=(1.0,), epochs=5, warmup_epochs=2, seeds=2)


def run(argv=None) -> dict:
    args, preset, out = start("latent_space", Preset(), argv, __doc__)
    splits = digit_splits()
    tr, va, te = ({"x": d["x"]} for d in (splits.train, splits.val, splits.test))
    model = VAE(input_shape=(8, 8, 1), latent_dim=preset.latent, hidden=preset.hidden)
    steps_per_epoch = -(-len(tr["x"]) // preset.batch_size)
    trained = {}

    def job(beta: float, anneal: bool):
        def train() -> dict:
            obj = ELBO(beta=beta, kl_warmup_steps=preset.warmup_epochs * steps_per_epoch if anneal else 0)
            name = f"beta{beta:g}" + ("_annealed" if anneal else "")
            fr = fit_seeds(model, obj, tr, va, seeds=preset.seeds, epochs=preset.epochs,
                           learning_rate=preset.learning_rate, batch_size=preset.batch_size, patience=preset.patience,
                           name=name, progress=not args.no_progress,
                           checkpoints=args.checkpoints)
            trained[name] = fr.state.params
            # Test metrics with β = 1 (the true bound), one posterior sample, fixed key per member.
            state = fr.state
            sums = jax.vmap(lambda s: evaluate_sums(ELBO(), s, te))(state)
            m = finalize_metrics(jax.device_get(sums))
            codes_te = apply_members(model, state.params, te["x"], method="encode")[0]  # means [seeds, n, k]
            codes_tr = apply_members(model, state.params, tr["x"], method="encode")[0]
            knn = [KNeighborsClassifier(5).fit(codes_tr[i], splits.train["y"]).score(codes_te[i], splits.test["y"])
                   for i in range(preset.seeds)]
            return {"beta": beta, "kl_annealing": anneal, "test_neg_elbo": summarize(m["neg_elbo"]),
                    "test_recon": summarize(m["recon"]), "test_kl": summarize(m["kl"]), "test_mse": summarize(m["mse"]),
                    "active_units": summarize([active_units(codes_te[i]) for i in range(preset.seeds)]),
                    "knn_accuracy": summarize(knn), "compile_seconds": fr.compile_seconds,
                    "train_seconds": fr.train_seconds, "epochs_run": summarize(fr.epochs_run)}
        return train

    jobs = {f"beta{b:g}" + ("_annealed" if a else ""): job(b, a) for b in preset.betas for a in (False, True)}
    models, wall = train_all(jobs, args.workers)

    show = "beta1_annealed" if "beta1_annealed" in trained else next(iter(trained))
    params = jax.tree_util.tree_map(lambda a: a[0], trained[show])
    codes = apply_members(model, trained[show], te["x"], method="encode")[0][0]
    scatter_classes(codes, splits.test["y"], out / "latent_scatter.png",
                    title=f"test digits in the 2-D latent space ({show}, seed 0)")
    grid = np.linspace(-2.5, 2.5, 15)
    z = np.array([[a, b] for b in grid[::-1] for a in grid], np.float32)
    if preset.latent > 2:
        z = np.concatenate([z, np.zeros((len(z), preset.latent - 2), np.float32)], 1)
    decoded = np.asarray(model.apply({"params": params}, z, method="decode"))[..., 0]
    image_grid([tile_images(decoded, ncols=15)], out / "latent_grid.png",
               title=f"decoded latent plane z in [-2.5, 2.5]² ({show}, seed 0)", cell_inches=6.0)
    y = splits.test["y"]
    a, b = int(np.flatnonzero(y == 0)[0]), int(np.flatnonzero(y == 1)[0])
    path = np.asarray(interpolate(model, params, te["x"][a], te["x"][b], steps=10))[..., 0]
    image_grid(list(path), out / "interpolation.png", ncols=10, title="interpolation between a test 0 and a test 1")

    results = {**header("latent_space", args, preset), "dataset": "digits 8x8, Bernoulli likelihood",
               "models": models, "training_wall_seconds": wall}
    rows = [[n, fmt_stat(m["test_neg_elbo"], 2), fmt_stat(m["test_recon"], 2), fmt_stat(m["test_kl"], 2),
             fmt_stat(m["active_units"], 1), fmt_stat(m["knn_accuracy"], 3)] for n, m in models.items()]
    table = (f"**latent_space** · VAE latent {preset.latent}, digits test split · {preset.seeds} seeds · "
             f"wall {wall:.0f} s\n\n"
             + markdown_table(["setting", "−ELBO (nats)", "reconstruction", "KL", "active units", "5-NN acc. on z"],
                              rows))
    return finish(out, results, table)


if __name__ == "__main__":
    run()
