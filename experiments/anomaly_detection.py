"""Anomaly detection by reconstruction error: the seed's fraud example on real data (breast cancer).

    python -m experiments.anomaly_detection [--seeds N] [--quick]

An autoencoder trained only on *benign* tumours (sklearn target 1; the seed names the classes the
other way round) should reconstruct malignant ones (target 0) poorly. Benign rows are split 60/20/20
(train / validation / test); the test set is the held-out benign rows plus every malignant row.
Features are standardised with benign-train statistics. Score = per-example reconstruction MSE;
a VAE scores by its negative ELBO (reconstruction + KL: how unlikely the row is under the model,
not only how badly it is reconstructed). Reported: ROC-AUC (malignant = positive) and, at a
threshold chosen on *validation benign rows only* (their 95th percentile: ~5 % false alarms
expected), the precision and recall for malignant.
Baselines from scikit-learn on the same rows: PCA reconstruction error (same code size),
IsolationForest, OneClassSVM.
"""
from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np
from sklearn.ensemble import IsolationForest
from sklearn.svm import OneClassSVM

from experiments.standalone import finish, header, start
from experiments.unsupervised import apply_members, fit_seeds, pca_basis, pca_reconstruct, train_all
from jaxnets.data import load_embedded
from jaxnets.data.split import Standardizer
from jaxnets.metrics import roc_auc
from jaxnets.models import VAE, Autoencoder
from jaxnets.nn import kl_normal
from jaxnets.plots import metric_bars
from jaxnets.report import fmt_stat, markdown_table
from jaxnets.train import ELBO, Reconstruction, summarize

BENIGN, MALIGNANT = 1, 0  # sklearn's breast-cancer targets (the seed has them reversed)
FALSE_ALARM_RATE = 0.05


@dataclasses.dataclass(frozen=True)
class Preset:
    latent: int = 4
    hidden: tuple[int, ...] = (16,)
    noise: float = 0.2  # std of the denoising autoencoder's Gaussian corruption (standardised units)
    epochs: int = 500
    patience: int = 40
    batch_size: int = 32
    learning_rate: float = 1e-3
    seeds: int = 5

    def quick(self) -> Preset:
        return dataclasses.replace(self, epochs=5, seeds=2)


def detection_scores(scores_val_benign: np.ndarray, scores_test: np.ndarray, is_malignant: np.ndarray) -> dict:
    """ROC-AUC over the test rows, and precision / recall for malignant at the validation threshold."""
    threshold = np.quantile(scores_val_benign, 1 - FALSE_ALARM_RATE)
    flagged = scores_test > threshold
    tp = np.sum(flagged & is_malignant)
    return {"roc_auc": roc_auc(is_malignant.astype(int), scores_test),
            "precision": float(tp / max(flagged.sum(), 1)), "recall": float(tp / is_malignant.sum()),
            "false_alarm_rate": float(np.mean(flagged[~is_malignant]))}


def _summaries(per_seed: list[dict]) -> dict:
    return {k: summarize([d[k] for d in per_seed]) for k in per_seed[0]}


