"""Mixed precision: bfloat16 compute from float32 master parameters, the loss in float32."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnets.data import load_digit_images, load_embedded, prepare
from jaxnets.models import MLP
from jaxnets.models.cnn import VGG, LeNet5, ResNet
from jaxnets.train import Classification, FitConfig, create_states, fit, make_optimizer, predict_logits


def _dot_dtypes(model, variables, x) -> set[str]:
    jaxpr = jax.make_jaxpr(lambda v, x: model.apply(v, x))(variables, x)
    products = ("dot_general", "conv_general_dilated")
    return {str(e.invars[0].aval.dtype) for e in jaxpr.eqns if e.primitive.name in products}


@pytest.mark.parametrize("kind", ["mlp", "lenet"])
def test_bfloat16_trains_to_the_float32_band(kind):
    """Same seeds, same data: bfloat16 compute ends within 3 accuracy points of float32, with float32
    parameters, optimizer state and logits, and its products really run in bfloat16."""
    if kind == "mlp":
        s = prepare(load_embedded("digits"), test_size=0.25, seed=0)
        build = lambda p: MLP((64, 10), precision=p)
    else:
        s = prepare(load_digit_images(), test_size=0.25, seed=0, standardize=False)
        build = lambda p: LeNet5(num_classes=10, channels=(6, 12), hidden=(32,), precision=p)
    acc = {}
    for p in ("float32", "bfloat16"):
        model = build(p)
        st = create_states(model, make_optimizer("adam", 3e-3), [0, 1], s.train["x"])
        r = fit(st, Classification(10), s.train, None, FitConfig(epochs=8, batch_size=64, progress=False))
        assert all(a.dtype == jnp.float32 for a in jax.tree_util.tree_leaves(r.state.params))
        assert all(a.dtype in (jnp.float32, jnp.int32) for a in jax.tree_util.tree_leaves(r.state.opt_state))
        logits = predict_logits(r.state, s.test["x"])
        assert logits.dtype == np.float32
        acc[p] = float((np.asarray(logits).argmax(-1) == s.test["y"][None]).mean())
        one = jax.tree_util.tree_map(lambda a: a[0], {"params": r.state.params, **r.state.variables})
        assert _dot_dtypes(model, one, jnp.asarray(s.test["x"][:4])) == {p}
    assert acc["float32"] > 0.9 and abs(acc["bfloat16"] - acc["float32"]) <= 0.03, acc


def test_unknown_precision_names_raise():
    for build in (lambda: MLP((4, 1), precision="fp16"), lambda: LeNet5(precision="fp16"),
                  lambda: VGG(precision="fp16"), lambda: ResNet(precision="fp16")):
        with pytest.raises(ValueError, match=r"\.precision must be one of \['bfloat16', 'float32'\], got 'fp16'"):
            build()


def test_bfloat16_resnet_keeps_float32_statistics():
    x = jnp.asarray(np.random.default_rng(0).normal(size=(4, 8, 8, 1)), jnp.float32)
    model = ResNet(stage_features=(4,), blocks_per_stage=1, num_classes=3, precision="bfloat16")
    v = model.init(jax.random.PRNGKey(0), x)
    y, new = model.apply(v, x, train=True, mutable=["batch_stats"])
    assert y.dtype == jnp.float32 and y.shape == (4, 3) and bool(jnp.all(jnp.isfinite(y)))
    assert all(a.dtype == jnp.float32 for a in jax.tree_util.tree_leaves((v["params"], new["batch_stats"])))
    assert _dot_dtypes(model, v, x) == {"bfloat16"}
    ref = ResNet(stage_features=(4,), blocks_per_stage=1, num_classes=3).apply(v, x)  # same weights, float32
    np.testing.assert_allclose(model.apply(v, x), ref, atol=0.05, rtol=0.05)
