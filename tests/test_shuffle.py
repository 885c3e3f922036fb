"""Epoch shuffling on the host must be bit-identical to drawing it with jax.random inside the program."""
import gc

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from experiments.baselines.numpy_seed import SeedMLP
from jaxnets.models import MLP
from jaxnets.runtime import paused_gc
from jaxnets.train import (
    Classification,
    FitConfig,
    batch_indices,
    chunk_orders,
    compile_fit,
    create_states,
    epoch_key,
    fit,
)
from jaxnets.train import shuffle as shuffle_mod
from jaxnets.train.shuffle import permutations, threefry2x32
from jaxnets.train.state import prng_keys


def _reference_orders(rngs, epochs, n, batch_size):
    return np.stack([np.stack([np.asarray(batch_indices(epoch_key(jnp.asarray(r), e), n, batch_size, True)[0])
                               for e in epochs]) for r in rngs])


# n = 2000 needs two sorting rounds in jax.random.permutation; 1 and 7 are smaller than a batch.
@pytest.mark.parametrize("n", [1, 7, 455, 2000])
@pytest.mark.parametrize("block", [None, 1000])  # 1000: several blocks, computed on two threads
def test_chunk_orders_equal_jax_random_permutation(n, block, monkeypatch):
    if block is not None:
        monkeypatch.setattr(shuffle_mod, "BLOCK_INDICES", block)
    rngs = np.stack([np.asarray(jax.random.PRNGKey(s)) for s in (0, 5, 2**31 + 7)])
    epochs = np.array([0, 1, 2, 499, 123456])
    got = chunk_orders(rngs, epochs, n, 32)
    chex.assert_shape(got, (3, 5, -(-n // 32), 32))
    np.testing.assert_array_equal(got, _reference_orders(rngs, epochs, n, 32))


@settings(max_examples=20, deadline=None)
@given(k1=st.integers(0, 2**32 - 1), k2=st.integers(0, 2**32 - 1), n=st.integers(2, 300))
def test_permutations_equal_jax_for_any_key(k1, k2, n):
    key = np.array([k1, k2], np.uint32)
    np.testing.assert_array_equal(permutations(key, n), np.asarray(jax.random.permutation(jnp.asarray(key), n)))


def test_threefry_known_answer():
    # The Threefry-2x32 (20 rounds) test vector of Salmon et al. (Random123), also used by jax's tests.
    y = threefry2x32(np.uint32(0x13198A2E), np.uint32(0x03707344), np.uint32(0x243F6A88), np.uint32(0x85A308D3))
    assert (int(y[0]), int(y[1])) == (0xC4923A9C, 0x483DF7A0)


def test_fit_with_host_orders_equals_in_program_shuffling(monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(70, 4)).astype(np.float32)
    data = {"x": x, "y": (x[:, 0] > 0).astype(np.int32)}
    model = MLP((8, 1))
    obj = Classification(model, 2)
    cfg = FitConfig(epochs=6, batch_size=16, epochs_per_call=4, progress=False)  # 6 % 4: the skip branch too

    def run():
        return fit(create_states(model, optax.sgd(0.1), [0, 1], x), obj, data, None, cfg)

    state = create_states(model, optax.sgd(0.1), [0], x)
    assert compile_fit(state, obj, data, None, cfg).shuffled_examples == 70  # orders from the host
    host = run()
    monkeypatch.setattr(shuffle_mod, "MAX_PRECOMPUTED_INDICES", 0)  # forces drawing inside the program
    assert compile_fit(state, obj, data, None, cfg).shuffled_examples is None
    inside = run()
    chex.assert_trees_all_equal(host.state.params, inside.state.params)
    np.testing.assert_array_equal(host.history["train_loss"], inside.history["train_loss"])


def test_prng_keys_equal_jax_and_bad_seeds_raise():
    seeds = np.array([0, 1, 42, 2**32 - 1])
    np.testing.assert_array_equal(np.asarray(prng_keys(seeds)),
                                  np.asarray(jax.vmap(jax.random.PRNGKey)(jnp.asarray(seeds, jnp.uint32))))
    for bad in ([-1], [2**32], [0.5]):
        with pytest.raises(ValueError, match="seeds must be integers"):
            create_states(MLP((2,)), optax.sgd(0.1), bad, np.zeros((3, 2), np.float32))


@pytest.mark.parametrize("enabled", [True, False])
def test_paused_gc_restores_the_collector(enabled):
    (gc.enable if enabled else gc.disable)()
    try:
        with paused_gc():
            assert not gc.isenabled()
        assert gc.isenabled() == enabled
        with pytest.raises(RuntimeError), paused_gc():
            raise RuntimeError
        assert gc.isenabled() == enabled
    finally:
        gc.enable()


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
    from jaxnets.train.loop import _all_finite
    tree = {"a": np.ones((3, 2), np.float32), "b": [np.zeros(4, np.float32), np.full(2, 3e38, np.float32)]}
    if bad is not None:
        tree["b"][0][1] = bad
    assert bool(jax.jit(_all_finite)(tree)) is expected
    assert bool(_all_finite(tree)) is expected
