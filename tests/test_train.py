import os

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import compile_log

from experiments.baselines.numpy_seed import SeedMLP
from jaxnets.models import MLP
from jaxnets.train import (
    Classification,
    FitConfig,
    Regression,
    TrainingDiverged,
    batch_indices,
    compile_fit,
    create_state,
    create_states,
    fit,
    make_optimizer,
    make_schedule,
    make_train_step,
    member,
    predict_logits,
    set_learning_rates,
)

QUIET = dict(progress=False)


def _toy(n=40, f=5, k=2, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, f)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int32) if k == 2 else rng.integers(0, k, n).astype(np.int32)
    return {"x": x, "y": y}


def test_batch_indices_cover_every_example_once():
    idx, mask = batch_indices(jax.random.PRNGKey(3), 70, 32, True)
    chex.assert_shape(idx, (3, 32))
    valid = np.asarray(idx)[np.asarray(mask) == 1]
    assert sorted(valid.tolist()) == list(range(70))
    assert float(mask.sum()) == 70 and float(mask[-1].sum()) == 6  # last partial batch is masked, not dropped


def test_one_epoch_equals_the_seeds_numpy_backprop(breast_cancer_splits):
    """Independent reference: the seed's hand-written backprop (float64 NumPy), same weights, same batch
    order (no shuffle), including the last partial batch of 455 % 32 = 7 examples."""
    s = breast_cancer_splits
    ref = SeedMLP([30, 16, 8, 1], learning_rate=0.05, seed=0)
    model = MLP((16, 8, 1), activation="relu")
    params = {f"hidden_{i}": {"kernel": jnp.asarray(w, jnp.float32), "bias": jnp.asarray(b[0], jnp.float32)}
              for i, (w, b) in enumerate(zip(ref.w[:-1], ref.b[:-1]))}
    params["output"] = {"kernel": jnp.asarray(ref.w[-1], jnp.float32), "bias": jnp.asarray(ref.b[-1][0], jnp.float32)}
    state = create_state(model, optax.sgd(0.05), jax.random.PRNGKey(0), s.train["x"])
    state = state.replace(params=params, opt_state=state.tx.init(params))
    r = fit(state, Classification(2), s.train, None, FitConfig(epochs=1, shuffle=False, **QUIET))
    x, y = s.train["x"].astype(np.float64), s.train["y"].reshape(-1, 1).astype(np.float64)
    losses = [ref.step(x[i:i + 32], y[i:i + 32]) for i in range(0, len(x), 32)]
    for i in range(2):
        np.testing.assert_allclose(r.state.params[f"hidden_{i}"]["kernel"], ref.w[i], rtol=2e-4, atol=2e-6)
    np.testing.assert_allclose(r.state.params["output"]["kernel"], ref.w[-1], rtol=2e-4, atol=2e-6)
    # epoch loss = example-weighted mean of the batch losses
    sizes = [len(x[i:i + 32]) for i in range(0, len(x), 32)]
    np.testing.assert_allclose(r.history["train_loss"][0, 0], np.average(losses, weights=sizes), rtol=1e-4)


