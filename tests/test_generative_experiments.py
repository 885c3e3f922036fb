"""--quick runs of the autoencoder / GAN experiments: schema, the quantities each claims, files on disk."""
import json

import jax
import numpy as np
import pytest

from experiments import ae_variants, anomaly_detection, compression, denoising, gan_modes, latent_space
from experiments.__main__ import main as index_main

COMMON = ["--quick", "--no-progress", "--no-compile-cache"]


def _common(r: dict, out, files: tuple[str, ...]):
    on_disk = json.loads((out / "results.json").read_text())
    assert on_disk["models"].keys() == r["models"].keys() and r["seeds"] == 2
    assert r["training_wall_seconds"] > 0 and r["jax_version"] and r["backend"] == jax.default_backend()
    for f in ("results.md", *files):
        assert (out / f).stat().st_size > 0, f
    return on_disk


def _check_stat(s: dict, n: int):
    assert len(s["per_seed"]) == n and s["mean"] == pytest.approx(np.mean(s["per_seed"]))


def test_index_lists_generative_experiments(capsys):
    index_main(["list"])
    out = capsys.readouterr().out
    for name in ("compression", "ae_variants", "denoising", "anomaly_detection", "latent_space", "gan_modes"):
        assert name in out


def test_compression_quick(tmp_path):
    r = compression.run([*COMMON, "--out", str(tmp_path)])
    _common(r, tmp_path, ("mse_vs_latent.png", "reconstructions.png"))
    assert set(r["models"]) == {f"{m}_k{k}" for m in ("pca", "linear_ae", "ae") for k in (2, 8)}
    for name, m in r["models"].items():
        _check_stat(m["test_mse"], 1 if name.startswith("pca") else 2)
    # PCA is the optimal rank-k linear reconstruction: more components, less error.
    assert r["models"]["pca_k8"]["test_mse"]["mean"] < r["models"]["pca_k2"]["test_mse"]["mean"]


def test_anomaly_detection_quick(tmp_path):
    r = anomaly_detection.run([*COMMON, "--out", str(tmp_path)])
    _common(r, tmp_path, ("roc_auc.png",))
    assert set(r["models"]) == {"autoencoder", "denoising_ae", "vae", "pca", "isolation_forest", "one_class_svm"}
    _check_stat(r["models"]["autoencoder"]["roc_auc"], 2)
    assert r["n_test"] == {"benign": 72, "malignant": 212}  # 212 malignant = sklearn target 0
    for m in r["models"].values():
        assert 0.5 < m["roc_auc"]["mean"] <= 1.0  # even a barely trained model ranks better than chance
        assert 0 <= m["recall"]["mean"] <= 1


def test_detection_scores_threshold_from_validation_only():
    val = np.arange(100.0)  # 95th percentile = 94.05
    test = np.array([10.0, 95.0, 99.0, 200.0])
    mal = np.array([False, False, True, True])
    s = anomaly_detection.detection_scores(val, test, mal)
    assert s["roc_auc"] == 1.0 and s["recall"] == 1.0 and s["precision"] == pytest.approx(2 / 3)
    assert s["false_alarm_rate"] == 0.5


def test_latent_space_quick(tmp_path):
    r = latent_space.run([*COMMON, "--out", str(tmp_path)])
    _common(r, tmp_path, ("latent_scatter.png", "latent_grid.png", "interpolation.png"))
    assert set(r["models"]) == {"beta1", "beta1_annealed"}
    for m in r["models"].values():
        _check_stat(m["active_units"], 2)
        assert m["test_neg_elbo"]["mean"] == pytest.approx(m["test_recon"]["mean"] + m["test_kl"]["mean"], rel=1e-4)
        assert 0 <= m["active_units"]["mean"] <= 2


def test_gan_modes_quick(tmp_path):
    r = gan_modes.run([*COMMON, "--out", str(tmp_path)])
    _common(r, tmp_path, ("modes_over_training.png", "quality_over_training.png", "ring_samples.png",
                          "digits_samples.png"))
    for m in r["models"].values():
        _check_stat(m["modes_covered"], 2)
        assert 0 <= m["modes_covered"]["mean"] <= 8 and 0 <= m["high_quality_fraction"]["mean"] <= 1
    assert 0 <= r["digits_gan"]["classes_covered"]["mean"] <= 10
    assert r["digits_gan"]["real_confident_fraction"] > 0.9  # the judging classifier works on real digits


def test_denoising_quick(tmp_path):
    r = denoising.run([*COMMON, "--out", str(tmp_path)])
    _common(r, tmp_path, ("denoising_examples.png",))
    for noise in ("masking",):  # --quick: one corruption
        assert {f"{noise}/{m}" for m in ("noisy_input", "ae_mlp_clean", "dae_mlp", "dae_conv")} <= set(r["models"])
        _check_stat(r["models"][f"{noise}/dae_mlp"]["test_psnr"], 2)
        assert 0 < r["models"][f"{noise}/noisy_input"]["test_ssim"]["mean"] < 1


def test_ae_variants_quick(tmp_path):
    r = ae_variants.run([*COMMON, "--out", str(tmp_path)])
    _common(r, tmp_path, ("code_units.png",))
    assert set(r["models"]) == {"vanilla", "sparse_kl", "contractive"}  # --quick subset
    for m in r["models"].values():
        _check_stat(m["jacobian_frobenius"], 2)
        assert 0 <= m["share_below_0.1"]["mean"] <= 1 and m["jacobian_frobenius"]["mean"] > 0
    # Even 5 epochs of the KL penalty pull the mean code towards its target (0.05) below the vanilla AE's.
    assert r["models"]["sparse_kl"]["mean_activation"]["mean"] < r["models"]["vanilla"]["mean_activation"]["mean"]
