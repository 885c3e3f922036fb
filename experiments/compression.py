"""Compression: autoencoders vs PCA on digits (64 pixels) at latent sizes 2–32.

    python -m experiments.compression [--seeds N] [--quick]

The seed claims PCA is "linear compression only … guaranteed optimal for linear relationships" and
an autoencoder "non-linear compression (much more powerful)". Measured here: test reconstruction MSE
(per pixel, pixels in [0, 1]) of PCA, a *linear* autoencoder (which should match PCA: both find the
best rank-k linear reconstruction) and a non-linear one (ReLU MLP, sigmoid output), per latent size.
"""
from __future__ import annotations

import dataclasses

import jax
import numpy as np

from experiments.standalone import finish, header, start
from experiments.unsupervised import apply_members, digit_splits, fit_seeds, pca_reconstruct, train_all
from jaxnets.models import Autoencoder, count_params
from jaxnets.plots import image_grid, line_plot
from jaxnets.report import fmt_stat, markdown_table
from jaxnets.train import Reconstruction, summarize


@dataclasses.dataclass(frozen=True)
class Preset:
    latents: tuple[int, ...] = (2, 4, 8, 16, 32)
    hidden: tuple[int, ...] = (256, 128)
    epochs: int = 300
    patience: int = 25
    batch_size: int = 64
    learning_rate: float = 2e-3
    seeds: int = 5

    def quick(self) -> Preset:
        return dataclasses.replace(self, latents=(2, 8), epochs=5, seeds=2)


def run(argv=None) -> dict:
    args, preset, out = start("compression", Preset(), argv, __doc__)
    splits = digit_splits()
    flat = lambda d: {"x": d["x"].reshape(len(d["x"]), -1)}
    tr, va, te = flat(splits.train), flat(splits.val), flat(splits.test)

    def job(kind: str, k: int):
        def train() -> dict:
            hidden = () if kind == "linear_ae" else preset.hidden
            model = Autoencoder(input_shape=(64,), latent_dim=k, hidden=hidden,
                                output_activation="linear" if kind == "linear_ae" else "sigmoid")
            fr = fit_seeds(model, Reconstruction(), tr, va, seeds=preset.seeds, epochs=preset.epochs,
                           learning_rate=preset.learning_rate, batch_size=preset.batch_size, patience=preset.patience,
                           name=f"{kind} k={k}", progress=not args.no_progress,
                           checkpoints=args.checkpoints)
            recon = apply_members(model, fr.state.params, te["x"])  # [seeds, n, 64]
            mse = ((recon - te["x"][None]) ** 2).mean(axis=(1, 2))
            return {"latent_dim": k, "test_mse": summarize(mse),
                    "parameters": count_params(jax.tree_util.tree_map(lambda a: a[0], fr.state.params)),
                    "compile_seconds": fr.compile_seconds, "train_seconds": fr.train_seconds,
                    "epochs_run": summarize(fr.epochs_run), "_recon": recon[0]}
        return train

    jobs = {f"{kind}_k{k}": job(kind, k) for k in preset.latents for kind in ("ae", "linear_ae")}
    models, wall = train_all(jobs, args.workers)
    for k in preset.latents:
        recon = pca_reconstruct(tr["x"], te["x"], k)
        models[f"pca_k{k}"] = {"latent_dim": k, "test_mse": summarize([((recon - te["x"]) ** 2).mean()]),
                               "parameters": 64 * k + 64, "_recon": recon}

    ks = list(preset.latents)
    series = {name: np.array([models[f"{name}_k{k}"]["test_mse"]["per_seed"] for k in ks]).T
              for name in ("pca", "linear_ae", "ae")}
    line_plot(ks, series, out / "mse_vs_latent.png", xlabel="latent size k", ylabel="test MSE per pixel",
              title="digits: reconstruction error vs code size", logy=True)
    show = [k for k in (2, 8, 32) if k in ks] or ks[:1]
    idx = np.arange(8)
    images = [te["x"][i] for i in idx]
    titles = ["original"] * 8
    for k in show:
        for name in ("pca", "ae"):
            images += [models[f"{name}_k{k}"]["_recon"][i] for i in idx]
            titles += [f"{name} k={k}"] * 8
    image_grid([im.reshape(8, 8) for im in images], out / "reconstructions.png", titles=titles, ncols=8,
               title="test digits and their reconstructions (seed 0)")
    for m in models.values():
        m.pop("_recon")

    rows = []
    for k in ks:
        pca, lin, ae = (models[f"{n}_k{k}"]["test_mse"] for n in ("pca", "linear_ae", "ae"))
        rows.append([k, f"{pca['mean']:.5f}", fmt_stat(lin, 5), fmt_stat(ae, 5), f"{lin['mean'] / pca['mean']:.3f}",
                     f"{ae['mean'] / pca['mean']:.3f}"])
    results = {**header("compression", args, preset), "dataset": "digits 8x8 (64 pixels in [0, 1])",
               "n_train": len(tr["x"]), "n_val": len(va["x"]), "n_test": len(te["x"]), "models": models,
               "training_wall_seconds": wall}
    table = (f"**compression** · digits, test MSE per pixel · {preset.seeds} seeds · wall {wall:.0f} s\n\n"
             + markdown_table(["latent k", "PCA", "linear AE", f"AE {preset.hidden}", "linear AE / PCA", "AE / PCA"],
                              rows))
    return finish(out, results, table)


if __name__ == "__main__":
    run()
