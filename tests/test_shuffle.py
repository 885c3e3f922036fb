"""Epoch shuffling and batching: every example once per epoch, padding masked, orders reproducible."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from experiments.baselines.numpy_seed import SeedMLP
from jaxnets.models import MLP
from jaxnets.train import batch_indices, create_states, epoch_key
from jaxnets.train.epoch import _all_finite
from jaxnets.train.state import prng_keys


@settings(max_examples=12, deadline=None)  # each example compiles its own shapes
@given(n=st.integers(1, 300), batch=st.integers(1, 64), multiple=st.integers(1, 8), shuffle=st.booleans())
def test_batches_cover_every_example_once_and_pad_with_zero_weight(n, batch, multiple, shuffle):
    idx, mask = batch_indices(jax.random.PRNGKey(n), n, batch, shuffle, multiple)
    idx, mask = np.asarray(idx), np.asarray(mask)
    rows = -(-batch // multiple) * multiple
    assert idx.shape == mask.shape == (-(-n // batch), rows) and rows % multiple == 0
    assert sorted(idx[mask == 1].tolist()) == list(range(n))  # each example exactly once
    assert ((idx >= 0) & (idx < n)).all()
    if n >= batch:  # padding rows repeat distinct real examples (batch statistics stay a real batch's)
        assert all(len(set(row)) == min(len(row), n) for row in idx[:, :batch].tolist())


def test_epoch_orders_are_a_pure_function_of_key_and_epoch():
    key = jax.random.PRNGKey(3)
    a = batch_indices(epoch_key(key, 5), 50, 16, True)[0]
    b = batch_indices(epoch_key(key, 5), 50, 16, True)[0]
    c = batch_indices(epoch_key(key, 6), 50, 16, True)[0]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_prng_keys_equal_jax_and_bad_seeds_raise():
    seeds = np.array([0, 1, 42, 2**32 - 1])
    np.testing.assert_array_equal(prng_keys(seeds), np.asarray(jax.vmap(jax.random.PRNGKey)(jnp.asarray(seeds,
                                                                                                       jnp.uint32))))
    for bad in ([-1], [2**32], [0.5]):
        with pytest.raises(ValueError, match="seeds must be integers"):
            create_states(MLP((2,)), optax.sgd(0.1), bad, np.zeros((3, 2), np.float32))


def test_lean_numpy_baseline_does_the_same_math(breast_cancer_splits):
    """The benchmark's lean NumPy loop only drops per-epoch work beyond the math: same weights."""
    s = breast_cancer_splits
    nets = [SeedMLP([30, 8, 1], seed=3) for _ in range(2)]
    hists = [net.fit(s.train["x"], s.train["y"], s.val["x"], s.val["y"], epochs=3, lean=lean)
             for net, lean in zip(nets, (False, True))]
    np.testing.assert_allclose(hists[0], hists[1], rtol=0, atol=1e-12)
    for a, b in zip(nets[0].w, nets[1].w):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("bad, expected", [(None, True), (np.inf, False), (-np.inf, False), (np.nan, False),
                                           (3e38, True)])
def test_all_finite_sees_any_nan_or_inf(bad, expected):
    tree = {"a": np.ones((3, 2), np.float32), "b": [np.zeros(4, np.float32), np.full(2, 3e38, np.float32)]}
    if bad is not None:
        tree["b"][0][1] = bad
    assert bool(jax.jit(_all_finite)(tree)) is expected
    assert bool(_all_finite(tree)) is expected


def test_orders_look_uniformly_random():
    """Over 3000 epoch keys, every example lands in every position about equally often (chi-square),
    and consecutive examples are not kept together (a weak, structured permutation would)."""
    from scipy.stats import chisquare

    n, epochs = 10, 3000
    orders = np.asarray(jax.vmap(lambda e: batch_indices(epoch_key(jax.random.PRNGKey(0), e), n, n, True)[0][0])(
        jnp.arange(epochs)))
    counts = np.stack([(orders == i).sum(0) for i in range(n)])  # [example, position]
    assert chisquare(counts.ravel()).pvalue > 1e-3
    adjacent = np.mean(np.abs(np.argmax(orders == 0, 1) - np.argmax(orders == 1, 1)) == 1)
    assert abs(adjacent - 2 * (n - 1) / (n * (n - 1))) < 0.03  # 0.2 for a uniform permutation


def test_orders_drawn_per_chunk_equal_orders_drawn_per_epoch(monkeypatch):
    """Small datasets draw a chunk's orders at once, larger ones per epoch: the same numbers."""
    from jaxnets.models import MLP as Net
    from jaxnets.train import Classification, FitConfig, fit, make_optimizer
    from jaxnets.train import compile as compile_module
    from jaxnets.train import epoch as epoch_module

    rng = np.random.default_rng(0)
    x = rng.normal(size=(70, 4)).astype(np.float32)
    data = {"x": x, "y": (x[:, 0] > 0).astype(np.int32)}
    cfg = FitConfig(epochs=6, batch_size=16, epochs_per_call=4, progress=False)  # 6 % 4: the skip branch too
    tx = make_optimizer("sgd", 0.1)
    run = lambda: fit(create_states(Net((8, 1)), tx, [0, 1], x), Classification(2), data, None, cfg)
    chunked = run()
    monkeypatch.setattr(epoch_module, "CHUNK_ORDERS_MAX_EXAMPLES", 0)
    monkeypatch.setattr(compile_module, "_CACHE", type(compile_module._CACHE)())  # compile anew
    per_epoch = run()
    np.testing.assert_array_equal(jax.device_get(chunked.state.params["output"]["kernel"]),
                                  jax.device_get(per_epoch.state.params["output"]["kernel"]))
    np.testing.assert_array_equal(chunked.history["train_loss"], per_epoch.history["train_loss"])
