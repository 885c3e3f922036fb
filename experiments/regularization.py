"""Regularisation on small data: none vs L2 vs dropout vs BatchNorm vs early stopping vs all of them.

    python -m experiments.regularization [--seeds N] [--epochs E] [--quick]

The text: L2 "to avoid overfitting", "validation is crucial to detect overfitting", "batch
normalization ... crucial". Digits with 10 % of the usual training split (≈ 120 examples), the
usual validation (15 %) and test (20 %) splits; an MLP 64→128→64→10 (ReLU, He), Adam 1e-3, batch 32,
the same seeds for every variant. L2's weight and the dropout rate are chosen on the validation loss
(`jaxnets.train.sweep`: L2 ∈ {1e-4, 1e-3, 1e-2} and dropout ∈ {0.1, 0.3, 0.5}, each as the members of
one program); early stopping stops 20 epochs after the best validation loss and keeps
that epoch's parameters; "all" combines the chosen L2 and dropout with BatchNorm and early stopping.
Every other variant is evaluated at its last epoch. Reported: final training and validation
accuracy, their gap, and test accuracy (mean ± std over seeds).
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np

from experiments.standalone import finish, header, start
from jaxnets.data import load_embedded, prepare
from jaxnets.models import MLP
from jaxnets.plots import learning_curves, metric_bars
from jaxnets.report import fmt_stat, markdown_table
from jaxnets.train import Classification, FitConfig, create_states, evaluate, fit, make_optimizer, summarize

VARIANTS = ("none", "l2", "dropout", "batch_norm", "early_stopping", "all")


@dataclasses.dataclass(frozen=True)
class Preset:
    epochs: int = 300
    seeds: int = 5
    batch_size: int = 32
    train_fraction: float = 0.1
    features: tuple[int, ...] = (128, 64, 10)
    learning_rate: float = 1e-3
    l2: tuple[float, ...] = (1e-4, 1e-3, 1e-2)
    dropout: tuple[float, ...] = (0.1, 0.3, 0.5)
    patience: int = 20

    def quick(self) -> Preset:
        return dataclasses.replace(self, epochs=4, seeds=2, l2=(1e-3,), dropout=(0.3,), patience=2)


def small_split(preset: Preset):
    """The usual digits splits, the training part cut to `train_fraction` (a fixed random subset)."""
    splits = prepare(load_embedded("digits"), test_size=0.2, val_size=0.15, seed=42)
    n = len(splits.train["y"])
    keep = np.sort(np.random.default_rng(0).permutation(n)[: max(10, int(preset.train_fraction * n))])
    return dataclasses.replace(splits, train={k: v[keep] for k, v in splits.train.items()})


def _choose(name: str, values, splits, preset: Preset, config: FitConfig):
    """The value of one setting with the lowest mean final validation loss (a sweep)."""
    from jaxnets.train import sweep

    model = MLP(preset.features, kernel_init="he_normal")
    res = sweep(model, Classification(10), "adam", {name: list(values)}, splits.train, splits.val, config,
                seeds=range(preset.seeds), learning_rate=preset.learning_rate)
    return res.best[name]


def train(variant: str, splits, preset: Preset, chosen: dict, progress: bool):
    l2 = chosen["l2"] if variant in ("l2", "all") else 0.0
    dropout = chosen["dropout"] if variant in ("dropout", "all") else 0.0
    norm = "batch" if variant in ("batch_norm", "all") else None
    stop = variant in ("early_stopping", "all")
    model = MLP(preset.features, kernel_init="he_normal", dropout_rate=dropout, norm=norm)
    state = create_states(model, make_optimizer("adam", preset.learning_rate), range(preset.seeds),
                          splits.train["x"])
    config = FitConfig(epochs=preset.epochs, batch_size=preset.batch_size, progress=progress,
                       patience=preset.patience if stop else None, restore_best=stop)
    return fit(state, Classification(10, l2=l2), splits.train, splits.val, config, name=variant)


def verdict(found: dict) -> str:
    base = found["none"]["test_accuracy"]
    better = [v for v in VARIANTS[1:] if found[v]["test_accuracy"]["mean"] - found[v]["test_accuracy"]["std"]
              > base["mean"] + base["std"]]
    smaller_gap = [v for v in VARIANTS[1:] if found[v]["gap"]["mean"] < found["none"]["gap"]["mean"]]
    text = (f"without regularisation: train accuracy {fmt_stat(found['none']['train_accuracy'])}, validation "
            f"{fmt_stat(found['none']['val_accuracy'])}, test {fmt_stat(base)}. ")
    text += (f"Test accuracy beyond both spreads above it: {', '.join(better)}. " if better else
             "No variant is above it beyond both spreads. ")
    text += f"Smaller train/validation gap than without: {', '.join(smaller_gap) or 'none'}."
    return text


def run(argv=None) -> dict:
    args, preset, out = start("regularization", Preset(), argv, __doc__)
    t0 = time.perf_counter()
    splits = small_split(preset)
    choose_cfg = FitConfig(epochs=preset.epochs, batch_size=preset.batch_size, progress=False, restore_best=False)
    chosen = {"l2": _choose("l2", preset.l2, splits, preset, choose_cfg),
              "dropout": _choose("dropout_rate", preset.dropout, splits, preset, choose_cfg)}
    found, histories = {}, {}
    for v in VARIANTS:
        r = train(v, splits, preset, chosen, not args.no_progress)
        tr, va, te = (evaluate(Classification(10), r.state, d)["accuracy"] for d in (splits.train, splits.val,
                                                                                      splits.test))
        found[v] = {"train_accuracy": summarize(tr), "val_accuracy": summarize(va), "gap": summarize(tr - va),
                    "test_accuracy": summarize(te),
                    "epochs_run": [int(e) for e in r.epochs_run], "train_seconds": r.train_seconds}
        histories[v] = r.history
    learning_curves(histories, out / "learning_curves.png",
                    f"digits, {len(splits.train['y'])} training examples: each regulariser")
    metric_bars({"models": found}, "test_accuracy", out / "test_accuracy.png", "test accuracy")
    metric_bars({"models": found}, "gap", out / "train_val_gap.png", "train − validation accuracy")
    v = verdict(found)
    rows = [[name, fmt_stat(r["train_accuracy"]), fmt_stat(r["val_accuracy"]), fmt_stat(r["gap"]),
             fmt_stat(r["test_accuracy"]), ", ".join(map(str, r["epochs_run"]))] for name, r in found.items()]
    table = (f"chosen on validation: L2 weight {chosen['l2']:g}, dropout rate {chosen['dropout']:g}; "
             f"{len(splits.train['y'])} training examples\n\n"
             + markdown_table(["variant", "train accuracy", "val accuracy", "gap", "test accuracy", "epochs run"], rows)
             + f"\n**Verdict.** {v}\n")
    results = {**header("regularization", args, preset), "chosen": chosen, "n_train": len(splits.train["y"]),
               "models": found, "verdict": v, "wall_seconds": time.perf_counter() - t0}
    return finish(out, results, table)


if __name__ == "__main__":
    run()
