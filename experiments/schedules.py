"""Learning-rate schedules: constant vs step decay vs cosine vs warmup + cosine vs reduce-on-plateau.

    python -m experiments.schedules [--seeds N] [--epochs E] [--quick]

The text: "learning rate scheduling can improve convergence". Digits (64 features, 10 classes,
standardised), an MLP 64→64→32→10 with ReLU and He initialisation, SGD with momentum 0.9, batch 32.
Each schedule gets the same budget: the same epochs, seeds and grid of peak learning rates
(`Preset.learning_rates`); its rate is chosen on the mean validation loss at the end of training.
Schedules: "constant"; "step" (×0.1 at 1/2 and again at 3/4 of the steps); "cosine" (to 0);
"warmup_cosine" (linear warm-up over the first 5 % of the steps, then cosine); "plateau" (constant,
scaled by 0.5 after 3 epochs without a better validation loss: `FitConfig(reduce_on_plateau=...)`).
The model evaluated is the one at the end of training (no best-epoch restore): what a schedule
leaves behind. Reported: test accuracy and loss, the validation loss over epochs, and the first
epoch at which each schedule's mean validation loss comes within 5 % of its own final value.
"""
from __future__ import annotations

import dataclasses
import math
import time

import numpy as np

from experiments.standalone import finish, header, start
from jaxnets.data import load_embedded, prepare
from jaxnets.models import MLP
from jaxnets.plots import learning_curves, line_plot, metric_bars
from jaxnets.report import fmt_stat, markdown_table
from jaxnets.train import (
    Classification,
    FitConfig,
    Plateau,
    create_states,
    evaluate,
    fit,
    make_optimizer,
    make_schedule,
    summarize,
)

SCHEDULES = ("constant", "step", "cosine", "warmup_cosine", "plateau")


@dataclasses.dataclass(frozen=True)
class Preset:
    epochs: int = 60
    seeds: int = 5
    batch_size: int = 32
    learning_rates: tuple[float, ...] = (0.003, 0.01, 0.03, 0.1)
    features: tuple[int, ...] = (64, 32, 10)

    def quick(self) -> Preset:
        return dataclasses.replace(self, epochs=4, seeds=2, learning_rates=(0.01, 0.1))


def train(schedule: str, learning_rate: float, splits, preset: Preset, progress: bool):
    steps = preset.epochs * math.ceil(len(splits.train["y"]) / preset.batch_size)
    lr = make_schedule("constant" if schedule == "plateau" else schedule, learning_rate, total_steps=steps,
                       warmup_steps=max(1, steps // 20))
    model = MLP(preset.features, activation="relu", kernel_init="he_normal")
    state = create_states(model, make_optimizer("momentum", lr), range(preset.seeds), splits.train["x"])
    config = FitConfig(epochs=preset.epochs, batch_size=preset.batch_size, progress=progress, restore_best=False,
                       reduce_on_plateau=Plateau(factor=0.5, patience=3) if schedule == "plateau" else None)
    return fit(state, Classification(10), splits.train, splits.val, config, name=f"{schedule} {learning_rate:g}")


def settled_epoch(val_loss: np.ndarray, within: float = 0.05) -> int:
    """First epoch (1-based) from which the mean validation loss stays within `within` of its final value."""
    mean = np.nanmean(val_loss, axis=0)
    outside = np.flatnonzero(np.abs(mean - mean[-1]) > within * mean[-1])
    return int(outside[-1] + 2) if outside.size else 1


def study(schedule: str, splits, preset: Preset, progress: bool) -> dict:
    runs = {lr: train(schedule, lr, splits, preset, progress) for lr in preset.learning_rates}
    final_val = {lr: float(np.nanmean(r.history["val_loss"][:, -1])) for lr, r in runs.items()}
    best = min(final_val, key=lambda lr: final_val[lr] if math.isfinite(final_val[lr]) else math.inf)
    r = runs[best]
    test = evaluate(Classification(10), r.state, splits.test)
    out = {
        "learning_rate": best, "final_val_loss_by_rate": {str(k): v for k, v in final_val.items()},
        "val_loss": summarize(r.history["val_loss"][:, -1]),
        "test_accuracy": summarize(test["accuracy"]),
        "test_loss": summarize(test["loss"]),
        "train_loss": summarize(r.history["train_loss"][:, -1]),
        "settled_epoch": settled_epoch(r.history["val_loss"]),
        "history": {k: v for k, v in r.history.items() if k in ("train_loss", "val_loss", "train_accuracy",
                                                                "val_accuracy")},
        "train_seconds": sum(x.train_seconds for x in runs.values()),
    }
    if "lr_scale" in r.history:
        out["lr_scale_final"] = summarize(r.history["lr_scale"][:, -1])
    return out


def verdict(found: dict) -> str:
    base = found["constant"]["test_accuracy"]
    better, worse, same = [], [], []
    for s, r in found.items():
        if s == "constant":
            continue
        t = r["test_accuracy"]
        if t["mean"] - t["std"] > base["mean"] + base["std"]:
            better.append(s)
        elif t["mean"] + t["std"] < base["mean"] - base["std"]:
            worse.append(s)
        else:
            same.append(s)
    text = f"constant rate: test accuracy {fmt_stat(base)}. "
    if better:
        text += f"Beyond both spreads better: {', '.join(better)}. "
    if worse:
        text += f"Beyond both spreads worse: {', '.join(worse)}. "
    if same:
        text += f"Within the spreads: {', '.join(same)}. "
    lowest = min(found, key=lambda s: found[s]["val_loss"]["mean"])
    text += (f"Lowest final validation loss: {lowest} ({fmt_stat(found[lowest]['val_loss'])} vs constant "
             f"{fmt_stat(found['constant']['val_loss'])}). Mean validation loss within 5 % of its final value "
             f"from epoch: " + ", ".join(f"{s} {r['settled_epoch']}" for s, r in found.items()) + ".")
    return text


def run(argv=None) -> dict:
    args, preset, out = start("schedules", Preset(), argv, __doc__)
    t0 = time.perf_counter()
    splits = prepare(load_embedded("digits"), test_size=0.2, val_size=0.15, seed=42)
    found = {s: study(s, splits, preset, not args.no_progress) for s in SCHEDULES}
    learning_curves({s: r["history"] for s, r in found.items()}, out / "learning_curves.png",
                    "digits MLP, SGD + momentum, each schedule at its chosen peak rate")
    line_plot(np.arange(1, preset.epochs + 1), {s: r["history"]["val_loss"] for s, r in found.items()},
              out / "val_loss.png", xlabel="epoch", ylabel="validation loss", title="validation loss by schedule",
              logy=True)
    metric_bars({"models": found}, "test_accuracy", out / "test_accuracy.png", "test accuracy at the end of training")
    v = verdict(found)
    rows = [[s, f"{r['learning_rate']:g}", fmt_stat(r["val_loss"]), fmt_stat(r["test_loss"]),
             fmt_stat(r["test_accuracy"]), r["settled_epoch"]] for s, r in found.items()]
    table = markdown_table(["schedule", "chosen peak rate", "val loss (end)", "test loss", "test accuracy",
                            "settled by epoch"], rows) + f"\n**Verdict.** {v}\n"
    results = {**header("schedules", args, preset),
               "models": {s: {k: x for k, x in r.items() if k != "history"} for s, r in found.items()},
               "verdict": v, "wall_seconds": time.perf_counter() - t0}
    return finish(out, results, table)


if __name__ == "__main__":
    run()