def run(argv=None) -> dict:
    args, preset, out = start("anomaly_detection", Preset(), argv, __doc__)
    ds = load_embedded("breast_cancer")
    rng = np.random.default_rng(0)
    benign = rng.permutation(np.flatnonzero(ds.y == BENIGN))
    n_tr, n_va = int(0.6 * len(benign)), int(0.2 * len(benign))
    tr_idx, va_idx, te_benign = benign[:n_tr], benign[n_tr:n_tr + n_va], benign[n_tr + n_va:]
    te_idx = np.concatenate([te_benign, np.flatnonzero(ds.y == MALIGNANT)])
    scaler = Standardizer.fit(ds.x[tr_idx])
    tr, va, te = ({"x": scaler(ds.x[i])} for i in (tr_idx, va_idx, te_idx))
    is_mal = ds.y[te_idx] == MALIGNANT

    def job(noise: float):
        def train() -> dict:
            model = Autoencoder(input_shape=(ds.x.shape[1],), latent_dim=preset.latent, hidden=preset.hidden)
            obj = Reconstruction(noise="gaussian" if noise else "none", noise_level=noise)
            fr = fit_seeds(model, obj, tr, va, seeds=preset.seeds, epochs=preset.epochs,
                           learning_rate=preset.learning_rate, batch_size=preset.batch_size, patience=preset.patience,
                           name="dae" if noise else "ae", progress=not args.no_progress,
                           checkpoints=args.checkpoints)
            err = lambda d: ((apply_members(model, fr.state.params, d["x"]) - d["x"][None]) ** 2).mean(-1)
            s_va, s_te = err(va), err(te)  # [seeds, n]
            res = _summaries([detection_scores(s_va[i], s_te[i], is_mal) for i in range(preset.seeds)])
            return {**res, "compile_seconds": fr.compile_seconds, "train_seconds": fr.train_seconds,
                    "epochs_run": summarize(fr.epochs_run)}
        return train

    def vae_job() -> dict:
        model = VAE(input_shape=(ds.x.shape[1],), latent_dim=preset.latent, hidden=preset.hidden, likelihood="gaussian")
        fr = fit_seeds(model, ELBO(), tr, va, seeds=preset.seeds, epochs=preset.epochs,
                       learning_rate=preset.learning_rate, batch_size=preset.batch_size, patience=preset.patience,
                       name="vae", progress=not args.no_progress,
                       checkpoints=args.checkpoints)

        def neg_elbo(d):  # −ELBO with z at the posterior mean: ½‖x − x̂‖² + KL(q(z|x) ‖ p(z))
            mean, log_var = apply_members(model, fr.state.params, d["x"], method="encode")
            recon = 0.5 * ((apply_members(model, fr.state.params, d["x"]) - d["x"][None]) ** 2).sum(-1)
            return recon + np.asarray(kl_normal(jnp.asarray(mean), jnp.asarray(log_var)))

        s_va, s_te = neg_elbo(va), neg_elbo(te)
        res = _summaries([detection_scores(s_va[i], s_te[i], is_mal) for i in range(preset.seeds)])
        return {**res, "score": "negative ELBO", "compile_seconds": fr.compile_seconds,
                "train_seconds": fr.train_seconds, "epochs_run": summarize(fr.epochs_run)}

    models, wall = train_all({"autoencoder": job(0.0), "denoising_ae": job(preset.noise), "vae": vae_job},
                             args.workers)

    pca_err = lambda d: ((pca_reconstruct(tr["x"], d["x"], preset.latent) - d["x"]) ** 2).mean(-1)
    models["pca"] = _summaries([detection_scores(pca_err(va), pca_err(te), is_mal)])
    iso = [IsolationForest(random_state=s).fit(tr["x"]) for s in range(preset.seeds)]
    models["isolation_forest"] = _summaries([detection_scores(-f.score_samples(va["x"]), -f.score_samples(te["x"]),
                                                              is_mal) for f in iso])
    svm = OneClassSVM(gamma="scale", nu=FALSE_ALARM_RATE).fit(tr["x"])
    models["one_class_svm"] = _summaries([detection_scores(-svm.score_samples(va["x"]), -svm.score_samples(te["x"]),
                                                           is_mal)])

    # Why reconstruction error has a ceiling here: how much of each test row (standardised by benign
    # statistics) lies inside the benign data's top-k principal subspace, i.e. what a k-dim code keeps.
    mean, basis = pca_basis(tr["x"], preset.latent)
    centred = te["x"] - mean
    inside = ((centred @ basis.T) ** 2).sum(1) / (centred ** 2).sum(1)
    norm = np.sqrt((centred ** 2).sum(1))
    subspace = {"share_inside_top_k_benign": float(np.median(inside[~is_mal])),
                "share_inside_top_k_malignant": float(np.median(inside[is_mal])),
                "norm_benign": float(np.median(norm[~is_mal])), "norm_malignant": float(np.median(norm[is_mal]))}

    metric_bars({"models": models}, "roc_auc", out / "roc_auc.png",
                title="breast cancer: malignant detection from benign-only training")
    results = {**header("anomaly_detection", args, preset), "dataset": "breast cancer (sklearn)",
               "n_train_benign": len(tr_idx), "n_val_benign": len(va_idx),
               "n_test": {"benign": int((~is_mal).sum()), "malignant": int(is_mal.sum())},
               "threshold": f"{1 - FALSE_ALARM_RATE:.0%} quantile of validation benign scores",
               "pca_subspace_medians": subspace, "models": models, "training_wall_seconds": wall}
    rows = [[n, fmt_stat(m["roc_auc"]), fmt_stat(m["precision"], 3), fmt_stat(m["recall"], 3),
             fmt_stat(m["false_alarm_rate"], 3)] for n, m in models.items()]
    table = (f"**anomaly_detection** · breast cancer, trained on benign only · test {int((~is_mal).sum())} benign + "
             f"{int(is_mal.sum())} malignant · {preset.seeds} seeds · wall {wall:.0f} s\n\n"
             + markdown_table(["model", "ROC-AUC", "precision (malignant)", "recall (malignant)",
                               "benign false-alarm rate"], rows)
             + f"\nMedian share of a test row's squared distance from the benign mean that lies in the benign "
               f"top-{preset.latent} principal subspace: benign {subspace['share_inside_top_k_benign']:.2f}, "
               f"malignant {subspace['share_inside_top_k_malignant']:.2f}; median distance benign "
               f"{subspace['norm_benign']:.1f}, malignant {subspace['norm_malignant']:.1f} (standardised units).\n")
    return finish(out, results, table)


if __name__ == "__main__":
    run()
