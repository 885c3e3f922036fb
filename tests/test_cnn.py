"""CNN models: shapes, parameter counts, jit vs no-jit, BatchNorm through the generic step,
overfit-a-batch, receptive fields of the real models, checkpoints with batch_stats, bad input."""
import functools

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnets.checkpoint import Checkpointer
from jaxnets.data import load_digit_images, random_shift, ring_shifts, shift_images
from jaxnets.models import VGG, LeNet5, ResNet, conv_kernels, count_params, feature_maps
from jaxnets.nn import empirical_receptive_field, receptive_field
from jaxnets.train import (
    Augmented,
    Classification,
    FitConfig,
    create_states,
    fit,
    make_optimizer,
    make_train_step,
    member,
    predict_classes,
)
from jaxnets.train.epoch import init_carry

SMALL = {
    "lenet": LeNet5(),
    "vgg": VGG(stages=((8,), (16,))),
    "resnet": ResNet(stage_features=(8, 16), blocks_per_stage=1),
}


def _init(model, x, seed=0):
    # One unoptimised compile (as jaxnets' own initialiser does) instead of eager op-by-op dispatch
    # or an optimised compile of the threefry draws: seconds per model on 2 cores otherwise.
    key = jax.random.PRNGKey(seed)
    return jax.jit(model.init).lower(key, x).compile({"xla_backend_optimization_level": 0})(key, x)


@pytest.fixture(scope="module")
def digits64():
    ds = load_digit_images()
    return {"x": ds.x[:64], "y": ds.y[:64]}


def test_lenet_parameter_count_closed_form():
    v = jax.eval_shape(LeNet5().init, jax.random.PRNGKey(0), jnp.zeros((1, 8, 8, 1)))  # shapes only: no compile
    convs = (5 * 5 * 1 * 6 + 6) + (5 * 5 * 6 * 16 + 16)
    dense = (2 * 2 * 16 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10)
    assert count_params(v["params"]) == convs + dense


def test_resnet_uses_projection_only_where_shape_changes():
    model = ResNet(stage_features=(8, 16), blocks_per_stage=2)
    v = jax.eval_shape(model.init, jax.random.PRNGKey(0), jnp.zeros((1, 8, 8, 1)))
    p = v["params"]
    assert "projection" not in p["stage_0_block_0"] and "projection" not in p["stage_0_block_1"]  # 8 -> 8
    assert "projection" in p["stage_1_block_0"] and "projection" not in p["stage_1_block_1"]  # 8 -> 16, /2
    assert "batch_stats" in v
    names = [k for k, _ in conv_kernels(p)]
    assert names[0].startswith("['stem']") and "stage_1_block_1" in names[-1]  # input side first


