"""Autoencoder variants side by side: what sparsity, contraction and denoising change, measured.

    python -m experiments.ae_variants [--seeds N] [--quick]

The seed claims a sparse autoencoder "forces most neurons in the bottleneck to be inactive" and
learns "more interpretable and often better features", and a contractive one makes "the learned
representation insensitive to small input changes … more robust digit recognition". Five autoencoders
with the same architecture (digits 64 → 256 → 32 sigmoid code → 256 → 64) differ only in the
objective. Measured on the test digits: reconstruction MSE; code sparsity (mean activation, share of
units below 0.1); encoder sensitivity ‖∂h/∂x‖_F (autodiff); how far the code moves under input noise
(std 0.1) relative to the noise; and the features' usefulness: a logistic-regression probe trained on
the train split's codes, tested on clean and on noisy (std 0.3) test digits.
"""
from __future__ import annotations

import dataclasses

import jax
import numpy as np
from sklearn.linear_model import LogisticRegression

from experiments.standalone import finish, header, start
from experiments.unsupervised import apply_members, digit_splits, fit_seeds, train_all
from jaxnets.models import Autoencoder
from jaxnets.plots import image_grid
from jaxnets.report import fmt_stat, markdown_table
from jaxnets.train import Reconstruction, contractive_penalty, corrupt, summarize

# name -> Reconstruction keyword arguments. Penalty weights are common textbook magnitudes set once
# before the first run, not tuned (a stronger weight trades reconstruction for the property).
VARIANTS = {
    "vanilla": {},
    "sparse_l1": {"sparsity": "l1", "sparsity_weight": 1e-3},
    "sparse_kl": {"sparsity": "kl", "sparsity_weight": 0.1, "sparsity_target": 0.05},
    "contractive": {"contractive": 0.01},
    "denoising": {"noise": "gaussian", "noise_level": 0.2},
}
PROBE_NOISE, SENSITIVITY_NOISE = 0.3, 0.1


@dataclasses.dataclass(frozen=True)
class Preset:
    latent: int = 32
    hidden: tuple[int, ...] = (256,)
    epochs: int = 300
    patience: int = 25
    batch_size: int = 64
    learning_rate: float = 2e-3
    seeds: int = 5
    variants: tuple[str, ...] = tuple(VARIANTS)

    def quick(self) -> Preset:
        return dataclasses.replace(self, epochs=5, seeds=2, variants=("vanilla", "sparse_kl", "contractive"))


def run(argv=None) -> dict:
    args, preset, out = start("ae_variants", Preset(), argv, __doc__)
    splits = digit_splits()
    flat = lambda a: np.asarray(a).reshape(len(a), -1)
    tr, va, te = ({"x": flat(d["x"])} for d in (splits.train, splits.val, splits.test))
    key = jax.random.PRNGKey(7)
    te_noisy = np.asarray(corrupt(key, te["x"], "gaussian", PROBE_NOISE))
    eps = np.asarray(corrupt(jax.random.fold_in(key, 1), np.zeros_like(te["x"]), "gaussian", SENSITIVITY_NOISE))
    model = Autoencoder(input_shape=(64,), latent_dim=preset.latent, hidden=preset.hidden, code_activation="sigmoid",
                        output_activation="sigmoid")
    decoders = {}

    def job(name: str):
        def train() -> dict:
            fr = fit_seeds(model, Reconstruction(**VARIANTS[name]), tr, va, seeds=preset.seeds,
                           epochs=preset.epochs, learning_rate=preset.learning_rate, batch_size=preset.batch_size,
                           patience=preset.patience, name=name, progress=not args.no_progress,
                           checkpoints=args.checkpoints)
            params = fr.state.params
            decoders[name] = jax.tree_util.tree_map(lambda a: a[0], params)
            recon = apply_members(model, params, te["x"])
            h_tr = apply_members(model, params, tr["x"], method="encode")
            h_te = apply_members(model, params, te["x"], method="encode")
            h_noisy = apply_members(model, params, te_noisy, method="encode")
            h_eps = apply_members(model, params, te["x"] + eps, method="encode")
            jac = jax.jit(jax.vmap(lambda p: contractive_penalty(model, p, te["x"])))(params)  # [seeds, n]
            probe, probe_noisy = [], []
            for i in range(preset.seeds):
                clf = LogisticRegression(max_iter=3000).fit(h_tr[i], splits.train["y"])
                probe.append(clf.score(h_te[i], splits.test["y"]))
                probe_noisy.append(clf.score(h_noisy[i], splits.test["y"]))
            shift = np.linalg.norm(h_eps - h_te, axis=-1) / np.linalg.norm(eps, axis=-1)[None]
            return {"objective": VARIANTS[name], "test_mse": summarize(((recon - te["x"][None]) ** 2).mean((1, 2))),
                    "mean_activation": summarize(h_te.mean((1, 2))),
                    "share_below_0.1": summarize((h_te < 0.1).mean((1, 2))),
                    "jacobian_frobenius": summarize(np.sqrt(np.asarray(jac)).mean(1)),
                    "code_shift_per_noise": summarize(shift.mean(1)),
                    "probe_accuracy": summarize(probe), "probe_accuracy_noisy": summarize(probe_noisy),
                    "compile_seconds": fr.compile_seconds, "train_seconds": fr.train_seconds,
                    "epochs_run": summarize(fr.epochs_run)}
        return train

    models, wall = train_all({n: job(n) for n in preset.variants}, args.workers)
    # What each code unit draws: decode the 32 one-hot codes (unit j on, the rest at 0) per variant.
    units = np.eye(preset.latent, dtype=np.float32)
    images, titles = [], []
    for name, p in decoders.items():
        dec = np.asarray(model.apply({"params": p}, units[:8], method="decode"))
        images += list(dec.reshape(-1, 8, 8))
        titles += [f"{name} u{j}" for j in range(8)]
    image_grid(images, out / "code_units.png", titles=titles, ncols=8,
               title="decoder output for single active code units (first 8 units, seed 0)")

    results = {**header("ae_variants", args, preset), "probe_noise": PROBE_NOISE,
               "sensitivity_noise": SENSITIVITY_NOISE, "models": models, "training_wall_seconds": wall}
    rows = [[n, fmt_stat(m["test_mse"], 4), fmt_stat(m["mean_activation"], 3), fmt_stat(m["share_below_0.1"], 3),
             fmt_stat(m["jacobian_frobenius"], 2), fmt_stat(m["code_shift_per_noise"], 3),
             fmt_stat(m["probe_accuracy"], 3), fmt_stat(m["probe_accuracy_noisy"], 3)] for n, m in models.items()]
    table = (f"**ae_variants** · digits, 64→{preset.hidden}→{preset.latent} sigmoid code · {preset.seeds} seeds · "
             f"wall {wall:.0f} s\n\n"
             + markdown_table(["variant", "test MSE", "mean code", "units < 0.1", "‖∂h/∂x‖_F",
                               f"‖Δh‖/‖ε‖ (σ={SENSITIVITY_NOISE})", "probe acc.", f"probe acc. noisy σ={PROBE_NOISE}"],
                              rows))
    return finish(out, results, table)


if __name__ == "__main__":
    run()
