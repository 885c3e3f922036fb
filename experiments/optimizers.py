"""Optimizers compared fairly: SGD, momentum, Nesterov, RMSProp, Adam and AdamW, each at its own best
learning rate, on breast cancer and digits.

    python -m experiments.optimizers [--seeds N] [--epochs E] [--quick]

The fair-tuning protocol: every optimizer gets the same budget — the same grid of learning rates
(`Preset.learning_rates`, 1e-4 … 3.16 in half-decades), the same epochs and seeds — and its learning
rate is chosen on the validation loss (`jaxnets.train.sweep`: one compiled program per optimizer,
all rates × seeds as its members). Reported: each optimizer's test accuracy at its chosen rate (mean
± std over seeds), its validation loss against the learning rate (how forgiving it is), and the
learning curves at the chosen rate. A difference counts when it exceeds both optimizers' spread.
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np

from experiments.standalone import finish, header, start
from jaxnets.data import load_embedded, prepare
from jaxnets.models import MLP
from jaxnets.plots import learning_curves, line_plot, metric_bars
from jaxnets.report import fmt_stat, markdown_table
from jaxnets.train import Classification, FitConfig, sweep

OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw")
# The text's breast-cancer MLP [30, 16, 8, 1]; for digits the same shape with 10 outputs.
MODELS = {"breast_cancer": (16, 8, 1), "digits": (32, 16, 10)}


@dataclasses.dataclass(frozen=True)
class Preset:
    epochs: int = 60
    seeds: int = 8
    batch_size: int = 32
    learning_rates: tuple[float, ...] = tuple(float(f"{v:.3g}") for v in np.logspace(-4, 0.5, 10))
    datasets: tuple[str, ...] = ("breast_cancer", "digits")

    def quick(self) -> Preset:
        return dataclasses.replace(self, epochs=5, seeds=2, learning_rates=(1e-3, 1e-2, 1e-1),
                                   datasets=("breast_cancer",))


def tune(optimizer: str, splits, features, preset: Preset, progress: bool) -> dict:
    """One optimizer on one dataset: the sweep, its chosen rate, and that rate's members."""
    model = MLP(features, activation="relu", kernel_init="he_normal")
    config = FitConfig(epochs=preset.epochs, batch_size=preset.batch_size, progress=progress)
    t0 = time.perf_counter()
    grid = {"learning_rate": list(preset.learning_rates)}
    res = sweep(model, Classification(len(splits.class_names)), optimizer, grid, splits.train, splits.val, config,
                seeds=range(preset.seeds), test=splits.test)
    wall = time.perf_counter() - t0
    best = res.best["learning_rate"]
    row = next(r for r in res.rows if r["setting"] == res.best)
    (_, fitted), = res.fits
    chosen = [i for i, m in enumerate(res.members) if m["setting"] == res.best]
    rates = list(preset.learning_rates)
    by_rate = np.full((preset.seeds, len(rates)), np.nan)  # validation loss [seed, rate], NaN: diverged
    for m in res.members:
        if not m["diverged"]:
            by_rate[m["seed"], rates.index(m["setting"]["learning_rate"])] = m["val_loss"]
    return {
        "learning_rate": best, "val_loss": row["val_loss"], "test_accuracy": row["test_accuracy"],
        "test_loss": row["test_loss"], "diverged": row["diverged"], "warnings": res.warnings,
        "val_loss_by_rate": by_rate,
        "diverged_by_rate": {str(r["setting"]["learning_rate"]): r["diverged"] for r in res.rows},
        "history": {k: v[chosen] for k, v in fitted.history.items()},
        "sweep_table": res.markdown(("val_loss", "val_accuracy", "test_accuracy")),
        "members": len(res.members), "wall_seconds": wall, "train_seconds": fitted.train_seconds,
    }


def verdict(dataset: str, found: dict) -> str:
    """The best optimizer by mean test accuracy, and whether it beats the others beyond their spreads."""
    ranked = sorted(found, key=lambda o: -found[o]["test_accuracy"]["mean"])
    top = found[ranked[0]]["test_accuracy"]
    beaten = [o for o in ranked[1:] if top["mean"] - top["std"] > found[o]["test_accuracy"]["mean"]
              + found[o]["test_accuracy"]["std"]]
    tied = [o for o in ranked[1:] if o not in beaten]
    text = (f"{dataset}: {ranked[0]} has the best test accuracy, {fmt_stat(top)} at learning rate "
            f"{found[ranked[0]]['learning_rate']:g}")
    if beaten:
        text += f"; it beats {', '.join(beaten)} beyond both spreads"
    if tied:
        text += f"; {', '.join(tied)} are within the spreads (no measurable difference)"
    return text + "."


def run(argv=None) -> dict:
    args, preset, out = start("optimizers", Preset(), argv, __doc__)
    t0 = time.perf_counter()
    results = {**header("optimizers", args, preset), "datasets": {}}
    rows, verdicts = [], []
    for dataset in preset.datasets:
        ds = load_embedded(dataset)
        splits = prepare(ds, test_size=0.2, val_size=0.15, seed=42)
        found = {o: tune(o, splits, MODELS[dataset], preset, not args.no_progress) for o in OPTIMIZERS}
        v = verdict(dataset, found)
        verdicts.append(v)
        for o, r in found.items():
            rows.append([dataset, o, f"{r['learning_rate']:g}", fmt_stat(r["val_loss"]), fmt_stat(r["test_accuracy"]),
                         f"{r['diverged']:.0%}", "; ".join(r["warnings"]) or ""])
        metric_bars({"models": found}, "test_accuracy", out / f"{dataset}_test_accuracy.png",
                    f"{dataset}: test accuracy at each optimizer's chosen learning rate")
        learning_curves({o: r["history"] for o, r in found.items()}, out / f"{dataset}_learning_curves.png",
                        f"{dataset}: each optimizer at its chosen learning rate")
        line_plot(np.log10(preset.learning_rates), {o: r["val_loss_by_rate"] for o, r in found.items()},
                  out / f"{dataset}_val_loss_vs_learning_rate.png", xlabel="log10 learning rate",
                  ylabel="validation loss (best epoch)",
                  title=f"{dataset}: {preset.epochs} epochs, {preset.seeds} seeds",
                  logy=True)
        results["datasets"][dataset] = {"model": list(MODELS[dataset]), "optimizers": found, "verdict": v,
                                        "n_train": len(splits.train["y"]), "n_val": len(splits.val["y"]),
                                        "n_test": len(splits.test["y"])}
    results["verdict"] = " ".join(verdicts)
    results["wall_seconds"] = time.perf_counter() - t0
    table = markdown_table(["dataset", "optimizer", "chosen learning rate", "val loss", "test accuracy", "diverged",
                            "warnings"], rows)
    table += "\n**Verdict.** " + results["verdict"] + "\n"
    for dataset, d in results["datasets"].items():
        for o, r in d["optimizers"].items():
            table += (f"\n<details><summary>{dataset} · {o}: every learning rate</summary>\n\n"
                      f"{r['sweep_table']}\n</details>\n")
    return finish(out, results, table)


if __name__ == "__main__":
    run()
