"""Depth and skip connections: a plain deep CNN vs the same depth with identity/projection shortcuts.

    python -m experiments.depth_and_skips [--seeds N] [--quick]

The seed: "ResNet uses shortcuts to avoid vanishing gradients". Four 20-layer networks of the same
shape (stem + 3 stages × 3 blocks × 2 convs + linear head, widths 8/16/32) on digits 8×8: plain or
residual, each with and without BatchNorm. Measured: the gradient norm of every conv layer at
initialisation (the "telephone game" through depth) and the training curves.
"""
from __future__ import annotations

import numpy as np

from experiments.common import ModelSpec, Preset, main
from jaxnets.models import ResNet, conv_kernels
from jaxnets.plots import line_plot
from jaxnets.report import markdown_table
from jaxnets.train import loss_gradients, summarize

WIDTHS, BLOCKS = (8, 16, 32), 3


def specs(blocks: int) -> list[ModelSpec]:
    return [ModelSpec(f"{'residual' if skip else 'plain'}{'_bn' if bn else ''}",
                      module=ResNet(stage_features=WIDTHS, blocks_per_stage=blocks, skip=skip, batch_norm=bn))
            for bn in (False, True) for skip in (False, True)]


SPECS = specs(BLOCKS)
# --quick is a smoke test: 8-layer nets (one block per stage), since compiling four 20-layer programs alone
# takes ~40 s on 2 cores.
QUICK_SPECS = specs(1)
GRAD_EXAMPLES = 256

PRESETS = {
    # No early stopping: the curves are the result. Adam, so that no network needs its own step size.
    "default": Preset(dataset="digits_images", optimizer="adam", learning_rate=1e-3, epochs=40, batch_size=32,
                      val_size=0.1, val_from="train"),
}


def init_gradient_norms(trained, splits) -> list[tuple[str, np.ndarray]]:
    """(layer, ‖∂loss/∂kernel‖ per seed) for the main-path convs, input side first, at initialisation."""
    data = {k: v[:GRAD_EXAMPLES] for k, v in splits.train.items()}
    grads = loss_gradients(trained.objective, trained.init_state, data)
    return [(path, np.sqrt((np.asarray(g) ** 2).reshape(g.shape[0], -1).sum(-1)))
            for path, g in conv_kernels(grads, stacked=True) if "projection" not in path]


def _extra(trained, splits) -> dict:
    norms = init_gradient_norms(trained, splits)
    first, last = norms[0][1], norms[-1][1]
    return {
        "depth": trained.model.depth,
        "init_gradient_norms": {p: summarize(v) for p, v in norms},
        "init_gradient_ratio_first_to_last": summarize(first / last),
    }


def _after(results, trained, splits, out):
    models = results["models"]
    series = {n: np.array([v["per_seed"] for v in m["init_gradient_norms"].values()]).T for n, m in models.items()}
    n_layers = len(next(iter(series.values()))[0])
    line_plot(list(range(1, n_layers + 1)), series, out / "init_gradient_norms.png",
              xlabel="conv layer (input side = 1)", ylabel="‖∂loss/∂W‖ at init",
              title="gradient norm per layer at initialisation", logy=True)
    rows = []
    for n, m in models.items():
        norms = [v["mean"] for v in m["init_gradient_norms"].values()]
        loss = m.get("final_train_loss", {}).get("mean")
        rows.append([n, m["depth"], f"{norms[0]:.3g}", f"{norms[-1]:.3g}", f"{norms[0] / norms[-1]:.3g}",
                     "–" if loss is None else f"{loss:.4f}", f"{m['test_accuracy']['mean']:.4f}"])
    (out / "gradients.md").write_text(markdown_table(
        ["model", "depth", "‖g‖ layer 1", "‖g‖ last conv", "first/last", "final train loss", "test accuracy"], rows))


def run(argv=None) -> dict:
    return main("depth_and_skips", PRESETS, SPECS, argv, quick_specs=QUICK_SPECS, extra=_extra, after=_after)


if __name__ == "__main__":
    run()