class TestStep(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_step_jit_and_nojit_agree_and_count(self):
        d = _toy()
        model = MLP((8, 1))
        obj = Classification(2)
        state = create_state(model, make_optimizer("adam", 1e-2), jax.random.PRNGKey(0), d["x"])
        batch = {"x": jnp.asarray(d["x"][:8]), "y": jnp.asarray(d["y"][:8]), "mask": jnp.ones(8)}
        new, metrics = self.variant(make_train_step(obj))(state, batch)
        ref, _ = jax.jit(make_train_step(obj))(state, batch)
        chex.assert_trees_all_close(new.params, ref.params, rtol=1e-6)
        assert int(new.step) == 1 and float(metrics["count"]) == 8


def test_masked_padding_does_not_change_the_gradient():
    d = _toy()
    model = MLP((8, 1))
    obj = Classification(2)
    state = create_state(model, optax.sgd(0.1), jax.random.PRNGKey(0), d["x"])
    step = jax.jit(make_train_step(obj))
    x, y = jnp.asarray(d["x"]), jnp.asarray(d["y"])
    small, _ = step(state, {"x": x[:5], "y": y[:5], "mask": jnp.ones(5)})
    padded_x = jnp.concatenate([x[:5], x[:3]])
    padded_y = jnp.concatenate([y[:5], y[:3]])
    mask = jnp.asarray([1.0] * 5 + [0.0] * 3)
    padded, _ = step(state, {"x": padded_x, "y": padded_y, "mask": mask})
    chex.assert_trees_all_close(small.params, padded.params, rtol=1e-6, atol=1e-7)


def test_same_seed_same_numbers_and_members_are_independent():
    d = _toy(k=3)
    model = MLP((16, 3))
    cfg = FitConfig(epochs=5, batch_size=8, **QUIET)
    runs = [fit(create_states(model, make_optimizer("adam", 1e-2), [0, 1, 2], d["x"]),
                Classification(3), d, None, cfg) for _ in range(2)]
    chex.assert_trees_all_equal(runs[0].state.params, runs[1].state.params)  # bit-identical
    # member 1 of the vmapped program = seed 1 trained on its own
    alone = fit(create_states(model, make_optimizer("adam", 1e-2), [1], d["x"]), Classification(3), d, None, cfg)
    chex.assert_trees_all_close(member(runs[0].state, 1).params, member(alone.state, 0).params, rtol=1e-5, atol=1e-6)
    assert not np.allclose(runs[0].state.params["output"]["kernel"][0], runs[0].state.params["output"]["kernel"][1])


def test_a_second_fit_with_the_same_shapes_compiles_nothing():
    """One compile site, cached: a second fit (other seeds, other data of the same shapes) compiles
    no program at all. Counted from JAX's own compile log, so the test fails if anything recompiles."""
    d, v = _toy(), _toy(seed=1)
    model, tx = MLP((8, 1)), make_optimizer("adam", 1e-2)
    cfg = FitConfig(epochs=4, batch_size=16, patience=3, epochs_per_call=2, **QUIET)
    fit(create_states(model, tx, [0, 1], d["x"]), Classification(2), d, v, cfg)  # compiles
    with compile_log() as compiled:
        st = create_states(model, tx, [5, 6], d["x"])
        fit(st, Classification(2), _toy(seed=2), v, cfg)
    assert compiled == [], compiled
    with compile_log() as compiled:  # the guard can fail: new shapes compile
        fit(st, Classification(2), _toy(n=44), v, cfg)
    assert compiled


def test_compile_fit_ahead_of_time_gives_the_same_run():
    d = _toy()
    model, tx, obj = MLP((8, 1)), make_optimizer("adam", 1e-2), Classification(2)
    cfg = FitConfig(epochs=4, batch_size=16, **QUIET)
    state = create_states(model, tx, [0, 7], d["x"])
    program = compile_fit(state, obj, d, d, cfg)
    assert program.compile_seconds > 0
    chex.assert_trees_all_equal(fit(state, obj, d, d, cfg, program=program).state, fit(state, obj, d, d, cfg).state)
    single = create_state(model, tx, jax.random.PRNGKey(3), d["x"])  # no member axis
    r = fit(single, obj, d, None, cfg, program=compile_fit(single, obj, d, None, cfg))
    assert r.state.step.shape == ()
    with pytest.raises(ValueError, match="different FitConfig"):
        fit(state, obj, d, d, FitConfig(epochs=5, **QUIET), program=program)


def test_the_callers_state_survives_the_donated_carry():
    """The carry is donated to the compiled program; the state passed to fit stays usable."""
    d = _toy()
    model = MLP((8, 1))
    st = create_states(model, make_optimizer("sgd", 0.1), [0, 1], d["x"])
    before = jax.device_get(st.params)
    fit(st, Classification(2), d, d, FitConfig(epochs=3, **QUIET))
    chex.assert_trees_all_equal(jax.device_get(st.params), before)


def test_list_widths_and_numpy_ints_are_accepted():
    d = _toy()
    model = MLP([np.int64(8), 1])  # as the text writes layers
    assert model.features == (8, 1)
    r = fit(create_states(model, make_optimizer("sgd", 0.1), [0], d["x"]), Classification(2), d, None,
            FitConfig(epochs=2, **QUIET))
    assert np.isfinite(r.history["train_loss"]).all()
    with pytest.raises(ValueError, match=r"MLP.features\[1\] must be a positive int"):
        MLP([8, 0])


def test_output_width_must_match_num_classes():
    d = _toy(k=3)
    st = create_states(MLP((16, 1)), make_optimizer("adam", 1e-2), [0], d["x"])
    with pytest.raises(ValueError, match=r"num_classes=3\) needs a model with 3 outputs, but the model's last layer "
                                         r"has 1"):
        fit(st, Classification(3), d, None, FitConfig(epochs=1, **QUIET))
    st5 = create_states(MLP((16, 5)), make_optimizer("adam", 1e-2), [0], d["x"])
    with pytest.raises(ValueError, match="has 5"):
        fit(st5, Classification(3), d, None, FitConfig(epochs=1, **QUIET))


def test_no_retrace_per_host_call():
    """Epoch chunks reuse one compiled program: the objective is traced the same number of times
    whether the run takes 2 host calls or 6."""
    d = _toy()
    model = MLP((4, 1))
    traces = []

    class Counting(Classification):
        def __call__(self, *a):
            traces.append(1)
            return super().__call__(*a)

    counts = []
    for epochs in (4, 12):
        traces.clear()
        st = create_states(model, make_optimizer("sgd", 1e-2), [0, 1], d["x"])
        fit(st, Counting(2), d, d, FitConfig(epochs=epochs, epochs_per_call=2, **QUIET))
        counts.append(len(traces))
    assert counts[0] == counts[1] > 0


def test_uneven_chunks_skip_padded_epochs():
    d = _toy()
    model = MLP((4, 1))
    st = create_states(model, make_optimizer("sgd", 1e-2), [0], d["x"])
    r = fit(st, Classification(2), d, None, FitConfig(epochs=7, epochs_per_call=3, **QUIET))
    assert r.history["train_loss"].shape == (1, 7) and int(r.state.step[0]) == 7 * 2  # 40 / 32 -> 2 steps


def test_early_stopping_restores_best_parameters():
    d, v = _toy(n=32, seed=0), _toy(n=32, seed=1)
    v["y"] = 1 - v["y"]  # validation labels inverted: val loss rises as training fits
    model = MLP((16, 1))
    st = create_states(model, make_optimizer("adam", 5e-2), [0, 1], d["x"])
    cfg = FitConfig(epochs=200, batch_size=32, patience=5, epochs_per_call=10, **QUIET)
    r = fit(st, Classification(2), d, v, cfg)
    assert (r.epochs_run < 200).all()
    assert (r.epochs_run == r.best_epoch + 1 + 5).all()  # stopped `patience` epochs after the best
    val_loss = r.history["val_loss"]
    for m in range(2):
        assert r.best_epoch[m] == np.nanargmin(val_loss[m])
    # the returned parameters are the best epoch's: re-evaluating gives the best val loss
    logits = np.asarray(predict_logits(r.state, v["x"]))[..., 0]
    bce = np.mean(np.logaddexp(0, logits) - logits * v["y"], axis=-1)
    np.testing.assert_allclose(bce, np.nanmin(val_loss, axis=1), rtol=1e-4)


def test_early_stopping_needs_a_loss_to_watch():
    """patience / restore_best on a validation loss without validation data is an error naming the
    way out; monitor="train_loss" stops on the training loss and restores its best epoch."""
    d = _toy(n=32)
    st = create_states(MLP((16, 1)), make_optimizer("sgd", 1e-2), [0, 1], d["x"])
    with pytest.raises(ValueError, match=r"patience=5 stops on the validation loss.*monitor='train_loss'"):
        fit(st, Classification(2), d, None, FitConfig(epochs=10, patience=5, **QUIET))
    with pytest.raises(ValueError, match="restore_best=True restores the best validation-loss parameters"):
        fit(st, Classification(2), d, None, FitConfig(epochs=10, restore_best=True, **QUIET))
    with pytest.raises(ValueError, match="FitConfig.monitor must be"):
        FitConfig(epochs=10, monitor="val_acc")
    # A learning rate so large the training loss jumps about: it stops `patience` epochs after its best.
    st = create_states(MLP((16, 1)), make_optimizer("sgd", 30.0), [0, 1], d["x"])
    r = fit(st, Classification(2), d, None, FitConfig(epochs=200, patience=3, monitor="train_loss", **QUIET))
    assert (r.epochs_run == r.best_epoch + 1 + 3).all() and (r.epochs_run < 200).all()
    for m in range(2):
        assert r.best_epoch[m] == np.nanargmin(r.history["train_loss"][m])


def test_nan_guard_stops_and_keeps_last_good_state():
    d = _toy()
    model = MLP((8, 1))
    st = create_states(model, make_optimizer("sgd", 1e30), [0], d["x"])
    with pytest.raises(TrainingDiverged, match="member 0 at epoch") as e:
        fit(st, Classification(2), d, None, FitConfig(epochs=50, epochs_per_call=5, **QUIET))
    chex.assert_tree_all_finite(e.value.state.params)
    assert e.value.epoch >= 0


def test_learning_rate_per_member_in_one_program():
    d = _toy()
    model = MLP((8, 1))
    st = create_states(model, make_optimizer("sgd", 1.0), [0, 0], d["x"])
    st = set_learning_rates(st, [0.0, 0.1])
    r = fit(st, Classification(2), d, None, FitConfig(epochs=3, **QUIET))
    chex.assert_trees_all_equal(member(r.state, 0).params, member(st, 0).params)  # lr 0: unchanged
    assert not np.allclose(r.state.params["output"]["kernel"][1], st.params["output"]["kernel"][1])
    with pytest.raises(ValueError, match=r"learning_rate needs one value per member, shape \(2,\)"):
        set_learning_rates(st, [0.1])


def test_regression_objective_fits_diabetes_better_than_the_mean():
    from jaxnets.data import load_embedded, prepare

    s = prepare(load_embedded("diabetes"), val_size=0.0, seed=0)
    ys = s.train["y"].std()
    train = {"x": s.train["x"], "y": s.train["y"] / ys}
    model = MLP((32, 1))
    st = create_state(model, make_optimizer("adam", 1e-2), jax.random.PRNGKey(0), train["x"])
    r = fit(st, Regression(), train, None, FitConfig(epochs=100, **QUIET))
    assert r.history["train_loss"][0, -1] < 0.6  # variance of the scaled target is 1
    assert "train_mae" in r.history


def test_bad_inputs_raise_clear_errors(breast_cancer_splits):
    s = breast_cancer_splits
    model = MLP((4, 1))
    st = create_state(model, make_optimizer("sgd", 1e-2), jax.random.PRNGKey(0), s.train["x"])
    obj, cfg = Classification(2), FitConfig(epochs=1, **QUIET)
    with pytest.raises(ValueError, match=r"train\['x'\] has per-example shape \(29,\).*\(30,\)"):
        fit(st, obj, {"x": s.train["x"][:, :29], "y": s.train["y"]}, None, cfg)
    bad = s.train["x"].copy()
    bad[3, 7] = np.nan
    with pytest.raises(ValueError, match=r"train\['x'\] contains NaN or inf \(first at index \(3, 7\)\)"):
        fit(st, obj, {"x": bad, "y": s.train["y"]}, None, cfg)
    with pytest.raises(ValueError, match=r"val\['y'\] has labels outside \[0, 2\)"):
        fit(st, obj, s.train, {"x": s.val["x"], "y": s.val["y"] + 1}, cfg)
    with pytest.raises(TypeError, match="integer class ids"):
        fit(st, obj, {"x": s.train["x"], "y": s.train["y"].astype(float)}, None, cfg)
    with pytest.raises(ValueError, match="x has 455 examples but y has 454"):
        fit(st, obj, {"x": s.train["x"], "y": s.train["y"][:-1]}, None, cfg)
    with pytest.raises(ValueError, match="unknown optimizer 'adamax2'"):
        make_optimizer("adamax2")
    with pytest.raises(ValueError, match="learning_rate must be > 0"):
        make_optimizer("sgd", -1.0)
    with pytest.raises(TypeError, match=r"make_optimizer\('adam'\): learning_rate must be a number.*str '1e-3'"):
        make_optimizer("adam", "1e-3")
    with pytest.raises(ValueError, match="clip_norm must be > 0"):
        make_optimizer("adam", 1e-3, clip_norm=0.0)
    with pytest.raises(ValueError, match="FitConfig.epochs must be a positive int"):
        FitConfig(epochs=0)
    with pytest.raises(ValueError, match=r"x must have shape \[batch, 30\]"):
        predict_logits(st, s.train["x"][:, :5])
    with pytest.raises(ValueError, match="num_classes >= 2"):
        Classification(1)


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop", "adagrad"])
def test_every_optimizer_reduces_the_loss(name):
    d = _toy()
    model = MLP((8, 1))
    lr = 0.05 if name in ("sgd", "momentum", "nesterov", "adagrad") else 1e-2
    st = create_state(model, make_optimizer(name, lr), jax.random.PRNGKey(0), d["x"])
    r = fit(st, Classification(2), d, None, FitConfig(epochs=30, batch_size=8, **QUIET))
    assert r.history["train_loss"][0, -1] < 0.6 * r.history["train_loss"][0, 0]


def test_schedules_drive_the_injected_learning_rate():
    d = _toy()
    model = MLP((8, 1))
    sched = make_schedule("warmup_cosine", 1e-2, total_steps=20, warmup_steps=4)
    st = create_state(model, make_optimizer("adam", sched), jax.random.PRNGKey(0), d["x"])
    r = fit(st, Classification(2), d, None, FitConfig(epochs=10, **QUIET))  # 2 steps/epoch = 20 steps
    lr = float(r.state.opt_state.hyperparams["learning_rate"])
    assert lr == pytest.approx(float(sched(19)), rel=1e-5) and lr < 1e-3  # cosine decayed to ~0
    with pytest.raises(ValueError, match="unknown schedule"):
        make_schedule("triangle", 1e-2, 10)
    with pytest.raises(ValueError, match="needs total_steps"):
        make_schedule("cosine", 1e-2)


def test_cpu_xla_flags_keep_the_users_own(monkeypatch):
    """set_cpu_xla_flags adds jaxnets' XLA:CPU flags only for options XLA_FLAGS does not already set,
    and refuses once JAX's backends have started (XLA would silently ignore them)."""
    from jaxnets import runtime

    with pytest.raises(RuntimeError, match="before the first JAX computation"):
        runtime.set_cpu_xla_flags()
    monkeypatch.setattr(runtime, "_backends_started", lambda: False)
    monkeypatch.setattr(runtime, "cpu_only", lambda: True)
    monkeypatch.setenv("XLA_FLAGS", "--xla_backend_extra_options=mine --xla_dump_to=/tmp/x")
    runtime.set_cpu_xla_flags()
    flags = os.environ["XLA_FLAGS"].split()
    known = runtime.cpu_xla_flags()
    assert flags == ["--xla_backend_extra_options=mine", "--xla_dump_to=/tmp/x",
                     *[f for k, f in known.items() if k != "xla_backend_extra_options"]]
    monkeypatch.delenv("XLA_FLAGS")
    runtime.set_cpu_xla_flags()
    assert os.environ["XLA_FLAGS"].split() == list(known.values())


def test_cpu_xla_flags_skip_options_xla_has_removed(monkeypatch):
    """jaxlib 0.11.2 aborts on --xla_cpu_use_fusion_emitters (an option XLA removed): it is added
    only for the jaxlib versions that know it."""
    from importlib import metadata

    from jaxnets import runtime

    for version, has_it in (("0.10.2", True), ("0.9.0", True), ("0.11.2", False), ("1.0.0", False)):
        monkeypatch.setattr(metadata, "version", lambda name, v=version: v)
        known = runtime.cpu_xla_flags()
        assert ("xla_cpu_use_fusion_emitters" in known) == has_it, version
        assert set(known) | {"xla_cpu_use_fusion_emitters"} == set(runtime.CPU_XLA_FLAGS)


def test_cpu_xla_flags_stay_off_accelerators(monkeypatch):
    """A GPU/TPU client aborts the process on XLA:CPU flags, so they are added only where JAX will
    start the CPU alone: JAX_PLATFORMS names only cpu, or no accelerator plugin is installed."""
    from jaxnets import runtime

    monkeypatch.setattr(runtime, "_backends_started", lambda: False)
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    cases = [(["cuda", "cpu"], [], False), (["cpu"], ["xla_cuda13"], True), ([], ["xla_cuda13"], False),
             ([], [], True), (["tpu"], [], False)]
    for platforms, plugins, cpu_alone in cases:
        monkeypatch.setattr(runtime, "_requested_platforms", lambda p=platforms: p)
        monkeypatch.setattr(runtime, "_accelerator_plugins", lambda p=plugins: p)
        assert runtime.cpu_only() == cpu_alone, (platforms, plugins)
        assert bool(runtime.set_cpu_xla_flags()) == cpu_alone
        assert ("XLA_FLAGS" in os.environ) == cpu_alone
        monkeypatch.delenv("XLA_FLAGS", raising=False)
    monkeypatch.undo()
    assert runtime.cpu_only() == (jax.default_backend() == "cpu")  # the real look-up, on this machine


def test_progress_off_a_terminal_is_plain_lines_and_says_where_members_stopped(capsys):
    """Not a terminal (a log file, CI, a notebook): a line per quarter of the epochs and a last line
    with each member's stop and best epoch (1-based), the same numbers the FitResult holds."""
    def last_line(name, parts):
        if parts[0] == parts[1]:
            return f"{name}: {parts[0]} [all 2 members]"
        return f"{name}: " + "; ".join(f"member {i}: {p}" for i, p in enumerate(parts))

    d, v = _toy(seed=0), _toy(seed=1)
    st = create_states(MLP((8, 1)), make_optimizer("adam", 5e-2), [0, 1], d["x"])
    r = fit(st, Classification(2), d, v, FitConfig(epochs=40, batch_size=8, epochs_per_call=10, progress=True),
            name="full")
    lines = capsys.readouterr().err.strip().splitlines()
    assert "\r" not in "".join(lines)
    assert [line.split("  ")[0] for line in lines[:-1]] == [f"full: epoch {e}/40" for e in (10, 20, 30, 40)]
    assert all("train_loss" in line and "val_loss" in line for line in lines[:-1])
    assert lines[-1] == last_line("full", [f"ran all 40 epochs (best {b + 1})" for b in r.best_epoch])

    r = fit(st, Classification(2), d, v, FitConfig(epochs=200, batch_size=8, patience=3, progress=True), name="early")
    assert all(r.epochs_run < 200)
    assert capsys.readouterr().err.strip().splitlines()[-1] == last_line(
        "early", [f"stopped at epoch {e} (best {b + 1})" for e, b in zip(r.epochs_run, r.best_epoch)])
