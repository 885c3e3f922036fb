"""The optimization chapter's experiments: their pieces on small networks (the --quick runs are slow-marked)."""
import dataclasses

import numpy as np
import pytest

from jaxnets.data import load_embedded, prepare


@pytest.fixture(scope="module")
def digits():
    return prepare(load_embedded("digits"), test_size=0.2, val_size=0.1, seed=42)


def test_vanishing_and_dying_study_and_verdicts(digits):
    from experiments import vanishing_and_dying as vd
    from jaxnets.train import summarize

    preset = vd.Preset(depth=3, width=8, epochs=2, seeds=2, early=1)
    found = {a: vd.study(a, digits, preset, False) for a in ("relu", "leaky_relu")}
    for r in found.values():
        assert r["grads"].shape == (2, 3, 2) and r["dead"].shape == (2, 3, 2)
        np.testing.assert_allclose(r["first_over_last_grad"]["per_seed"], r["grads"][:, 0, 0] / r["grads"][:, -1, 0])
        assert set(r["dead_fraction_by_layer"]) == {"1", "2", "3"}
    assert found["leaky_relu"]["dead_fraction"]["max"] == 0.0  # leaky ReLU's units are never exactly zero
    # the verdicts read the summaries only: sigmoid vanishing, ReLU dying, tanh fastest
    fake = lambda ratio, dead, early: {"first_over_last_grad": summarize([ratio]), "dead_fraction": summarize([dead]),
                                       "train_loss_early": summarize([early])}
    v = vd.verdicts({"sigmoid": fake(1e-5, 0, 2.3), "tanh": fake(1.4, 0, 0.4), "relu": fake(1.8, 0.03, 0.6),
                     "leaky_relu": fake(1.8, 0, 0.5)}, preset)
    assert "the claim holds here. Tanh (with Xavier initialisation) does not vanish" in v["vanishing"]
    assert "ReLU has dead units and leaky ReLU has none" in v["dying"]
    assert "ReLU is not ahead of tanh" in v["trains_faster"] and "after 1 epochs" in v["trains_faster"]


@pytest.mark.slow
def test_vanishing_and_dying_quick_run(tmp_path):
    from experiments import vanishing_and_dying as vd

    r = vd.run(["--quick", "--no-progress", "--no-compile-cache", "--out", str(tmp_path)])
    assert set(r["models"]) == set(vd.ACTIVATIONS) and set(r["verdicts"]) == {"vanishing", "dying", "trains_faster"}
    for name in ("gradient_norm_by_layer", "dead_fraction", "learning_curves", "diagnostics_relu"):
        assert (tmp_path / f"{name}.png").stat().st_size > 0


def test_schedules_pieces(digits):
    from experiments import schedules

    preset = schedules.Preset(epochs=3, seeds=2, learning_rates=(0.01, 0.1), features=(8, 10))
    found = {"constant": schedules.study("constant", digits, preset, False),
             "plateau": schedules.study("plateau", digits, dataclasses.replace(preset, learning_rates=(0.1,)), False)}
    for r in found.values():
        assert r["learning_rate"] in preset.learning_rates and r["history"]["val_loss"].shape == (2, 3)
        final = {float(k): v for k, v in r["final_val_loss_by_rate"].items()}
        assert final[r["learning_rate"]] == min(final.values())  # chosen on the mean final validation loss
    assert "lr_scale_final" in found["plateau"] and "lr_scale_final" not in found["constant"]
    assert schedules.verdict(found).startswith("constant rate: test accuracy")
    # settled: the first epoch from which the mean stays within 5 % of the final value
    assert schedules.settled_epoch(np.array([[4.0, 2.0, 1.02, 1.0]])) == 3
    assert schedules.settled_epoch(np.array([[1.0, 1.0]])) == 1


def test_step_schedule_decays_tenfold_at_half_and_three_quarters():
    from jaxnets.train import make_schedule

    s = make_schedule("step", 0.1, total_steps=100)
    np.testing.assert_allclose([float(s(t)) for t in (0, 49, 50, 74, 75, 99)], [0.1, 0.1, 0.01, 0.01, 1e-3, 1e-3],
                               rtol=1e-6)


@pytest.mark.slow
def test_schedules_quick_run(tmp_path):
    from experiments import schedules

    r = schedules.run(["--quick", "--no-progress", "--no-compile-cache", "--out", str(tmp_path)])
    assert set(r["models"]) == set(schedules.SCHEDULES) and r["verdict"]
    for name in ("learning_curves", "val_loss", "test_accuracy"):
        assert (tmp_path / f"{name}.png").stat().st_size > 0


