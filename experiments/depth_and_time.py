"""Depth, width, time and accuracy: the text's "training time increases significantly with network
depth" and "deeper networks don't always perform better", measured.

    python -m experiments.depth_and_time [--seeds N] [--epochs E] [--quick]

Breast cancer (the text's split sizes: 80/20, the 20 % halved into validation and test), ReLU MLPs
with He initialisation, Adam 1e-3, batch 32, a fixed number of epochs, the best-validation-loss
epoch's parameters evaluated on test. Depth 1…8 hidden layers at width 32, and width 8…256 at depth
2. Each model's seeds train as one program; the time per epoch is its training time (compile
excluded, after a warm-up run of the same program) over its epochs, models one after another so
that none shares the cores.
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np

from experiments.standalone import finish, header, start
from jaxnets.data import load_embedded, prepare
from jaxnets.models import MLP, count_params
from jaxnets.plots import line_plot
from jaxnets.report import fmt_stat, markdown_table
from jaxnets.train import (
    Classification,
    FitConfig,
    compile_fit,
    create_states,
    evaluate,
    fit,
    make_optimizer,
    member,
    summarize,
)


@dataclasses.dataclass(frozen=True)
class Preset:
    epochs: int = 150
    seeds: int = 5
    batch_size: int = 32
    depths: tuple[int, ...] = (1, 2, 4, 6, 8)
    width: int = 32
    widths: tuple[int, ...] = (8, 32, 128, 256)
    depth: int = 2

    def quick(self) -> Preset:
        return dataclasses.replace(self, epochs=3, seeds=2, depths=(1, 3), widths=(8, 16))


def measure(hidden: tuple[int, ...], splits, preset: Preset) -> dict:
    model = MLP(hidden + (1,), activation="relu", kernel_init="he_normal")
    state = create_states(model, make_optimizer("adam", 1e-3), range(preset.seeds), splits.train["x"])
    config = FitConfig(epochs=preset.epochs, batch_size=preset.batch_size, progress=False)
    program = compile_fit(state, Classification(2), splits.train, splits.val, config)
    fit(state, Classification(2), splits.train, splits.val, config, program=program)  # warm-up: first-call costs
    r = fit(state, Classification(2), splits.train, splits.val, config, program=program)
    return {"hidden": list(hidden), "parameters": count_params(member(r.state, 0).params),
            "epoch_seconds": r.train_seconds / preset.epochs, "compile_seconds": program.compile_seconds,
            "test_accuracy": summarize(evaluate(Classification(2), r.state, splits.test)["accuracy"]),
            "best_epoch": [int(e) for e in r.best_epoch]}


def verdict(by_depth: dict, preset: Preset) -> dict:
    depths = sorted(by_depth, key=int)
    shallow, deep = by_depth[depths[0]], by_depth[depths[-1]]
    ratio = deep["epoch_seconds"] / shallow["epoch_seconds"]
    best = max(depths, key=lambda d: by_depth[d]["test_accuracy"]["mean"])
    top, last = by_depth[best]["test_accuracy"], deep["test_accuracy"]
    grows = ("it does not grow with depth" if ratio < 1.1 else "time grows with depth, roughly in proportion to it"
             if ratio >= 0.5 * int(depths[-1]) / int(depths[0]) else "time grows with depth, but far less than in "
             "proportion to it")
    time_text = (f"an epoch of {depths[-1]} hidden layers takes {ratio:.2f}× one of {depths[0]} "
                 f"({1e3 * deep['epoch_seconds']:.1f} vs {1e3 * shallow['epoch_seconds']:.1f} ms, {preset.seeds} "
                 f"seeds per program): {grows}.")
    if best == depths[-1]:
        acc_text = f"the deepest network ({depths[-1]} layers) is also the most accurate: {fmt_stat(top)}."
    elif top["mean"] - top["std"] > last["mean"] + last["std"]:
        acc_text = (f"{best} hidden layers are the most accurate ({fmt_stat(top)}), beyond the spreads of the "
                    f"deepest ({depths[-1]}: {fmt_stat(last)}): deeper is not better here.")
    else:
        acc_text = (f"{best} hidden layers are the most accurate ({fmt_stat(top)}); the deepest ({depths[-1]}: "
                    f"{fmt_stat(last)}) is within the spreads: depth does not help here.")
    return {"time": time_text, "accuracy": acc_text}


def run(argv=None) -> dict:
    args, preset, out = start("depth_and_time", Preset(), argv, __doc__)
    t0 = time.perf_counter()
    splits = prepare(load_embedded("breast_cancer"), test_size=0.2, val_size=0.5, val_from="test", seed=42)
    by_depth = {str(d): measure((preset.width,) * d, splits, preset) for d in preset.depths}
    by_width = {str(w): measure((w,) * preset.depth, splits, preset) for w in preset.widths}
    for name, found, key in (("depth", by_depth, "hidden layers"), ("width", by_width, "units per layer")):
        x = np.asarray([int(k) for k in found])
        line_plot(x, {"test accuracy": np.stack([r["test_accuracy"]["per_seed"] for r in found.values()], 1)},
                  out / f"accuracy_vs_{name}.png", xlabel=key, ylabel="test accuracy", title=f"accuracy vs {name}")
        line_plot(x, {"ms per epoch": 1e3 * np.asarray([[r["epoch_seconds"] for r in found.values()]])},
                  out / f"epoch_time_vs_{name}.png", xlabel=key, ylabel="ms per epoch (all seeds)",
                  title=f"training time vs {name}")
    v = verdict(by_depth, preset)
    rows = [[f"depth {k}" if i < len(by_depth) else f"width {k}", r["parameters"], f"{1e3 * r['epoch_seconds']:.2f}",
             fmt_stat(r["test_accuracy"])]
            for i, (k, r) in enumerate([*by_depth.items(), *by_width.items()])]
    table = markdown_table(["model", "parameters", "ms per epoch", "test accuracy"], rows)
    table += "\n" + "\n".join(f"- **{k}**: {s}" for k, s in v.items()) + "\n"
    results = {**header("depth_and_time", args, preset), "by_depth": by_depth, "by_width": by_width, "verdicts": v,
               "verdict": " ".join(v.values()), "wall_seconds": time.perf_counter() - t0}
    return finish(out, results, table)


if __name__ == "__main__":
    run()
