"""The text's table "Data Type → Task → Best Architecture → Why", measured: per row, which model won
in the experiment that trains that kind of data, by how much, and at what cost."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable

from experiments.claims.base import beyond, fmt


@dataclasses.dataclass(frozen=True)
class Row:
    """measure(results) -> (best here, by how much, at what cost), three short strings."""

    data_type: str
    task: str
    text_says: str
    experiment: str
    measure: Callable[[dict], tuple[str, str, str]]


def _margin(a: dict, b: dict, higher_better: bool, digits: int = 3) -> str:
    """How a beats b, and whether beyond both seed spreads."""
    diff = (a["mean"] - b["mean"]) * (1 if higher_better else -1)
    clear = beyond(a, b) if higher_better else beyond({"mean": -a["mean"], "std": a["std"]},
                                                       {"mean": -b["mean"], "std": b["std"]})
    word = ("higher" if higher_better else "lower") if diff >= 0 else ("lower" if higher_better else "higher")
    return f"{abs(diff):.{digits}f} {word} ({'beyond' if clear else 'within'} the seed spreads)"


def tabular(r: dict) -> tuple[str, str, str]:
    m = r["models"]
    acc = {n: v["test_accuracy"] for n, v in m.items()}
    best, worst = max(acc, key=lambda n: acc[n]["mean"]), min(acc, key=lambda n: acc[n]["mean"])
    return (f"MLP `{best}` {fmt(acc[best])} test accuracy (only MLPs are trained on this table)",
            f"{_margin(acc[best], acc[worst], True)} than the weakest MLP `{worst}`",
            f"{m[best]['parameters']:,} parameters, {m[best]['train_seconds']:.2f} s of training")


def images(r: dict) -> tuple[str, str, str]:
    m = r["models"]
    acc = {n: v["test_accuracy"] for n, v in m.items()}
    mlps = [n for n in m if m[n]["architecture"]["kind"] == "MLP"]
    cnns = [n for n in m if n not in mlps]
    best_mlp = max(mlps, key=lambda n: acc[n]["mean"])
    best_cnn = max(cnns, key=lambda n: acc[n]["mean"])
    win, lose = (best_cnn, best_mlp) if acc[best_cnn]["mean"] >= acc[best_mlp]["mean"] else (best_mlp, best_cnn)
    return (f"{m[win]['architecture']['kind']} `{win}` {fmt(acc[win])} test accuracy",
            f"{_margin(acc[win], acc[lose], True)} than the best {m[lose]['architecture']['kind']} `{lose}` "
            f"({fmt(acc[lose])})",
            f"{m[win]['parameters']:,} vs {m[lose]['parameters']:,} parameters; {m[win]['train_seconds']:.1f} vs "
            f"{m[lose]['train_seconds']:.1f} s of training")


def text(r: dict) -> tuple[str, str, str]:
    m = r["models"]
    bits = {n: v["test_bits_per_char"] for n, v in m.items()}
    best = min(bits, key=lambda n: bits[n]["mean"])
    rivals = [n for n in bits if n != best]
    other = "transformer" if best != "transformer" else min(rivals, key=lambda n: bits[n]["mean"])
    return (f"`{best}` {fmt(bits[best])} test bits/char, each model given the same training time",
            f"{_margin(bits[best], bits[other], False)} bits/char than `{other}` ({fmt(bits[other])})",
            f"{m[best]['parameters']:,} parameters, {m[best]['epochs']} epochs in {m[best]['train_seconds']:.0f} s; "
            f"`{other}`: {m[other]['parameters']:,}, {m[other]['epochs']} epochs")


def time_series(r: dict) -> tuple[str, str, str]:
    m = r["models"]
    mae = {n: v["one_step_mae"] for n, v in m.items()}
    best = min(mae, key=lambda n: mae[n]["mean"])
    baselines = [n for n in ("naive", "seasonal_naive") if n in m]
    base = min(baselines, key=lambda n: mae[n]["mean"])
    rival = base if best != base else min((n for n in mae if n != best), key=lambda n: mae[n]["mean"])
    cost = (f"{m[best]['train_seconds']:.1f} s of training" if "train_seconds" in m[best]
            else "no training (a baseline)")
    return (f"`{best}`: one-step MAE {fmt(mae[best], 1)} sunspots",
            f"{_margin(mae[best], mae[rival], False, 1)} than `{rival}` ({fmt(mae[rival], 1)})", cost)


def compression(r: dict) -> tuple[str, str, str]:
    m = r["models"]
    ks = sorted({v["latent_dim"] for v in m.values()})
    wins = [k for k in ks if m[f"ae_k{k}"]["test_mse"]["mean"] < m[f"pca_k{k}"]["test_mse"]["mean"]]
    k = ks[0]
    ae, pca = m[f"ae_k{k}"]["test_mse"], m[f"pca_k{k}"]["test_mse"]
    who = "autoencoder" if k in wins else "PCA"
    return (f"{who} at the smallest code (k = {k}); the autoencoder has the lower test MSE at k ∈ {wins or 'none'} "
            f"of {ks}",
            f"k = {k}: autoencoder {ae['mean']:.5f} vs PCA {pca['mean']:.5f} MSE per pixel "
            f"({ae['mean'] / pca['mean']:.2f}×)",
            f"{m[f'ae_k{k}']['parameters']:,} parameters and {m[f'ae_k{k}']['train_seconds']:.1f} s of training "
            f"vs PCA's {m[f'pca_k{k}']['parameters']:,} numbers and one SVD")


def generation(r: dict) -> tuple[str, str, str]:
    m = r["models"]
    cov = {n: v["modes_covered"] for n, v in m.items()}
    best = max(cov, key=lambda n: cov[n]["mean"])
    worst = min(cov, key=lambda n: cov[n]["mean"])
    return (f"GAN setting `{best}`: {fmt(cov[best], 1)} of 8 ring modes covered (no GAN-vs-VAE comparison is "
            f"measured here)",
            f"`{worst}` covers {fmt(cov[worst], 1)}",
            f"{r['training_wall_seconds']:.0f} s for all settings" if "training_wall_seconds" in r else "–")


ROWS = [
    Row("Tabular (spreadsheet)", "Classification/Regression", "MLP", "architecture_comparison", tabular),
    Row("Images", "Recognition/Classification", "CNN", "cnn_vs_mlp", images),
    Row("Text/Sequences", "Language tasks", "Transformer", "char_transformer", text),
    Row("Time Series", "Forecasting", "RNN/LSTM", "forecasting", time_series),
    Row("High-dimensional", "Compression/Visualization", "Autoencoder", "compression", compression),
    Row("Images (generation)", "Generation", "GAN", "gan_modes", generation),
]