def test_initialisation_pieces(digits):
    """Zero initialisation: every hidden activation and hidden-kernel gradient is exactly 0 at init, and
    the network never trains; He: non-zero activations in every layer."""
    from experiments import initialisation as ini

    preset = ini.Preset(depth=3, width=8, epochs=2, seeds=2, target=0.5)
    zeros = ini.study("relu", "zeros", digits, preset, False)
    assert zeros["act_std_at_init"].shape == (2, 3) and not zeros["act_std_at_init"].any()
    assert not zeros["grad_norm_at_init"].any() and zeros["reached_target"] == 0
    he = ini.study("relu", "he", digits, preset, False)
    assert (he["act_std_at_init"] > 0).all() and len(he["epochs_to_target"]) == 2
    found = {(a, i): {"reached_target": 0 if i in ("zeros", "small_normal") else 2} for a in ini.ACTIVATIONS
             for i in ini.INITS}
    v = ini.verdict(found, preset)
    assert "relu: every seed reaches 50% training accuracy with xavier, he; none does with zeros, small_normal" in v
    assert v.endswith("the claim holds here.")


@pytest.mark.slow
def test_initialisation_quick_run(tmp_path):
    from experiments import initialisation as ini

    r = ini.run(["--quick", "--no-progress", "--no-compile-cache", "--out", str(tmp_path)])
    assert len(r["models"]) == 8 and r["verdict"]
    assert (tmp_path / "relu_activation_std_at_init.png").stat().st_size > 0


def test_regularization_pieces():
    from experiments import regularization as reg
    from jaxnets.train import summarize

    preset = reg.Preset(epochs=2, seeds=2, features=(16, 10), patience=1)
    splits = reg.small_split(preset)
    assert len(splits.train["y"]) == 122 and len(splits.val["y"]) == 216  # 10 % of 1221; val unchanged
    chosen = {"l2": 1e-3, "dropout": 0.3}
    r = reg.train("all", splits, preset, chosen, False)
    assert "norm_0" in r.state.variables["batch_stats"] and r.history["train_loss"].shape == (2, 2)
    stat = lambda m: summarize([m, m])
    found = {v: {"test_accuracy": stat(0.8 if v == "dropout" else 0.7), "train_accuracy": stat(1.0),
                 "val_accuracy": stat(0.7), "gap": stat(0.1 if v == "dropout" else 0.3)} for v in reg.VARIANTS}
    text = reg.verdict(found)
    assert "beyond both spreads above it: dropout." in text and text.endswith("than without: dropout.")


@pytest.mark.slow
def test_regularization_quick_run(tmp_path):
    from experiments import regularization as reg

    r = reg.run(["--quick", "--no-progress", "--no-compile-cache", "--out", str(tmp_path)])
    assert set(r["models"]) == set(reg.VARIANTS) and r["chosen"] == {"l2": 1e-3, "dropout": 0.3}
    assert (tmp_path / "train_val_gap.png").stat().st_size > 0


def test_depth_and_time_pieces():
    from experiments import depth_and_time as dt
    from jaxnets.train import summarize

    splits = prepare(load_embedded("breast_cancer"), test_size=0.2, val_size=0.5, val_from="test", seed=42)
    preset = dt.Preset(epochs=2, seeds=2)
    r = dt.measure((8, 8), splits, preset)
    assert r["parameters"] == 30 * 8 + 8 + 8 * 8 + 8 + 8 + 1 and r["epoch_seconds"] > 0
    assert len(r["test_accuracy"]["per_seed"]) == 2
    fake = lambda ms, acc: {"epoch_seconds": ms / 1e3, "test_accuracy": summarize([acc - 0.01, acc + 0.01])}
    v = dt.verdict({"1": fake(2.0, 0.95), "4": fake(3.0, 0.97), "8": fake(4.0, 0.90)}, preset)
    assert "takes 2.00× one of 1" in v["time"] and "far less than in proportion" in v["time"]
    assert v["accuracy"].startswith("4 hidden layers are the most accurate") and "deeper is not better" in v["accuracy"]


@pytest.mark.slow
def test_depth_and_time_quick_run(tmp_path):
    from experiments import depth_and_time as dt

    r = dt.run(["--quick", "--no-progress", "--no-compile-cache", "--out", str(tmp_path)])
    assert set(r["by_depth"]) == {"1", "3"} and set(r["by_width"]) == {"8", "16"} and r["verdict"]
    assert (tmp_path / "epoch_time_vs_depth.png").stat().st_size > 0
