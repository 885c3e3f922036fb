"""Translation invariance, measured: accuracy of MLP vs CNNs on digits shifted by 0, 1, 2 pixels.

    python -m experiments.translation_invariance [--seeds N] [--quick]

The seed says a CNN "recognizes objects regardless of where they appear". Every model is trained
on centred digits, with and without random-shift augmentation (±2 px), then tested on the test
split moved by every (dy, dx) with max(|dy|, |dx|) = d (1, 8 and 16 shifts for d = 0, 1, 2), the
uncovered border filled with background (0).
"""
from __future__ import annotations

import numpy as np

from experiments.common import ModelSpec, Preset, main
from jaxnets.data import ring_shifts, shift_images
from jaxnets.models import VGG, LeNet5
from jaxnets.plots import line_plot
from jaxnets.report import fmt_stat, markdown_table
from jaxnets.train import predict_classes, summarize

SHIFTS = (0, 1, 2)
AUGMENT = 2
_BASE = [
    ("mlp", dict(features=(128, 64, 10))),
    ("lenet", dict(module=LeNet5())),
    ("vgg", dict(module=VGG(stages=((16, 16), (32, 32))))),
]
SPECS = [ModelSpec(n, **kw) for n, kw in _BASE]
SPECS += [ModelSpec(f"{n}+aug", augment_shift=AUGMENT, **kw) for n, kw in _BASE]

PRESETS = {
    "default": Preset(dataset="digits_images", optimizer="adam", learning_rate=1e-3, epochs=100, batch_size=32,
                      val_size=0.1, val_from="train", patience=20),
}


def shifted_accuracy(state, x, y, distance: int) -> np.ndarray:
    """Per-member accuracy averaged over all shifts at `distance`: [members]."""
    accs = [(predict_classes(state, shift_images(x, dy, dx)) == y).mean(-1) for dy, dx in ring_shifts(distance)]
    return np.mean(accs, axis=0)


def _extra(trained, splits) -> dict:
    x, y = splits.test["x"], splits.test["y"]
    per_d = {d: shifted_accuracy(trained.fit.state, x, y, d) for d in SHIFTS}
    return {"accuracy_by_shift": {str(d): summarize(v) for d, v in per_d.items()}}


def _after(results, trained, splits, out):
    models = results["models"]
    series = {n: np.array([m["accuracy_by_shift"][str(d)]["per_seed"] for d in SHIFTS]).T for n, m in models.items()}
    line_plot(list(SHIFTS), series, out / "accuracy_vs_shift.png", xlabel="shift (pixels, Chebyshev distance)",
              ylabel="test accuracy", title="digits: accuracy on shifted test images (mean, min–max over seeds)")
    rows = [[n, *(fmt_stat(m["accuracy_by_shift"][str(d)]) for d in SHIFTS)] for n, m in models.items()]
    (out / "accuracy_by_shift.md").write_text(markdown_table(["model", *(f"shift {d}" for d in SHIFTS)], rows))
    results["shifts"] = list(SHIFTS)
    results["augment_shift"] = AUGMENT


def run(argv=None) -> dict:
    return main("translation_invariance", PRESETS, SPECS, argv, extra=_extra, after=_after)


if __name__ == "__main__":
    run()
