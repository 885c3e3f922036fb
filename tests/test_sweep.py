"""Sweeps and per-member settings: injected optimizer numbers, the objective's l2 / label smoothing,
weight decay that spares biases, and `sweep()` against the same settings trained alone."""
import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxnets.models import MLP
from jaxnets.train import (
    Classification,
    FitConfig,
    Regression,
    create_state,
    create_states,
    decay_mask,
    fit,
    make_optimizer,
    member,
    optimizer_settings,
    set_hyperparams,
    sweep,
)

QUIET = dict(progress=False)


def _toy(n=48, f=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, f)).astype(np.float32)
    return {"x": x, "y": (x[:, 0] - 0.7 * x[:, 2] > 0).astype(np.int32)}


def test_make_optimizer_injects_every_number_it_is_given():
    d = _toy()
    st = create_states(MLP((4, 1)), make_optimizer("sgd", 0.1, momentum=0.5, weight_decay=1e-3), [0, 1], d["x"])
    got = optimizer_settings(st)
    assert set(got) == {"learning_rate", "momentum", "weight_decay"}
    np.testing.assert_allclose(got["momentum"], [0.5, 0.5])
    st = set_hyperparams(st, momentum=[0.0, 0.9], learning_rate=[0.1, 0.2])
    np.testing.assert_allclose(optimizer_settings(st)["momentum"], [0.0, 0.9])
    with pytest.raises(ValueError, match=r"unknown setting\(s\) \['b1'\].*injects \['learning_rate', 'momentum'"):
        set_hyperparams(st, b1=[0.9, 0.9])
    with pytest.raises(ValueError, match=r"one value per member, shape \(2,\)"):
        set_hyperparams(st, momentum=[0.9])
    with pytest.raises(ValueError, match="weight_decay must be >= 0"):
        make_optimizer("adamw", 1e-3, weight_decay=-1e-4)
    with pytest.raises(ValueError, match="momentum must be >= 0"):
        make_optimizer("sgd", 1e-3, momentum=-0.1)


@pytest.mark.parametrize("name", ["adamw", "sgd"])
def test_weight_decay_spares_biases(name):
    """With a zero gradient only decay moves the parameters: kernels shrink, biases stay put."""
    params = {"hidden_0": {"kernel": jnp.ones((3, 2)), "bias": jnp.ones(2)},
              "norm": {"scale": jnp.ones(2)}, "embedding": {"embedding": jnp.ones((4, 2))}}
    chex.assert_trees_all_equal(decay_mask(params), {"hidden_0": {"kernel": True, "bias": False},
                                                     "norm": {"scale": False}, "embedding": {"embedding": False}})
    tx = make_optimizer(name, 0.1, weight_decay=0.5)
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    updates, _ = tx.update(zeros, tx.init(params), params)
    new = optax.apply_updates(params, updates)
    np.testing.assert_allclose(new["hidden_0"]["kernel"], 1 - 0.1 * 0.5, rtol=1e-6)  # w - lr·wd·w
    for path in (("hidden_0", "bias"), ("norm", "scale"), ("embedding", "embedding")):
        np.testing.assert_array_equal(new[path[0]][path[1]], params[path[0]][path[1]])


