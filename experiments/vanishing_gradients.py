"""Vanishing gradients, measured: ‖∂loss/∂h_t‖ against t for RNN, LSTM and GRU, at initialisation
and after training on the adding problem (T = 50).

    python -m experiments.vanishing_gradients [--seeds N] [--quick]

The seed's "telephone game": in a vanilla RNN the loss at the end of a sequence barely depends on
early hidden states. The gradient is the total derivative through the recurrence (see
`jaxnets.models.rnn.hidden_gradient_norms`), on 256 training sequences, mean over seeds.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import jax
import jax.numpy as jnp
import numpy as np

from experiments.memory_capacity import Preset as MemoryPreset
from experiments.standalone import checkpointed_fit, finish, header, start
from jaxnets.data.synthetic import adding_problem
from jaxnets.models.rnn import CELLS, SequenceModel, hidden_gradient_norms
from jaxnets.plots import line_plot
from jaxnets.report import markdown_table
from jaxnets.train import FitConfig, Regression, create_states, make_optimizer, predict_logits, summarize

LENGTH = 50
GRAD_EXAMPLES = 256


def gradient_norms(model, params, x, y) -> np.ndarray:
    """[members, T] for stacked params (one compiled program for all members)."""
    fn = jax.jit(jax.vmap(lambda p: hidden_gradient_norms(model, p, x, y)))
    return np.asarray(fn(params))


def study(cell: str, preset: MemoryPreset, progress: bool, checkpoints=None) -> dict:
    tr, va, te = (adding_problem(n, LENGTH, seed=7000 + i)
                  for i, n in enumerate((preset.n_train, preset.n_val, preset.n_test)))
    model = SequenceModel(cell, hidden=preset.hidden)
    tx = make_optimizer("adam", preset.learning_rate, clip_norm=preset.clip_norm)
    state = create_states(model, tx, range(preset.seeds), tr["x"])
    x, y = jnp.asarray(tr["x"][:GRAD_EXAMPLES]), jnp.asarray(tr["y"][:GRAD_EXAMPLES])
    at_init = gradient_norms(model, state.params, x, y)
    config = FitConfig(epochs=preset.epochs, batch_size=preset.batch_size, patience=preset.patience, progress=progress)
    fr = checkpointed_fit(checkpoints, state, Regression(), tr, va, config, cell)
    trained = gradient_norms(model, fr.state.params, x, y)
    pred = np.asarray(predict_logits(fr.state, te["x"]))[..., 0]
    return {
        "grad_norm_init": at_init, "grad_norm_trained": trained,
        "test_mse": summarize(((pred - te["y"][None]) ** 2).mean(axis=1)),
        "train_seconds": fr.train_seconds, "compile_seconds": fr.compile_seconds,
    }


def run(argv=None) -> dict:
    args, preset, out = start("vanishing_gradients", MemoryPreset(), argv, __doc__)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        done = dict(zip(CELLS, pool.map(lambda c: study(c, preset, not args.no_progress, args.checkpoints), CELLS)))
    wall = time.perf_counter() - t0

    models, series, rows = {}, {}, []
    for c, r in done.items():
        entry = {"test_mse": r["test_mse"], "train_seconds": r["train_seconds"],
                 "compile_seconds": r["compile_seconds"]}
        for when in ("init", "trained"):
            g = r[f"grad_norm_{when}"]  # [seeds, T]
            entry[f"grad_norm_{when}"] = {str(t + 1): summarize(g[:, t]) for t in range(g.shape[1])}
            entry[f"first_to_last_{when}"] = summarize(g[:, 0] / g[:, -1])
            series[f"{c} ({when})"] = g
        models[c] = entry
        rows.append([c, f"{entry['first_to_last_init']['mean']:.2e}", f"{entry['first_to_last_trained']['mean']:.2e}",
                     f"{entry['test_mse']['mean']:.4f}"])
    results = {**header("vanishing_gradients", args, preset), "length": LENGTH, "models": models,
               "training_wall_seconds": wall}
    line_plot(list(range(1, LENGTH + 1)), series, out / "gradient_vs_time.png", xlabel="time step t",
              ylabel="‖∂loss/∂h_t‖", logy=True, title=f"adding problem T={LENGTH}: gradient reaching step t")
    table = (f"**vanishing_gradients** · T = {LENGTH} · {preset.seeds} seeds · wall {wall:.0f} s\n\n"
             + markdown_table(["cell", "‖g_1‖/‖g_T‖ at init", "‖g_1‖/‖g_T‖ trained", "test MSE"], rows))
    return finish(out, results, table)


if __name__ == "__main__":
    run()
