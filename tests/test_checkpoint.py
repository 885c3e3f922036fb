import chex
import jax
import numpy as np
import pytest

from jaxnets.checkpoint import Checkpointer
from jaxnets.models import MLP
from jaxnets.train import Classification, FitConfig, TrainingDiverged, create_states, fit, make_optimizer
from jaxnets.train.epoch import init_carry


def _setup(n=48):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 6)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32)
    model = MLP((12, 1), dropout_rate=0.1)  # dropout: the step rng must be restored too
    return model, {"x": x, "y": y}, {"x": x[:16], "y": y[:16]}


def test_save_restore_is_bit_exact(tmp_path):
    model, d, _ = _setup()
    tx = make_optimizer("adam", 1e-2)
    st = create_states(model, tx, [0, 1], d["x"])
    carry = init_carry(st)
    logs = {"train": {"loss_sum": np.ones((2, 3)), "count": np.ones((2, 3))},
            "val": {"loss_sum": np.ones((2, 3)), "count": np.ones((2, 3))}, "ran": np.ones((2, 3), bool)}
    ck = Checkpointer(tmp_path, keep=2)
    ck.save(3, carry, logs)
    restored, rlogs, epoch = ck.restore(init_carry(create_states(model, tx, [5, 6], d["x"])))  # other values
    assert epoch == 3
    chex.assert_trees_all_equal(restored, carry)  # params, Adam moments, step, rng: bit for bit
    assert type(restored.state.opt_state) is type(carry.state.opt_state)
    np.testing.assert_array_equal(rlogs["ran"], logs["ran"])
    ck.close()


def test_resumed_run_is_bit_identical_to_uninterrupted(tmp_path):
    model, d, v = _setup()
    obj = Classification(2)
    cfg = FitConfig(epochs=12, batch_size=16, checkpoint_every=4, progress=False)
    fresh = lambda: create_states(model, make_optimizer("adam", 1e-2), [0, 1, 2], d["x"])
    full = fit(fresh(), obj, d, v, cfg, checkpointer=Checkpointer(tmp_path / "a"))
    # "killed" after 8 epochs: train only that far, then resume the 12-epoch run from disk
    ck = Checkpointer(tmp_path / "b")
    fit(fresh(), obj, d, v, FitConfig(epochs=8, batch_size=16, checkpoint_every=4, progress=False), checkpointer=ck)
    assert ck.latest_epoch() == 8
    resumed = fit(fresh(), obj, d, v, cfg, checkpointer=ck, resume=True)
    chex.assert_trees_all_equal(resumed.state.params, full.state.params)
    chex.assert_trees_all_equal(resumed.state.opt_state, full.state.opt_state)
    np.testing.assert_array_equal(resumed.history["val_loss"], full.history["val_loss"])


def test_a_damaged_newest_checkpoint_falls_back_to_the_previous_one(tmp_path):
    """An emptied metadata file in the newest checkpoint: a warning naming it, and the run resumes
    from the checkpoint before it, to the same numbers as an uninterrupted run."""
    model, d, v = _setup()
    obj = Classification(2)
    cfg = FitConfig(epochs=12, batch_size=16, checkpoint_every=4, progress=False)
    fresh = lambda: create_states(model, make_optimizer("adam", 1e-2), [0, 1], d["x"])
    full = fit(fresh(), obj, d, v, cfg)
    ck = Checkpointer(tmp_path / "c")
    fit(fresh(), obj, d, v, FitConfig(epochs=8, batch_size=16, checkpoint_every=4, progress=False), checkpointer=ck)
    damaged = sorted((tmp_path / "c" / "last" / "8").rglob("_METADATA"))
    assert damaged
    damaged[0].write_text("")
    with pytest.warns(UserWarning, match=r"checkpoint .*last/8 is damaged.*restoring the previous one, epoch 4"):
        resumed = fit(fresh(), obj, d, v, cfg, checkpointer=ck, resume=True)
    chex.assert_trees_all_equal(resumed.state.params, full.state.params)
    for step in (4, 8, 12):  # nothing left to fall back to: a clear error, not a bare JSONDecodeError
        for f in (tmp_path / "c" / "last" / str(step)).rglob("_METADATA"):
            f.write_text("")
    with pytest.raises(ValueError, match="cannot be read .* no older complete checkpoint"), pytest.warns(UserWarning):
        ck.restore(jax.eval_shape(init_carry, fresh()))


