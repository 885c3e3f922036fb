"""--quick runs of the CNN experiments (each < 60 s on 2 cores): schema, claims and figures on disk."""
import json

import numpy as np
import pytest

from experiments import cnn_vs_mlp, depth_and_skips, filters_and_feature_maps, translation_invariance
from experiments.__main__ import main as index_main

COMMON = ["--quick", "--no-progress", "--no-compile-cache"]


def _schema(r: dict, out, seeds: int = 2):
    on_disk = json.loads((out / "results.json").read_text())
    assert on_disk["models"].keys() == r["models"].keys() and r["seeds"] == seeds
    for m in r["models"].values():
        assert len(m["test_accuracy"]["per_seed"]) == seeds
        assert m["test_accuracy"]["mean"] == pytest.approx(np.mean(m["test_accuracy"]["per_seed"]))
        assert m["parameters"] > 0 and m["train_seconds"] > 0 and m["predictions_per_second"] > 0
    for f in ("results.md", "learning_curves.png", "test_accuracy.png", "config.json"):
        assert (out / f).stat().st_size > 0
    return on_disk


def test_index_lists_cnn_experiments(capsys):
    index_main(["list"])
    out = capsys.readouterr().out
    for name in ("cnn_vs_mlp", "translation_invariance", "filters_and_feature_maps", "depth_and_skips"):
        assert name in out


def test_cnn_vs_mlp_quick(tmp_path):
    r = cnn_vs_mlp.run([*COMMON, "--out", str(tmp_path)])
    on_disk = _schema(r, tmp_path)
    assert {n for n in r["models"] if "mlp" in n} == {"mlp", "mlp_wide"}
    assert r["models"]["lenet"]["architecture"]["kind"] == "LeNet5"
    assert r["dataset"]["name"] == "digits_images"
    c = on_disk["claims"]
    assert c["best_mlp"] in ("mlp", "mlp_wide") and c["best_cnn"] in ("lenet", "vgg", "resnet_small", "resnet")
    assert (tmp_path / "accuracy_vs_parameters.png").stat().st_size > 0


def test_translation_invariance_quick(tmp_path):
    r = translation_invariance.run([*COMMON, "--out", str(tmp_path)])
    _schema(r, tmp_path)
    for m in r["models"].values():
        by = m["accuracy_by_shift"]
        assert set(by) == {"0", "1", "2"}
        assert by["0"]["per_seed"] == pytest.approx(m["test_accuracy"]["per_seed"])  # shift 0 = the test split
    assert r["models"]["vgg+aug"]["augment_shift"] == 2 and r["models"]["vgg"]["augment_shift"] == 0
    assert (tmp_path / "accuracy_vs_shift.png").stat().st_size > 0


def test_depth_and_skips_quick(tmp_path):
    r = depth_and_skips.run([*COMMON, "--out", str(tmp_path)])
    _schema(r, tmp_path)
    assert set(r["models"]) == {"plain", "residual", "plain_bn", "residual_bn"}
    norms = r["models"]["plain"]["init_gradient_norms"]
    assert len(norms) == r["models"]["plain"]["depth"] - 1  # every conv on the main path, no head
    assert all(v["mean"] > 0 for v in norms.values())
    assert (tmp_path / "init_gradient_norms.png").stat().st_size > 0


def test_filters_and_feature_maps_quick(tmp_path):
    r = filters_and_feature_maps.run([*COMMON, "--out", str(tmp_path)])
    _schema(r, tmp_path)
    rf = r["receptive_field"]
    assert rf["measured_from_gradients"] == [rf["closed_form"], rf["closed_form"]]
    b = r["photo_filters"]["mean_brightness"]
    assert b["gaussian_blur"] == pytest.approx(b["original"], rel=1e-3)  # weights sum to 1
    for f in ("filters_on_photo.png", "learned_kernels.png", "feature_maps.png", "receptive_field.md"):
        assert (tmp_path / f).stat().st_size > 0