def test_label_smoothing_equals_the_closed_form():
    """Binary: BCE against y(1-ε)+ε/2; k classes: (1-ε)·CE + ε·mean_k(-log p_k). The reported loss stays
    the plain cross-entropy; the training loss is the smoothed one."""
    x = np.random.default_rng(1).normal(size=(6, 3)).astype(np.float32)
    for k, y in ((2, np.array([0, 1, 1, 0, 1, 0], np.int32)), (3, np.array([0, 1, 2, 2, 1, 0], np.int32))):
        model = MLP((4, 1 if k == 2 else k))
        st = create_state(model, optax.sgd(0.1), jax.random.PRNGKey(0), x)
        batch = {"x": jnp.asarray(x), "y": jnp.asarray(y), "mask": jnp.ones(6)}
        z = np.asarray(model.apply({"params": st.params}, x), np.float64)
        eps = 0.2
        if k == 2:
            t = y * (1 - eps) + eps / 2
            z = z[:, 0]
            want = np.mean(np.logaddexp(0, z) - z * t)
            plain = np.mean(np.logaddexp(0, z) - z * y)
        else:
            logp = z - np.log(np.exp(z).sum(1, keepdims=True))
            want = np.mean(-(1 - eps) * logp[np.arange(6), y] - eps * logp.mean(1))
            plain = np.mean(-logp[np.arange(6), y])
        obj = Classification(k, label_smoothing=eps)
        loss, (m, _) = obj(st.apply_fn, st.params, {}, batch, st.rng, True)
        np.testing.assert_allclose(float(loss), want, rtol=1e-5)
        np.testing.assert_allclose(float(m["loss_sum"]) / 6, plain, rtol=1e-5)
        # the same value given per member (as a sweep does) instead of as the field
        loss2, _ = Classification(k)(st.apply_fn, st.params, {}, {**batch, "hyper": {"label_smoothing": eps}},
                                     st.rng, True)
        np.testing.assert_allclose(float(loss2), want, rtol=1e-6)
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\)"):
        Classification(2, label_smoothing=1.0)


def test_per_member_l2_equals_the_static_field():
    d = _toy()
    cfg = FitConfig(epochs=4, batch_size=16, **QUIET)
    model, tx = MLP((6, 1)), make_optimizer("sgd", 0.1)
    st = set_hyperparams(create_states(model, tx, [3, 3], d["x"]), l2=[0.0, 0.05])
    r = fit(st, Classification(2), d, None, cfg)
    for i, l2 in enumerate((0.0, 0.05)):
        alone = fit(create_states(model, tx, [3], d["x"]), Classification(2, l2=l2), d, None, cfg)
        chex.assert_trees_all_close(member(r.state, i).params, member(alone.state, 0).params, atol=1e-6)


def test_sweep_member_equals_the_setting_trained_alone():
    d, v = _toy(seed=0), _toy(n=32, seed=1)
    cfg = FitConfig(epochs=6, batch_size=16, **QUIET)
    res = sweep(MLP((6, 1)), Classification(2), "adam", {"learning_rate": [0.003, 0.03], "weight_decay": [0.0, 0.01]},
                d, v, cfg, seeds=[0, 1], test=v)
    assert len(res.rows) == 4 and all(r["members"] == 2 and r["diverged"] == 0 for r in res.rows)
    _, result = res.fits[0]
    i = next(i for i, m in enumerate(res.members)
             if m["setting"] == {"learning_rate": 0.03, "weight_decay": 0.01} and m["seed"] == 1)
    alone = fit(create_states(MLP((6, 1)), make_optimizer("adam", 0.03, weight_decay=0.01), [1], d["x"]),
                Classification(2), d, v, cfg)
    chex.assert_trees_all_close(member(result.state, i).params, member(alone.state, 0).params, atol=1e-6)
    # the table's mean is the mean of the members' own validation losses
    row = next(r for r in res.rows if r["setting"] == {"learning_rate": 0.03, "weight_decay": 0.01})
    mine = [m["val_loss"] for m in res.members if m["setting"] == row["setting"]]
    assert row["val_loss"]["mean"] == pytest.approx(np.mean(mine))
    best = min(res.rows, key=lambda r: r["val_loss"]["mean"])["setting"]
    assert res.best == best
    assert "| learning_rate | weight_decay | val_loss |" in res.markdown()


def test_sweep_groups_model_settings_and_warns_on_the_grid_edge():
    d, v = _toy(seed=0), _toy(n=32, seed=1)
    res = sweep(MLP((6, 1)), Classification(2), "sgd",
                {"features": [(4, 1), (8, 1)], "learning_rate": [1e-4, 1e-3, 1e-2]},
                d, v, FitConfig(epochs=3, batch_size=16, **QUIET), seeds=[0])
    assert [static for static, _ in res.fits] == [{"features": (4, 1)}, {"features": (8, 1)}]
    assert [r.state.params["hidden_0"]["kernel"].shape[-1] for _, r in res.fits] == [4, 8]
    assert res.best["learning_rate"] == 1e-2  # 3 epochs: the largest rate learns most
    assert any("largest value of the grid" in w for w in res.warnings)


