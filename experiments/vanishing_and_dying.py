"""Vanishing gradients and dying units, measured: a 10-layer MLP with sigmoid, tanh, ReLU and leaky ReLU.

    python -m experiments.vanishing_and_dying [--seeds N] [--epochs E] [--quick]

The text's "Technical Observations": sigmoid/tanh suffer from vanishing gradients in deep networks;
ReLU can have "dying" neurons but generally trains faster; leaky ReLU helps with the dying-neuron
problem. Digits (64 features, 10 classes, standardised), ten hidden layers of 32 units, each
activation with its customary initialisation (Xavier for sigmoid/tanh, He for (leaky) ReLU), plain
SGD at one learning rate for all, the same seeds. The engine's diagnostics (`FitConfig(diagnostics=
True)`) record, per epoch and layer, ‖∂L/∂W‖ and the fraction of units that were zero on every
training example of the epoch (dead). Measured: the gradient norm of each layer in the first epoch
(and the first layer's over the last hidden layer's: < 1 means it shrinks on its way back), the
dead fractions, the training loss after the first epochs and at the end, and the test accuracy.
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np

from experiments.standalone import finish, header, start
from jaxnets.data import load_embedded, prepare
from jaxnets.models import MLP
from jaxnets.plots import diagnostics, learning_curves, line_plot
from jaxnets.report import fmt_stat, markdown_table
from jaxnets.train import Classification, FitConfig, create_states, evaluate, fit, make_optimizer, summarize

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu")
INIT = {"sigmoid": "xavier_uniform", "tanh": "xavier_uniform", "relu": "he_normal", "leaky_relu": "he_normal"}


@dataclasses.dataclass(frozen=True)
class Preset:
    depth: int = 10
    width: int = 32
    epochs: int = 40
    seeds: int = 5
    learning_rate: float = 0.05
    batch_size: int = 32
    early: int = 5  # "trains faster": the training loss after this many epochs

    def quick(self) -> Preset:
        return dataclasses.replace(self, epochs=3, seeds=2, early=2)


def study(activation: str, splits, preset: Preset, progress: bool) -> dict:
    model = MLP((preset.width,) * preset.depth + (10,), activation=activation, kernel_init=INIT[activation])
    state = create_states(model, make_optimizer("sgd", preset.learning_rate), range(preset.seeds), splits.train["x"])
    config = FitConfig(epochs=preset.epochs, batch_size=preset.batch_size, progress=progress, diagnostics=True,
                       restore_best=False)
    r = fit(state, Classification(10), splits.train, splits.val, config, name=activation)
    h = r.history
    grads = np.stack([h[f"grad_norm/hidden_{i}/kernel"] for i in range(preset.depth)], axis=1)  # [seeds, layer, epoch]
    dead = np.stack([h[f"dead_fraction/activation_{i}"] for i in range(preset.depth)], axis=1)
    return {
        "grad_norm_first_epoch": {str(i + 1): summarize(grads[:, i, 0]) for i in range(preset.depth)},
        "first_over_last_grad": summarize(grads[:, 0, 0] / grads[:, -1, 0]),
        "dead_fraction_by_layer": {str(i + 1): summarize(dead[:, i, -1]) for i in range(preset.depth)},
        "dead_fraction": summarize(dead[:, :, -1].mean(axis=1)),
        "dead_fraction_max_over_training": summarize(np.nanmax(dead.mean(axis=1), axis=1)),
        "train_loss_early": summarize(h["train_loss"][:, preset.early - 1]),
        "train_loss_final": summarize(h["train_loss"][:, -1]),
        "test_accuracy": summarize(evaluate(Classification(10), r.state, splits.test)["accuracy"]),
        "history": h, "grads": grads, "dead": dead,
        "train_seconds": r.train_seconds, "compile_seconds": r.compile_seconds,
    }


def verdicts(found: dict, preset: Preset) -> dict:
    ratio = {a: found[a]["first_over_last_grad"]["mean"] for a in found}
    dead = {a: found[a]["dead_fraction"]["mean"] for a in found}
    early = {a: found[a]["train_loss_early"]["mean"] for a in found}
    vanish = ("first-layer / last-hidden-layer gradient norm in epoch 1: "
              + ", ".join(f"{a} {ratio[a]:.3g}" for a in found) + ". "
              + ("Sigmoid's gradient shrinks on its way back (ratio < 1) and more than ReLU's: the claim holds here."
                 if ratio["sigmoid"] < min(1.0, ratio["relu"]) else
                 "Sigmoid's gradient does not shrink more than ReLU's here: the claim is not confirmed."))
    if ratio["tanh"] >= 1.0:
        vanish += " Tanh (with Xavier initialisation) does not vanish at this depth: that half of the claim fails here."
    faster = min(("sigmoid", "tanh"), key=lambda a: early[a])
    dying = ("dead units at the end (mean over layers): " + ", ".join(f"{a} {dead[a]:.1%}" for a in found) + ". "
             + (f"ReLU has dead units and leaky ReLU has {'none' if dead['leaky_relu'] == 0 else 'fewer'}: the claim "
                f"holds here." if dead["relu"] > dead["leaky_relu"] else
                "ReLU lost no more units than leaky ReLU at this learning rate: no dying-ReLU problem to fix here."))
    trains = (f"training loss after {preset.early} epochs: " + ", ".join(f"{a} {early[a]:.3f}" for a in found) + ". "
              + ("ReLU is ahead of sigmoid and tanh" if early["relu"] < early[faster] else
                 f"ReLU is not ahead of {faster}") + " at the same learning rate.")
    return {"vanishing": vanish, "dying": dying, "trains_faster": trains}


def run(argv=None) -> dict:
    args, preset, out = start("vanishing_and_dying", Preset(), argv, __doc__)
    t0 = time.perf_counter()
    splits = prepare(load_embedded("digits"), test_size=0.2, val_size=0.1, seed=42)
    found = {a: study(a, splits, preset, not args.no_progress) for a in ACTIVATIONS}
    layers = np.arange(1, preset.depth + 1)
    line_plot(layers, {a: r["grads"][:, :, 0] for a, r in found.items()}, out / "gradient_norm_by_layer.png",
              xlabel="hidden layer (1 = next to the input)", ylabel="‖∂L/∂W‖, epoch 1",
              title=f"{preset.depth}-layer MLP on digits: gradient per layer", logy=True)
    epochs = np.arange(1, preset.epochs + 1)
    line_plot(epochs, {a: r["dead"].mean(axis=1) for a, r in found.items()}, out / "dead_fraction.png",
              xlabel="epoch", ylabel="dead units (fraction, mean over layers)", title="units zero on every example")
    learning_curves({a: r["history"] for a, r in found.items()}, out / "learning_curves.png",
                    f"{preset.depth}-layer MLP on digits, SGD lr {preset.learning_rate:g}")
    for a, r in found.items():
        diagnostics(r["history"], out / f"diagnostics_{a}.png", f"{a}: diagnostics per layer")
    v = verdicts(found, preset)
    ratio = lambda s: f"{s['mean']:.3g} ± {s['std']:.2g}"
    rows = [[a, ratio(r["first_over_last_grad"]), fmt_stat(r["dead_fraction"]), fmt_stat(r["train_loss_early"]),
             fmt_stat(r["train_loss_final"]), fmt_stat(r["test_accuracy"])] for a, r in found.items()]
    table = markdown_table(["activation", "grad layer 1 / layer 10 (epoch 1)", "dead units (end)",
                            f"train loss, epoch {preset.early}", "train loss, end", "test accuracy"], rows)
    table += "\n" + "\n".join(f"- **{k.replace('_', ' ')}**: {s}" for k, s in v.items()) + "\n"
    models = {a: {k: val for k, val in r.items() if k not in ("history", "grads", "dead")} for a, r in found.items()}
    results = {**header("vanishing_and_dying", args, preset), "models": models, "verdicts": v,
               "verdict": " ".join(v.values()), "wall_seconds": time.perf_counter() - t0}
    return finish(out, results, table)


if __name__ == "__main__":
    run()
