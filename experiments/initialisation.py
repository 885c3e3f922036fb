"""Initialisation, measured: zeros vs too small vs Xavier vs He for a 10-layer ReLU and a 10-layer tanh MLP.

    python -m experiments.initialisation [--seeds N] [--epochs E] [--quick]

The text: "proper initialization is crucial". Digits (64 features, 10 classes, standardised), ten
hidden layers of 32 units, plain SGD at 0.05, batch 32. Initialisations of every weight matrix
(biases start at 0): "zeros"; "small_normal" (N(0, 0.01²), the classic too-small choice); "xavier"
(Glorot uniform, variance 2 / (fan_in + fan_out)); "he" (normal, variance 2 / fan_in). Measured at
initialisation (one epoch at learning rate 0, `FitConfig(diagnostics=True)`): each layer's
activation standard deviation and each layer's gradient norm; then after training: test accuracy
and the first epoch whose training accuracy reaches 90 % (None: never).
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np
import optax

from experiments.standalone import finish, header, start
from jaxnets.data import load_embedded, prepare
from jaxnets.models import MLP
from jaxnets.plots import line_plot
from jaxnets.report import fmt_stat, markdown_table
from jaxnets.train import Classification, FitConfig, create_states, evaluate, fit, make_optimizer, summarize

INITS = {"zeros": "zeros", "small_normal": "small_normal", "xavier": "xavier_uniform", "he": "he_normal"}
ACTIVATIONS = ("relu", "tanh")


@dataclasses.dataclass(frozen=True)
class Preset:
    depth: int = 10
    width: int = 32
    epochs: int = 30
    seeds: int = 5
    learning_rate: float = 0.05
    batch_size: int = 32
    target: float = 0.9  # "trains": the first epoch whose training accuracy reaches this

    def quick(self) -> Preset:
        return dataclasses.replace(self, epochs=3, seeds=2)


def study(activation: str, init: str, splits, preset: Preset, progress: bool) -> dict:
    model = MLP((preset.width,) * preset.depth + (10,), activation=activation, kernel_init=INITS[init])
    seeds, obj = range(preset.seeds), Classification(10)
    probe = fit(create_states(model, optax.sgd(0.0), seeds, splits.train["x"]), obj, splits.train, None,
                FitConfig(epochs=1, batch_size=preset.batch_size, progress=False, diagnostics=True))
    act_std = np.stack([probe.history[f"act_std/activation_{i}"][:, 0] for i in range(preset.depth)], axis=1)
    grads = np.stack([probe.history[f"grad_norm/hidden_{i}/kernel"][:, 0] for i in range(preset.depth)], axis=1)
    state = create_states(model, make_optimizer("sgd", preset.learning_rate), seeds, splits.train["x"])
    r = fit(state, obj, splits.train, splits.val, FitConfig(epochs=preset.epochs, batch_size=preset.batch_size,
                                                           progress=progress, restore_best=False),
            name=f"{activation} {init}")
    reached = r.history["train_accuracy"] >= preset.target
    first = [int(np.argmax(row)) + 1 if row.any() else None for row in reached]
    return {
        "act_std_at_init": act_std, "grad_norm_at_init": grads,
        "last_layer_act_std": summarize(act_std[:, -1]),
        "first_over_last_grad": summarize(grads[:, 0] / np.maximum(grads[:, -1], 1e-30)),
        "epochs_to_target": first, "reached_target": sum(f is not None for f in first),
        "train_accuracy": summarize(r.history["train_accuracy"][:, -1]),
        "test_accuracy": summarize(evaluate(obj, r.state, splits.test)["accuracy"]),
        "train_seconds": r.train_seconds,
    }


def verdict(found: dict, preset: Preset) -> str:
    parts = []
    for act in ACTIVATIONS:
        ok = [i for i in INITS if found[(act, i)]["reached_target"] == preset.seeds]
        never = [i for i in INITS if found[(act, i)]["reached_target"] == 0]
        parts.append(f"{act}: every seed reaches {preset.target:.0%} training accuracy with "
                     f"{', '.join(ok) or 'no initialisation'}; none does with {', '.join(never) or '–'}")
    crucial = all(found[(a, "zeros")]["reached_target"] == 0 for a in ACTIVATIONS)
    return ("; ".join(parts) + ". " + ("Initialisation decides whether this network trains at all: the claim holds "
                                       "here." if crucial else "Zero initialisation trained here: the claim is not "
                                                                  "confirmed."))


def run(argv=None) -> dict:
    args, preset, out = start("initialisation", Preset(), argv, __doc__)
    t0 = time.perf_counter()
    splits = prepare(load_embedded("digits"), test_size=0.2, val_size=0.1, seed=42)
    found = {(a, i): study(a, i, splits, preset, not args.no_progress) for a in ACTIVATIONS for i in INITS}
    layers = np.arange(1, preset.depth + 1)
    for a in ACTIVATIONS:
        # zeros: every activation is exactly 0 (relu) or 0 (tanh) and would vanish from a log axis
        line_plot(layers, {i: np.maximum(found[(a, i)]["act_std_at_init"], 1e-12) for i in INITS},
                  out / f"{a}_activation_std_at_init.png", xlabel="hidden layer", ylabel="activation std at init",
                  title=f"10-layer {a} MLP: activations at initialisation", logy=True)
        line_plot(layers, {i: np.maximum(found[(a, i)]["grad_norm_at_init"], 1e-12) for i in INITS},
                  out / f"{a}_gradient_norm_at_init.png", xlabel="hidden layer", ylabel="‖∂L/∂W‖ at init",
                  title=f"10-layer {a} MLP: gradients at initialisation", logy=True)
    v = verdict(found, preset)
    rows = [[a, i, f"{r['last_layer_act_std']['mean']:.3g}", f"{r['first_over_last_grad']['mean']:.3g}",
             f"{r['reached_target']}/{preset.seeds}",
             ", ".join("–" if e is None else str(e) for e in r["epochs_to_target"]),
             fmt_stat(r["test_accuracy"])] for (a, i), r in found.items()]
    table = markdown_table(["activation", "init", "layer-10 activation std", "grad layer 1 / layer 10",
                            f"seeds reaching {preset.target:.0%} train acc.", "epoch reached", "test accuracy"],
                           rows) + f"\n**Verdict.** {v}\n"
    models = {f"{a}/{i}": {k: x for k, x in r.items()} for (a, i), r in found.items()}
    results = {**header("initialisation", args, preset), "models": models, "verdict": v,
               "wall_seconds": time.perf_counter() - t0}
    return finish(out, results, table)


if __name__ == "__main__":
    run()