def test_sweep_counts_diverged_members_instead_of_stopping():
    d, v = _toy(seed=0), _toy(n=32, seed=1)
    res = sweep(MLP((6, 1)), Classification(2), "sgd", {"learning_rate": [0.05, 1e30]}, d, v,
                FitConfig(epochs=4, batch_size=16, **QUIET), seeds=[0, 1])
    by_lr = {r["setting"]["learning_rate"]: r for r in res.rows}
    assert by_lr[1e30]["diverged"] == 1.0 and by_lr[1e30]["val_loss"] is None
    assert by_lr[0.05]["diverged"] == 0.0 and res.best == {"learning_rate": 0.05}


def test_sweep_bad_grids_raise_clear_errors():
    d = _toy()
    args = (MLP((4, 1)), Classification(2), "adam")
    run = lambda grid, **kw: sweep(*args, grid, d, d, FitConfig(epochs=1, **QUIET), **kw)
    with pytest.raises(ValueError, match=r"unknown setting 'lerning_rate'.*'learning_rate'.*'l2'.*'dropout_rate'"):
        run({"lerning_rate": [0.1]})
    with pytest.raises(ValueError, match=r"unknown setting 'label_smoothing'.*objective Regression: \['l2'\]"):
        sweep(MLP((4, 1)), Regression(), "adam", {"label_smoothing": [0.1]}, d, d, FitConfig(epochs=1))
    with pytest.raises(ValueError, match=r"grid\['learning_rate'\] must be a non-empty list"):
        run({"learning_rate": []})
    with pytest.raises(ValueError, match=r"grid must be a non-empty dict"):
        run({})
    with pytest.raises(ValueError, match=r"grid\['learning_rate'\] value -0.1 is outside \(0.0, inf\)"):
        run({"learning_rate": [-0.1]})
    with pytest.raises(ValueError, match=r"grid\['weight_decay'\] value -1 is outside \[0.0, inf\)"):
        run({"weight_decay": [-1]})
    with pytest.raises(ValueError, match=r"grid\['dropout_rate'\] value 1.0 is outside \[0.0, 1.0\)"):
        run({"dropout_rate": [0.5, 1.0]})
    with pytest.raises(ValueError, match=r"schedule recomputes the rate every step"):
        run({"learning_rate": [0.1, 0.2]}, learning_rate=lambda step: 0.1)
    with pytest.raises(ValueError, match=r"select must name a validation metric"):
        run({"learning_rate": [0.1]}, select="accuracy")
    with pytest.raises(ValueError, match=r"optimizer must be one of"):
        sweep(MLP((4, 1)), Classification(2), "adamx", {"learning_rate": [0.1]}, d, d, FitConfig(epochs=1))


def test_bench_training_quick_run_writes_its_ratios(tmp_path):
    from experiments import bench_training

    res = bench_training.main(["--quick", "--out", str(tmp_path)])
    assert res["sweep"]["members"] == 32
    assert res["single_one_device"]["members"] == res["single_default_mesh"]["members"] == 1
    assert res["ratios"]["sweep_32_vs_single"] > 0 and res["ratios"]["sweep_32_vs_single_cold"] > 0
    assert res["ratios"]["diagnostics_overhead"] > 0 and res["diagnostics"]["seeds"] == 8
    assert res["sweep"]["best"]["learning_rate"] in bench_training.LEARNING_RATES
    assert (tmp_path / "results.json").exists()
    assert "sweep / single on one device" in (tmp_path / "results.md").read_text()