def test_chunking_does_not_change_the_numbers():
    model, d, v = _setup()
    obj = Classification(2)
    runs = [fit(create_states(model, make_optimizer("sgd", 1e-2), [0], d["x"]), obj, d, v,
                FitConfig(epochs=12, batch_size=16, epochs_per_call=k, progress=False)) for k in (12, 4, 5)]
    for r in runs[1:]:
        chex.assert_trees_all_equal(r.state.params, runs[0].state.params)


def test_keeps_last_n_and_the_best(tmp_path):
    model, d, v = _setup()
    ck = Checkpointer(tmp_path, keep=2)
    fit(create_states(model, make_optimizer("adam", 1e-2), [0], d["x"]), Classification(2), d, v,
        FitConfig(epochs=10, batch_size=16, checkpoint_every=2, progress=False), checkpointer=ck)
    assert sorted(int(p.name) for p in (tmp_path / "last").iterdir() if p.name.isdigit()) == [8, 10]
    assert ck.best_epoch() is not None and len([p for p in (tmp_path / "best").iterdir() if p.name.isdigit()]) == 1


def test_divergence_keeps_the_last_good_checkpoint(tmp_path):
    model, d, _ = _setup()
    ck = Checkpointer(tmp_path)
    st = create_states(model, make_optimizer("sgd", 1e30), [0], d["x"])
    with pytest.raises(TrainingDiverged, match="checkpoint at"):
        fit(st, Classification(2), d, None, FitConfig(epochs=20, batch_size=16, checkpoint_every=2,
                                                              progress=False), checkpointer=ck)
    carry, _, _ = ck.restore(init_carry(st))
    chex.assert_tree_all_finite(carry.state.params)
    assert bool(carry.diverged[0])


def test_restore_from_empty_dir_is_a_clear_error(tmp_path):
    model, d, _ = _setup()
    with pytest.raises(FileNotFoundError, match="no complete checkpoint"):
        Checkpointer(tmp_path).restore(init_carry(create_states(model, make_optimizer("sgd", 1e-2), [0], d["x"])))
    with pytest.raises(ValueError, match="keep must be >= 1"):
        Checkpointer(tmp_path, keep=0)


def test_resume_with_reduce_on_plateau_and_diagnostics_is_bit_identical(tmp_path):
    """The plateau state (best loss, counters, scale) is part of the checkpointed loop state, and the
    diagnostics' logs (keys such as "grad_norm/hidden_0/kernel") come back from disk."""
    from jaxnets.train import Plateau

    model, d, v = _setup()
    obj = Classification(2)
    kw = dict(batch_size=16, checkpoint_every=3, progress=False, reduce_on_plateau=Plateau(patience=1),
              diagnostics=True)
    fresh = lambda: create_states(model, make_optimizer("adam", 5e-2), [0, 1], d["x"])
    full = fit(fresh(), obj, d, v, FitConfig(epochs=9, **kw))
    ck = Checkpointer(tmp_path)
    fit(fresh(), obj, d, v, FitConfig(epochs=6, **kw), checkpointer=ck)
    resumed = fit(fresh(), obj, d, v, FitConfig(epochs=9, **kw), checkpointer=ck, resume=True)
    chex.assert_trees_all_equal(resumed.state.params, full.state.params)
    assert "grad_norm/hidden_0/kernel" in full.history and set(resumed.history) == set(full.history)
    for k in full.history:
        np.testing.assert_array_equal(resumed.history[k], full.history[k])
