"""Classic filters and learned ones: the seed's fixed 3×3 kernels on a real photograph, and the
first-layer kernels and feature maps of a LeNet trained on digits.

    python -m experiments.filters_and_feature_maps [--seeds N] [--quick]

The photograph is scikit-learn's `china.jpg` (ships with the package). Also reported: the
receptive field of the LeNet from the closed-form recurrence and measured from gradients.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from experiments.common import ModelSpec, Preset, main
from jaxnets.data import load_sample_photo
from jaxnets.models import LeNet5, feature_maps
from jaxnets.nn import FILTERS, apply_filter, conv2d, empirical_receptive_field, receptive_field, relu
from jaxnets.plots import image_grid
from jaxnets.report import markdown_table
from jaxnets.train import member

MODEL = LeNet5()
SPECS = [ModelSpec("lenet", module=MODEL)]
PHOTO = "china.jpg"
EXAMPLES = 4  # test digits whose feature maps are drawn

PRESETS = {
    "default": Preset(dataset="digits_images", optimizer="adam", learning_rate=1e-3, epochs=100, batch_size=32,
                      val_size=0.1, val_from="train", patience=20),
}


def filter_photo(out) -> dict:
    """Apply every classic filter to the greyscale photo; save a grid; return summary numbers."""
    rgb = load_sample_photo(PHOTO)
    grey = rgb @ np.array([0.299, 0.587, 0.114], np.float32)  # ITU-R 601 luma
    responses = {name: np.asarray(apply_filter(grey[None], name, padding="valid")[0]) for name in FILTERS}
    image_grid([grey, *responses.values()], out / "filters_on_photo.png", titles=["original", *responses], ncols=3,
               title=f"classic filters on {PHOTO} (greyscale, valid padding)")
    crop = grey[1:-1, 1:-1]  # the pixels a valid 3x3 filter is centred on
    return {
        "photo": PHOTO, "shape": list(grey.shape),
        "mean_abs_response": {n: float(np.abs(r).mean()) for n, r in responses.items()},
        # Blur weights sum to 1 (÷16): the brightness is kept; sharpen's sum to 1 as well.
        "mean_brightness": {"original": float(crop.mean()), **{n: float(responses[n].mean())
                                                               for n in ("gaussian_blur", "sharpen")}},
        # Blurring removes high frequencies: the mean |vertical gradient| drops.
        "vertical_edge_energy_after_blur": float(np.abs(np.asarray(apply_filter(
            responses["gaussian_blur"][None], "vertical_edge", padding="valid"))).mean()),
    }


def _after(results, trained, splits, out):
    t = trained["lenet"]
    state = member(t.fit.state, 0)
    variables = {"params": state.params, **state.variables}
    conv0 = state.params["conv_0"]["conv"]
    kernels = np.moveaxis(np.asarray(conv0["kernel"])[:, :, 0, :], -1, 0)  # [C_out, k, k]
    image_grid(kernels, out / "learned_kernels.png", titles=[f"filter {i}" for i in range(len(kernels))],
               ncols=len(kernels), symmetric=True, title="LeNet first-layer kernels after training (seed 0)")
    x = splits.test["x"][:EXAMPLES]
    maps = np.asarray(relu(conv2d(jnp.asarray(x), conv0["kernel"], padding=MODEL.padding)
                          + conv0["bias"].reshape(1, 1, 1, -1)))
    panels, titles = [], []
    for i in range(EXAMPLES):
        panels += [x[i, :, :, 0], *np.moveaxis(maps[i], -1, 0)]
        titles += [f"digit {splits.test['y'][i]}", *(f"map {c}" for c in range(maps.shape[-1]))]
    image_grid(panels, out / "feature_maps.png", titles=titles, ncols=1 + maps.shape[-1],
               title="input and first-layer feature maps (ReLU) of the trained LeNet")
    theory = receptive_field(MODEL.layers())
    # Measured on a 48x48 input: the convolutional part is size-agnostic, and a large input keeps
    # the field of the centre unit away from the border.
    measured = empirical_receptive_field(lambda z: feature_maps(MODEL, variables, z), (48, 48, 1),
                                         jax.random.PRNGKey(0))
    results["receptive_field"] = {"layers": [[f.name, f.size, f.jump] for f in theory],
                                  "closed_form": theory[-1].size, "measured_from_gradients": list(measured)}
    results["photo_filters"] = filter_photo(out)
    rows = [[f.name, f"{f.size}×{f.size}", f.jump] for f in theory]
    (out / "receptive_field.md").write_text(
        markdown_table(["layer", "receptive field", "jump"], rows)
        + f"\nmeasured from gradients on the trained model: {measured[0]}×{measured[1]}\n")


def run(argv=None) -> dict:
    return main("filters_and_feature_maps", PRESETS, SPECS, argv, after=_after)


if __name__ == "__main__":
    run()