def test_optimizers_tune_and_verdict():
    """The experiment's pieces on two optimizers and a small grid (the whole --quick run is slow-marked)."""
    from experiments import optimizers
    from jaxnets.data import load_embedded, prepare

    splits = prepare(load_embedded("breast_cancer"), test_size=0.2, val_size=0.15, seed=42)
    preset = optimizers.Preset(epochs=3, seeds=2, learning_rates=(1e-3, 1e-1))
    found = {o: optimizers.tune(o, splits, (4, 1), preset, False) for o in ("sgd", "adam")}
    for r in found.values():
        assert r["learning_rate"] in preset.learning_rates and r["members"] == 4
        assert r["history"]["val_loss"].shape == (2, 3) and np.asarray(r["val_loss_by_rate"]).shape == (2, 2)
    v = optimizers.verdict("breast_cancer", found)
    best = max(found, key=lambda o: found[o]["test_accuracy"]["mean"])
    assert v.startswith(f"breast_cancer: {best} has the best test accuracy")


@pytest.mark.slow
def test_optimizers_quick_run(tmp_path):
    from experiments import optimizers

    r = optimizers.run(["--quick", "--no-progress", "--no-compile-cache", "--out", str(tmp_path)])
    found = r["datasets"]["breast_cancer"]["optimizers"]
    assert set(found) == set(optimizers.OPTIMIZERS)
    for o in found.values():
        assert o["learning_rate"] in (1e-3, 1e-2, 1e-1) and len(o["test_accuracy"]["per_seed"]) == 2
        assert np.asarray(o["val_loss_by_rate"]).shape == (2, 3)
    assert r["verdict"].startswith("breast_cancer: ") and "best test accuracy" in r["verdict"]
    for name in ("test_accuracy", "learning_curves", "val_loss_vs_learning_rate"):
        assert (tmp_path / f"breast_cancer_{name}.png").stat().st_size > 0


def _plateau_reference(losses, p):
    """optax's rule, one value per epoch, in plain Python: the scale each next epoch trains with."""
    best, count, cooldown, scale, out = np.inf, 0, 0, 1.0, []
    for v in losses:
        if v < (1 - p.rtol) * best - p.atol:
            best, count = v, 0
        else:
            count += 1
        if cooldown > 0:
            count, cooldown = 0, cooldown - 1
        elif count == p.patience:
            scale, count, cooldown = max(scale * p.factor, p.min_scale), 0, p.cooldown
        out.append(scale)
    return np.asarray(out)


def test_reduce_on_plateau_follows_the_validation_loss_and_scales_the_updates():
    """One full-batch SGD step per epoch, so each epoch's update is lr·scale·g exactly; the scale
    sequence equals the rule replayed on the logged validation losses."""
    from jaxnets.train import Plateau

    d, v = _toy(n=32, seed=0), _toy(n=32, seed=5)
    v["y"] = np.random.default_rng(5).integers(0, 2, 32).astype(np.int32)  # labels unrelated to x: it stalls
    p = Plateau(factor=0.5, patience=2, cooldown=1)
    lr = 0.5
    st = create_states(MLP((8, 1)), make_optimizer("sgd", lr), [0, 1], d["x"])
    r = fit(st, Classification(2), d, v, FitConfig(epochs=30, batch_size=32, shuffle=False, progress=False,
                                                   diagnostics=True, reduce_on_plateau=p, restore_best=False))
    for m in range(2):
        scales = r.history["lr_scale"][m]
        np.testing.assert_allclose(scales, _plateau_reference(r.history["val_loss"][m], p), rtol=1e-6)
        in_force = np.concatenate([[1.0], scales[:-1]])
        np.testing.assert_allclose(r.history["learning_rate"][m], lr * in_force, rtol=1e-6)
        w = r.history["param_norm/output/kernel"][m]
        before = np.concatenate([[float(np.linalg.norm(st.params["output"]["kernel"][m]))], w[:-1]])
        step = r.history["update_ratio/output/kernel"][m] * np.maximum(before, w)
        np.testing.assert_allclose(step, lr * in_force * r.history["grad_norm/output/kernel"][m], rtol=1e-4)
    assert (r.history["lr_scale"] < 1).any()  # the rate was reduced: the checks above saw both regimes


