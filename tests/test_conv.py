"""Convolution, pooling, classic filters and receptive fields: the seed's worked examples exactly,
an independent direct-loop reference, and bad input."""
import chex
import flax.linen as nn
import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given

from jaxnets.nn import (
    FILTERS,
    apply_filter,
    avg_pool,
    conv2d,
    empirical_receptive_field,
    get_filter,
    max_pool,
    output_size,
    receptive_field,
)

SEED_POOL_INPUT = np.array([[1, 3, 2, 4], [2, 1, 1, 3], [5, 8, 7, 9], [6, 2, 3, 1]], np.float32)[None, :, :, None]
IMPLS = ["xla", "im2col"]


def direct_conv(x, k, stride, padding):
    """The definition, as loops: out[b,i,j,o] = Σ x[b, i·s+u, j·s+v, c] · k[u,v,c,o]."""
    kh, kw = k.shape[:2]
    if padding == "same":
        def pads(n, kk, s):
            total = max((-(-n // s) - 1) * s + kk - n, 0)
            return total // 2, total - total // 2
        x = np.pad(x, ((0, 0), pads(x.shape[1], kh, stride), pads(x.shape[2], kw, stride), (0, 0)))
    oh, ow = (x.shape[1] - kh) // stride + 1, (x.shape[2] - kw) // stride + 1
    out = np.zeros((x.shape[0], oh, ow, k.shape[3]))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :]
            out[:, i, j, :] = np.einsum("buvc,uvco->bo", patch, k)
    return out


@pytest.mark.parametrize("impl", IMPLS)
def test_seed_vertical_edge_example_gives_300(impl):
    patch = np.array([[100, 100, 200]] * 3, np.float32)[None, :, :, None]
    k = get_filter("vertical_edge")[:, :, None, None]
    assert float(conv2d(patch, k, impl=impl)[0, 0, 0, 0]) == 300.0
    # The seed's formula (f * g)(t) = Σ f(m) g(t − m) flips the kernel: the sign turns.
    assert float(conv2d(patch, k, flip=True, impl=impl)[0, 0, 0, 0]) == -300.0
    assert float(apply_filter(patch[..., 0], "vertical_edge", padding="valid")[0, 0, 0]) == 300.0


def test_seed_pooling_examples():
    np.testing.assert_array_equal(max_pool(SEED_POOL_INPUT, 2)[0, :, :, 0], [[3, 4], [8, 9]])
    np.testing.assert_allclose(avg_pool(SEED_POOL_INPUT, 2)[0, :, :, 0], [[1.75, 2.5], [5.25, 5.0]])


def test_same_padding_average_pool_counts_real_pixels_only():
    x = jnp.ones((1, 3, 3, 1))
    np.testing.assert_allclose(avg_pool(x, 2, padding="same"), 1.0)  # no zeros averaged in
    chex.assert_shape(max_pool(x, 2, padding="same"), (1, 2, 2, 1))


@pytest.mark.parametrize("impl", IMPLS)
def test_seed_cat_photo_walk_through_shapes(impl):
    """224×224×3 → conv32 → 222×222×32 → pool → 111×111×32 → conv64 → 109×109×64 → pool → 54×54×64 → conv128."""
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    x = jnp.zeros((1, 224, 224, 3))
    shapes = []
    for key, (c_in, c_out) in zip(keys, [(3, 32), (32, 64), (64, 128)]):
        x = jax.nn.relu(conv2d(x, jax.random.normal(key, (3, 3, c_in, c_out)), impl=impl))
        shapes.append(x.shape[1:])
        if c_out < 128:
            x = max_pool(x, 2)
            shapes.append(x.shape[1:])
    assert shapes == [(222, 222, 32), (111, 111, 32), (109, 109, 64), (54, 54, 64), (52, 52, 128)]
    assert [output_size(224, 3), output_size(222, 2, 2), output_size(111, 3)] == [222, 111, 109]


@given(
    h=st.integers(3, 9), w=st.integers(3, 9), k=st.sampled_from([1, 2, 3]), c_in=st.integers(1, 3),
    c_out=st.integers(1, 3), stride=st.integers(1, 2), padding=st.sampled_from(["valid", "same"]),
    impl=st.sampled_from(IMPLS), seed=st.integers(0, 2**16),
)
def test_conv_equals_direct_loop_reference(h, w, k, c_in, c_out, stride, padding, impl, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(2, h, w, c_in)).astype(np.float32)
    kern = rng.normal(size=(k, k, c_in, c_out)).astype(np.float32)
    got = conv2d(x, kern, stride=stride, padding=padding, impl=impl)
    np.testing.assert_allclose(got, direct_conv(x, kern, stride, padding), rtol=1e-4, atol=1e-4)


class TestJitAgrees(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_conv_and_pools(self):
        x = jax.random.normal(jax.random.PRNGKey(0), (2, 7, 7, 2))
        k = jax.random.normal(jax.random.PRNGKey(1), (3, 3, 2, 4))
        f = self.variant(lambda x, k: (conv2d(x, k, stride=2, padding="same"), max_pool(x, 3, 2), avg_pool(x, 2)))
        for got, want in zip(f(x, k), (direct_conv(np.asarray(x), np.asarray(k), 2, "same"),
                                        max_pool(x, 3, 2), avg_pool(x, 2))):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_filters_on_a_batch():
    imgs = np.random.default_rng(0).uniform(size=(4, 10, 12, 3)).astype(np.float32)
    out = apply_filter(imgs, "gaussian_blur")
    chex.assert_shape(out, (4, 10, 12, 3))  # 'same' by default; each channel filtered on its own
    np.testing.assert_allclose(out[1, 3:7, 3:7, 2], direct_conv(
        imgs[1:2, :, :, 2:3], get_filter("gaussian_blur")[:, :, None, None], 1, "same")[0, 3:7, 3:7, 0], rtol=1e-5)
    flat = np.full((1, 6, 6), 0.7, np.float32)
    np.testing.assert_allclose(apply_filter(flat, "gaussian_blur", padding="valid"), 0.7, rtol=1e-6)  # sums to 1
    np.testing.assert_allclose(apply_filter(flat, "sharpen", padding="valid"), 0.7, rtol=1e-6)
    for edge in ("vertical_edge", "horizontal_edge", "diagonal_edge"):
        np.testing.assert_allclose(apply_filter(flat, edge, padding="valid"), 0.0, atol=1e-6)  # flat: no edge
    assert set(FILTERS) == {"vertical_edge", "horizontal_edge", "diagonal_edge", "gaussian_blur", "sharpen"}


def test_horizontal_edge_responds_to_horizontal_edges_only():
    img = np.zeros((1, 6, 6), np.float32)
    img[0, 3:] = 1.0  # dark top, bright bottom
    assert float(jnp.abs(apply_filter(img, "horizontal_edge", padding="valid")).max()) == 3.0
    assert float(jnp.abs(apply_filter(img, "vertical_edge", padding="valid")).max()) == 0.0


def test_flax_conv_agrees_with_ours():
    """An independent implementation: flax.linen.Conv with the same kernel and bias."""
    from jaxnets.models.cnn import Conv2D

    x = jax.random.normal(jax.random.PRNGKey(2), (3, 8, 8, 2))
    for stride, padding in [(1, "same"), (2, "same"), (1, "valid"), (2, "valid")]:
        ours = Conv2D(5, 3, stride, padding)
        v = ours.init(jax.random.PRNGKey(0), x)
        ref = nn.Conv(5, (3, 3), strides=stride, padding=padding.upper())
        np.testing.assert_allclose(ours.apply(v, x), ref.apply(v, x), rtol=1e-5, atol=1e-5)


def test_receptive_field_matches_seed_table():
    assert [f.size for f in receptive_field([(3, 1)] * 3)] == [3, 5, 7]
    fields = receptive_field([(3, 1), (2, 2), (3, 1), (2, 2)])
    assert [(f.size, f.jump) for f in fields] == [(3, 1), (4, 2), (8, 2), (10, 4)]


def test_empirical_receptive_field_of_three_convs():
    k = jnp.ones((3, 3, 1, 1))
    stack3 = lambda x: conv2d(conv2d(conv2d(x, k), k), k)
    assert empirical_receptive_field(stack3, (15, 15, 1), jax.random.PRNGKey(0)) == (7, 7)


@pytest.mark.parametrize("bad, match", [
    (lambda: conv2d(np.zeros((1, 3, 3, 1)), np.zeros((5, 5, 1, 1))), "larger than the input"),
    (lambda: max_pool(np.zeros((1, 2, 2, 1)), 3), "larger than the input"),
    (lambda: apply_filter(np.zeros((1, 2, 2)), "sharpen", padding="valid"), "larger than the input"),
    (lambda: conv2d(np.zeros((3, 3)), np.zeros((3, 3, 1, 1))), r"\[batch, height, width, channels\]"),
    (lambda: conv2d(np.zeros((1, 4, 4, 2)), np.zeros((3, 3, 1, 1))), "input channels"),
    (lambda: conv2d(np.zeros((1, 4, 4, 1)), np.zeros((3, 3, 1, 1)), padding="full"), "padding"),
    (lambda: conv2d(np.zeros((1, 4, 4, 1)), np.zeros((3, 3, 1, 1)), stride=0), "stride"),
    (lambda: conv2d(np.zeros((1, 4, 4, 1)), np.zeros((3, 3, 1, 1)), impl="fft"), "impl"),
    (lambda: apply_filter(np.zeros((1, 4, 4)), "emboss"), "unknown filter"),
    (lambda: output_size(2, 3), "larger than the input"),
])
def test_bad_input_raises_clear_errors(bad, match):
    with pytest.raises(ValueError, match=match):
        bad()
