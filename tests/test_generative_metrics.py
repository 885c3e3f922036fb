"""PSNR and SSIM against closed forms and scikit-image (test-only dependency)."""
import jax.numpy as jnp
import numpy as np
import pytest

from jaxnets.generative_metrics import psnr, ssim

skimage_metrics = pytest.importorskip("skimage.metrics")


@pytest.mark.parametrize("shape,data_range", [((3, 8, 8), 1.0), ((2, 16, 12, 3), 255.0), ((2, 7, 9), 2.0)])
def test_ssim_equals_scikit_image(shape, data_range):
    rng = np.random.default_rng(0)
    a = rng.uniform(0, data_range, shape).astype(np.float32)
    b = np.clip(a + rng.normal(0, 0.2 * data_range, shape), 0, data_range).astype(np.float32)
    ours = np.asarray(ssim(a, b, data_range=data_range))
    channel_axis = -1 if len(shape) == 4 else None
    ref = [skimage_metrics.structural_similarity(a[i].astype(np.float64), b[i].astype(np.float64),
                                                 data_range=data_range, channel_axis=channel_axis)
           for i in range(shape[0])]
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-5)


def test_ssim_identity_and_errors():
    a = np.random.default_rng(1).uniform(size=(2, 8, 8, 1))
    np.testing.assert_allclose(ssim(a, a), 1.0, rtol=1e-6)
    assert float(ssim(a, 1 - a)[0]) < 0.5
    with pytest.raises(ValueError, match="equal shapes"):
        ssim(a, a[:, :7])
    with pytest.raises(ValueError, match="does not fit"):
        ssim(a[:, :5, :5], a[:, :5, :5])


def test_psnr_closed_form_and_scikit_image():
    a = np.zeros((1, 4, 4))
    b = np.full((1, 4, 4), 0.1)
    np.testing.assert_allclose(psnr(a, b), 20.0, rtol=1e-6)  # 10 log10(1 / 0.01)
    rng = np.random.default_rng(2)
    x, y = rng.uniform(size=(3, 8, 8)), rng.uniform(size=(3, 8, 8))
    ref = [skimage_metrics.peak_signal_noise_ratio(x[i], y[i], data_range=1.0) for i in range(3)]
    np.testing.assert_allclose(psnr(x, y), ref, rtol=1e-5)
    with pytest.raises(ValueError, match="equal shapes"):
        psnr(x, y[:2])
    assert jnp.isinf(psnr(x, x)).all()