def test_reduce_on_plateau_bad_configs():
    from jaxnets.train import Plateau

    with pytest.raises(ValueError, match=r"Plateau.factor must be in \(0, 1\)"):
        Plateau(factor=1.5)
    with pytest.raises(ValueError, match="Plateau.patience must be an int >= 1"):
        Plateau(patience=0)
    with pytest.raises(TypeError, match="reduce_on_plateau must be a jaxnets.train.Plateau"):
        FitConfig(epochs=1, reduce_on_plateau={"factor": 0.5})
    d = _toy()
    st = create_states(MLP((4, 1)), make_optimizer("sgd", 0.1), [0], d["x"])
    with pytest.raises(ValueError, match="reduce_on_plateau watches the validation loss, but no validation"):
        fit(st, Classification(2), d, None, FitConfig(epochs=1, reduce_on_plateau=Plateau()))


def test_dropout_equals_flax_and_takes_a_traced_rate():
    """Static rate: flax's nn.Dropout bit for bit (same mask stream, same scaling). Traced rate, under
    jit: the same mask and values to float32 rounding, keeping a fraction 1 − rate."""
    import flax.linen as nn

    from jaxnets.nn.dropout import Dropout

    x = jnp.asarray(np.random.default_rng(0).normal(size=(64, 50)), jnp.float32)
    rngs = {"dropout": jax.random.PRNGKey(7)}
    for rate in (0.1, 0.3, 0.7):
        want = nn.Dropout(rate).apply({}, x, deterministic=False, rngs=rngs)
        got = Dropout().apply({}, x, rate, True, rngs=rngs)
        np.testing.assert_array_equal(got, want)
        traced = jax.jit(lambda r: Dropout().apply({}, x, r, True, rngs=rngs))(jnp.float32(rate))
        np.testing.assert_array_equal(traced != 0, want != 0)  # the same mask
        np.testing.assert_allclose(traced, want, rtol=1e-6)  # XLA may divide by a traced scalar via its reciprocal
        assert float(jnp.mean(traced != 0)) == pytest.approx(1 - rate, abs=0.03)
    np.testing.assert_array_equal(Dropout().apply({}, x, 0.5, False, rngs=rngs), x)  # eval: identity


def test_sweep_dropout_rate_is_per_member_in_one_program():
    """MLP's dropout rate is swept inside one compiled program; each member equals MLP(dropout_rate=r)
    trained alone, and a model without a per-call rate is refused by set_hyperparams."""
    from jaxnets.models import LeNet5

    d, v = _toy(n=64, seed=0), _toy(n=32, seed=1)
    cfg = FitConfig(epochs=5, batch_size=16, **QUIET)
    res = sweep(MLP((16, 1)), Classification(2), "adam", {"dropout_rate": [0.0, 0.4]}, d, v, cfg,
                seeds=[0, 1], learning_rate=0.03)
    assert len(res.fits) == 1 and res.fits[0][0] == {}
    _, result = res.fits[0]
    for i, m in enumerate(res.members):
        alone = fit(create_states(MLP((16, 1), dropout_rate=m["setting"]["dropout_rate"]),
                                  make_optimizer("adam", 0.03), [m["seed"]], d["x"]), Classification(2), d, v, cfg)
        chex.assert_trees_all_close(member(result.state, i).params, member(alone.state, 0).params, atol=1e-6)
    # the rates really differ between members: 0.4 moves the parameters elsewhere than 0.0
    assert not np.allclose(member(result.state, 0).params["output"]["kernel"],
                           member(result.state, 2).params["output"]["kernel"])
    images = np.zeros((4, 28, 28, 1), np.float32)
    with pytest.raises(ValueError, match=r"unknown setting\(s\) \['dropout_rate'\].*LeNet5\) takes per member nothing"):
        set_hyperparams(create_states(LeNet5(), make_optimizer("sgd", 0.1), [0, 1], images), dropout_rate=[0.1, 0.2])
