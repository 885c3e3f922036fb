"""Memory capacity, measured: vanilla RNN vs LSTM vs GRU on the adding problem at growing lengths.

    python -m experiments.memory_capacity [--seeds N] [--quick]

The seed rates memory with stars ("vanilla RNN remembers ~5–10 steps, LSTM ~100+"). Here every
cell (same hidden size) learns the adding problem at T ∈ {5, 10, 20, 50, 100, 200}: the target is
the sum of two marked values, the first in the first half of the sequence, so the network must
carry it across up to T − 1 steps. A length counts as *solved* when the mean test MSE over seeds is
at most THRESHOLD = 0.01 (predicting the mean scores 1/6 ≈ 0.167). Also reported: parameters and
training time per time step (the seed's "processing speed" stars).
"""
from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from experiments.standalone import checkpointed_fit, finish, header, start
from jaxnets.data.synthetic import ADDING_BASELINE_MSE, adding_problem
from jaxnets.models import count_params
from jaxnets.models.rnn import CELLS, SequenceModel
from jaxnets.plots import line_plot
from jaxnets.report import fmt_stat, markdown_table
from jaxnets.train import FitConfig, Regression, create_states, make_optimizer, member, predict_logits, summarize

THRESHOLD = 0.01


@dataclasses.dataclass(frozen=True)
class Preset:
    lengths: tuple[int, ...] = (5, 10, 20, 50, 100, 200)
    hidden: int = 32
    n_train: int = 1600
    n_val: int = 400
    n_test: int = 1000
    epochs: int = 60
    # Long patience: on the adding problem the loss plateaus at the baseline before the gates learn
    # to hold the marked value; patience 10 stopped LSTM seeds on that plateau at T = 50.
    patience: int = 25
    batch_size: int = 64
    learning_rate: float = 3e-3
    clip_norm: float = 1.0
    seeds: int = 5

    def quick(self) -> Preset:
        return dataclasses.replace(self, lengths=(5, 20), n_train=256, n_val=128, n_test=256, epochs=4, seeds=2)


def train_one(name: str, model, length: int, preset: Preset, progress: bool, checkpoints=None) -> dict:
    """One (model, T): seeds as one vmapped program; test MSE per seed and timings."""
    # The data depend on T only: every model sees the same sequences.
    tr, va, te = (adding_problem(n, length, seed=1000 * length + i)
                  for i, n in enumerate((preset.n_train, preset.n_val, preset.n_test)))
    tx = make_optimizer("adam", preset.learning_rate, clip_norm=preset.clip_norm)
    state = create_states(model, tx, range(preset.seeds), tr["x"])
    config = FitConfig(epochs=preset.epochs, batch_size=preset.batch_size, patience=preset.patience,
                       progress=progress)
    fr = checkpointed_fit(checkpoints, state, Regression(), tr, va, config, f"{name} T={length}")
    pred = np.asarray(predict_logits(fr.state, te["x"]))[..., 0]
    mse = ((pred - te["y"][None]) ** 2).mean(axis=1)
    steps = int(fr.epochs_run.max()) * -(-preset.n_train // preset.batch_size)
    return {
        "test_mse": summarize(mse),
        "epochs_run": summarize(fr.epochs_run),
        "compile_seconds": fr.compile_seconds,
        "train_seconds": fr.train_seconds,
        # One batch of one time step, all seeds together (forward + backward + update share).
        "train_us_per_time_step": 1e6 * fr.train_seconds / max(steps * length, 1),
        "parameters": count_params(member(fr.state, 0).params),
    }


def longest_solved(per_length: dict) -> int:
    """The largest T whose mean test MSE is at most THRESHOLD (0 if none)."""
    solved = [int(t) for t, r in per_length.items() if r["mean"] <= THRESHOLD]
    return max(solved, default=0)


def compare(experiment: str, builders: dict[str, Callable[[Preset], object]], args, preset: Preset, out) -> dict:
    """Every model (name -> builder(preset) -> linen module) at every length; results, table, plot."""
    jobs = [(n, t) for t in sorted(preset.lengths, reverse=True) for n in builders]  # longest first
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        done = list(pool.map(lambda j: train_one(j[0], builders[j[0]](preset), j[1], preset, not args.no_progress,
                                                 args.checkpoints), jobs))
    wall = time.perf_counter() - t0
    by = dict(zip(jobs, done))

    models = {}
    for c in builders:
        per_length = {str(t): by[(c, t)]["test_mse"] for t in preset.lengths}
        models[c] = {
            "metric": "test_mse",
            "longest_solved_length": longest_solved(per_length),
            "per_length": per_length,
            "parameters": by[(c, preset.lengths[0])]["parameters"],
            "train_us_per_time_step": {str(t): by[(c, t)]["train_us_per_time_step"] for t in preset.lengths},
            "epochs_run": {str(t): by[(c, t)]["epochs_run"] for t in preset.lengths},
            "compile_seconds": sum(by[(c, t)]["compile_seconds"] for t in preset.lengths),
            "train_seconds": sum(by[(c, t)]["train_seconds"] for t in preset.lengths),
        }
    results = {**header(experiment, args, preset), "threshold_test_mse": THRESHOLD,
               "baseline_mse_predict_mean": ADDING_BASELINE_MSE, "models": models, "training_wall_seconds": wall}
    series = {c: np.array([m["per_length"][str(t)]["per_seed"] for t in preset.lengths]).T for c, m in models.items()}
    line_plot(list(preset.lengths), series, out / "mse_vs_length.png", xlabel="sequence length T",
              ylabel="test MSE (adding problem)", logy=True,
              title=f"memory: mean and min–max over {preset.seeds} seeds; solved ≤ {THRESHOLD}")
    rows = [[c, f"{m['parameters']:,}", m["longest_solved_length"],
             *(fmt_stat(m["per_length"][str(t)]) for t in preset.lengths),
             f"{m['train_us_per_time_step'][str(max(preset.lengths))]:.0f}"] for c, m in models.items()]
    table = (f"**{experiment}** · {preset.seeds} seeds · hidden {preset.hidden} · solved: mean test MSE ≤ "
             f"{THRESHOLD} (predicting the mean: {ADDING_BASELINE_MSE:.3f}) · wall {wall:.0f} s\n\n"
             + markdown_table(["model", "parameters", "longest solved T", *(f"T={t}" for t in preset.lengths),
                               f"train µs/step (T={max(preset.lengths)})"], rows))
    return finish(out, results, table)


def run(argv=None) -> dict:
    args, preset, out = start("memory_capacity", Preset(), argv, __doc__)
    return compare("memory_capacity", {c: functools.partial(_cell, c) for c in CELLS}, args, preset, out)


def _cell(cell: str, preset: Preset) -> SequenceModel:
    return SequenceModel(cell, hidden=preset.hidden)


if __name__ == "__main__":
    run()