class TestModels(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_shapes_finite_and_jit_agree(self):
        for model in SMALL.values():
            x = jax.random.uniform(jax.random.PRNGKey(1), (3, 8, 8, 1))
            v = _init(model, x)
            out = self.variant(lambda v, x, m=model: m.apply(v, x))(v, x)
            chex.assert_shape(out, (3, 10))
            chex.assert_tree_all_finite(out)
            np.testing.assert_allclose(out, model.apply(v, x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["lenet", "vgg"])
def test_receptive_field_of_real_model_matches_closed_form(name):
    model = SMALL[name]
    v = _init(model, jnp.zeros((1, 8, 8, 1)))
    measured = empirical_receptive_field(lambda x: feature_maps(model, v, x), (40, 40, 1), jax.random.PRNGKey(1))
    size = receptive_field(model.layers())[-1].size
    assert measured == (size, size)


def test_resnet_receptive_field_closed_form_bounds_measurement():
    model = ResNet(stage_features=(4, 8), blocks_per_stage=1, batch_norm=False)
    v = _init(model, jnp.zeros((1, 8, 8, 1)))
    measured = empirical_receptive_field(lambda x: feature_maps(model, v, x), (40, 40, 1), jax.random.PRNGKey(1))
    size = receptive_field(model.layers())[-1].size
    assert measured in {(size, size), (size - 1, size - 1)}  # stride 2 on an even map: off-centre by one


def test_batchnorm_stats_flow_through_the_generic_step(digits64):
    model = SMALL["resnet"]
    obj = Classification(10)
    st = create_states(model, make_optimizer("adam", 1e-3), [0], digits64["x"])
    step = jax.jit(jax.vmap(make_train_step(obj), in_axes=(0, None)))
    batch = {**{k: jnp.asarray(a[:32]) for k, a in digits64.items()}, "mask": jnp.ones(32)}
    new, _ = step(st, batch)
    before, after = st.variables["batch_stats"], new.variables["batch_stats"]
    assert not np.allclose(before["stem"]["bn"]["mean"], after["stem"]["bn"]["mean"])  # updated by training
    # Eval mode reads the running statistics and does not change them.
    logits = model.apply({"params": member(new, 0).params, **member(new, 0).variables}, batch["x"], train=False)
    chex.assert_shape(logits, (32, 10))


@pytest.mark.parametrize("name", sorted(SMALL))
def test_overfits_a_small_batch(name, digits64):
    model = SMALL[name]
    st = create_states(model, make_optimizer("adam", 1e-2), [0], digits64["x"])
    fr = fit(st, Classification(10), digits64, None, FitConfig(epochs=60, batch_size=16, progress=False))
    assert fr.history["train_loss"][0, -1] < 0.05
    assert (predict_classes(fr.state, digits64["x"])[0] == digits64["y"]).mean() == 1.0


def test_resnet_checkpoint_with_batch_stats_restores_to_identical_accuracy(tmp_path, digits64):
    model = SMALL["resnet"]
    obj = Classification(10)
    cfg = FitConfig(epochs=4, batch_size=16, checkpoint_every=2, progress=False)
    st = create_states(model, make_optimizer("adam", 1e-3), [0, 1], digits64["x"])
    ck = Checkpointer(tmp_path / "ck")
    fr = fit(st, obj, digits64, None, cfg, checkpointer=ck)
    ck.close()
    template = init_carry(create_states(model, make_optimizer("adam", 1e-3), [7, 8], digits64["x"]))
    ck = Checkpointer(tmp_path / "ck")
    carry, _, epoch = ck.restore(template)
    ck.close()
    assert epoch == 4
    chex.assert_trees_all_equal(carry.state.variables, fr.state.variables)  # batch_stats, bit for bit
    chex.assert_trees_all_equal(carry.state.params, fr.state.params)
    np.testing.assert_array_equal(predict_classes(carry.state, digits64["x"]), predict_classes(fr.state, digits64["x"]))


def test_shifts():
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    s = shift_images(x, 1, -1)
    np.testing.assert_array_equal(s[0, 1:, :3, 0], x[0, :3, 1:, 0])
    assert s[0, 0].sum() == 0 and s[0, :, 3].sum() == 0  # uncovered border = background
    assert [len(ring_shifts(d)) for d in (0, 1, 2)] == [1, 8, 16]
    big = jnp.asarray(np.random.default_rng(0).uniform(size=(64, 8, 8, 1)), jnp.float32)
    out = random_shift(jax.random.PRNGKey(0), big, 2)
    chex.assert_shape(out, big.shape)
    # Every augmented image is one of the 25 integer shifts of its original.
    for i in range(4):
        assert any(np.allclose(out[i], shift_images(big[i:i + 1], dy, dx)[0])
                   for dy in range(-2, 3) for dx in range(-2, 3))
    with pytest.raises(ValueError, match="out of frame"):
        shift_images(x, 4, 0)


def test_augmented_objective_changes_training_only(digits64):
    model = SMALL["lenet"]
    obj = Classification(10)
    aug = Augmented(obj, functools.partial(random_shift, max_shift=1))
    v = _init(model, digits64["x"][:1])
    batch = {**{k: jnp.asarray(a) for k, a in digits64.items()}, "mask": jnp.ones(64)}
    key = jax.random.PRNGKey(3)
    loss = lambda o, train: float(o(model.apply, v["params"], {}, batch, key, train)[0])
    assert loss(aug, False) == loss(obj, False)
    assert loss(aug, True) != loss(obj, True)


@pytest.mark.parametrize("make, match", [
    (lambda: LeNet5(channels=(6, 0)), r"LeNet5.channels\[1\]"),
    (lambda: VGG(stages=()), "at least one stage"),
    (lambda: VGG(stages=((8, -1),)), r"stages\[0\]"),
    (lambda: ResNet(stage_features=(8,), blocks_per_stage=0), "blocks_per_stage"),
    (lambda: ResNet(activation="swishy"), "unknown activation"),
    (lambda: LeNet5(pool="median"), "pool"),
])
def test_bad_configs(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("name", sorted(SMALL))
def test_flat_input_to_a_cnn_is_a_clear_error(name):
    model = SMALL[name]
    with pytest.raises(ValueError, match=r"input must be an image batch \[batch, height, width, channels\]"):
        model.init(jax.random.PRNGKey(0), jnp.zeros((4, 64)))


def test_fit_rejects_flat_data_for_an_image_model(digits64):
    model = SMALL["lenet"]
    st = create_states(model, make_optimizer("adam", 1e-3), [0], digits64["x"])
    flat = {"x": digits64["x"].reshape(64, -1), "y": digits64["y"]}
    with pytest.raises(ValueError, match="per-example shape"):
        fit(st, Classification(10), flat, None, FitConfig(epochs=1, progress=False))
