"""The optimization chapter's experiments: their pieces on small networks (the --quick runs are slow-marked)."""
import numpy as np
import pytest

from jaxnets.data import load_embedded, prepare


@pytest.fixture(scope="module")
def digits():
    return prepare(load_embedded("digits"), test_size=0.2, val_size=0.1, seed=42)


def test_vanishing_and_dying_study_and_verdicts(digits):
    from experiments import vanishing_and_dying as vd

    preset = vd.Preset(depth=3, width=8, epochs=2, seeds=2, early=1)
    found = {a: vd.study(a, digits, preset, False) for a in vd.ACTIVATIONS}
    for r in found.values():
        assert r["grads"].shape == (2, 3, 2) and r["dead"].shape == (2, 3, 2)
        np.testing.assert_allclose(r["first_over_last_grad"]["per_seed"], r["grads"][:, 0, 0] / r["grads"][:, -1, 0])
        assert set(r["dead_fraction_by_layer"]) == {"1", "2", "3"}
    # leaky ReLU's units are never exactly zero; sigmoid and tanh only by underflow
    assert found["leaky_relu"]["dead_fraction"]["max"] == 0.0
    v = vd.verdicts(found, preset)
    assert set(v) == {"vanishing", "dying", "trains_faster"}
    assert "sigmoid" in v["vanishing"] and "relu" in v["dying"] and "after 1 epochs" in v["trains_faster"]


@pytest.mark.slow
def test_vanishing_and_dying_quick_run(tmp_path):
    from experiments import vanishing_and_dying as vd

    r = vd.run(["--quick", "--no-progress", "--no-compile-cache", "--out", str(tmp_path)])
    assert set(r["models"]) == set(vd.ACTIVATIONS) and set(r["verdicts"]) == {"vanishing", "dying", "trains_faster"}
    for name in ("gradient_norm_by_layer", "dead_fraction", "learning_curves", "diagnostics_relu"):
        assert (tmp_path / f"{name}.png").stat().st_size > 0
