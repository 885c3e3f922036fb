"""Forecasting a real series: yearly sunspot numbers (statsmodels, 1700–2008), split in time.

    python -m experiments.forecasting [--seeds N] [--quick]

RNN / LSTM / GRU read the last WINDOW years and predict the next one, trained on targets up to
SPLIT_YEAR (the last 15 % of those windows validate early stopping) and tested on the years after.
One-step: every test year from its true history. Multi-step: from each test origin, HORIZON years
ahead, feeding predictions back. Baselines: naive (last value) and seasonal naive (the value one
solar cycle, CYCLE years, earlier). MAE / RMSE in sunspot units.
"""
from __future__ import annotations

import dataclasses
import time
from concurrent.futures import ThreadPoolExecutor

import jax
import numpy as np

from experiments.standalone import checkpointed_fit, finish, header, start
from jaxnets.data.timeseries import load_sunspots, make_windows
from jaxnets.models.rnn import CELLS, SequenceModel
from jaxnets.plots import line_plot
from jaxnets.report import fmt_stat, markdown_table
from jaxnets.train import FitConfig, Regression, create_states, make_optimizer, predict_logits, summarize

WINDOW, SPLIT_YEAR, HORIZON, CYCLE = 22, 1950, 11, 11


@dataclasses.dataclass(frozen=True)
class Preset:
    hidden: int = 32
    epochs: int = 300
    patience: int = 30
    batch_size: int = 32
    learning_rate: float = 3e-3
    seeds: int = 5

    def quick(self) -> Preset:
        return dataclasses.replace(self, epochs=5, seeds=2)


def _errors(pred: np.ndarray, true: np.ndarray) -> tuple[float, float]:
    err = pred - true
    return float(np.abs(err).mean()), float(np.sqrt((err ** 2).mean()))


def recursive_forecast(state, history: np.ndarray, horizon: int) -> np.ndarray:
    """history: [origins, WINDOW] scaled values -> [members, origins, horizon] forecasts."""
    members = state.num_members
    window = np.broadcast_to(history, (members, *history.shape)).copy()
    out = []
    for _ in range(horizon):
        step = np.stack([np.asarray(predict_logits(jax.tree_util.tree_map(lambda a, i=i: a[i], state),
                                                   window[i][..., None]))[:, 0] for i in range(members)])
        out.append(step)
        window = np.concatenate([window[:, :, 1:], step[..., None]], axis=2)
    return np.stack(out, axis=-1)


def run(argv=None) -> dict:
    args, preset, out = start("forecasting", Preset(), argv, __doc__)

    years, series = load_sunspots()
    n_train_years = int(np.searchsorted(years, SPLIT_YEAR, side="right"))
    mean, std = series[:n_train_years].mean(), series[:n_train_years].std()  # train statistics only
    scaled = (series - mean) / std
    x, y = make_windows(scaled, WINDOW)
    target_year = years[WINDOW:]
    train_idx = np.flatnonzero(target_year <= SPLIT_YEAR)
    test_idx = np.flatnonzero(target_year > SPLIT_YEAR)
    n_val = int(round(0.15 * len(train_idx)))
    tr = {"x": x[train_idx[:-n_val]], "y": y[train_idx[:-n_val]]}
    va = {"x": x[train_idx[-n_val:]], "y": y[train_idx[-n_val:]]}
    true = series[WINDOW:][test_idx]
    # Multi-step origins: the last observed year t (history up to t), forecasting t+1..t+HORIZON.
    origins = np.arange(n_train_years - 1, len(series) - HORIZON)
    history = np.stack([scaled[o - WINDOW + 1:o + 1] for o in origins])
    future = np.stack([series[o + 1:o + 1 + HORIZON] for o in origins])

    def train(cell: str) -> dict:
        model = SequenceModel(cell, hidden=preset.hidden)
        tx = make_optimizer("adam", preset.learning_rate, clip_norm=1.0)
        state = create_states(model, tx, range(preset.seeds), tr["x"])
        config = FitConfig(epochs=preset.epochs, batch_size=preset.batch_size, patience=preset.patience,
                           progress=not args.no_progress)
        fr = checkpointed_fit(args.checkpoints, state, Regression(), tr, va, config, cell)
        one = np.asarray(predict_logits(fr.state, x[test_idx]))[..., 0] * std + mean  # [members, n_test]
        multi = recursive_forecast(fr.state, history, HORIZON) * std + mean
        errs = [_errors(one[i], true) for i in range(preset.seeds)]
        merrs = [_errors(multi[i], future) for i in range(preset.seeds)]
        return {"one_step_mae": summarize([e[0] for e in errs]), "one_step_rmse": summarize([e[1] for e in errs]),
                "multi_step_mae": summarize([e[0] for e in merrs]), "multi_step_rmse": summarize([e[1] for e in merrs]),
                "train_seconds": fr.train_seconds, "compile_seconds": fr.compile_seconds,
                "epochs_run": summarize(fr.epochs_run), "_one_step": one}

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        models = dict(zip(CELLS, pool.map(train, CELLS)))
    wall = time.perf_counter() - t0

    prev = series[WINDOW - 1:-1][test_idx]
    seasonal = series[WINDOW - CYCLE:len(series) - CYCLE][test_idx]
    naive_multi = np.repeat(series[origins][:, None], HORIZON, axis=1)
    seasonal_multi = np.stack([series[o + 1 - CYCLE:o + 1 - CYCLE + HORIZON] for o in origins])
    for name, one, multi in (("naive", prev, naive_multi), ("seasonal_naive", seasonal, seasonal_multi)):
        (mae, rmse), (mmae, mrmse) = _errors(one, true), _errors(multi, future)
        models[name] = {"one_step_mae": summarize([mae]), "one_step_rmse": summarize([rmse]),
                        "multi_step_mae": summarize([mmae]), "multi_step_rmse": summarize([mrmse]),
                        "_one_step": one[None]}

    test_years = target_year[test_idx]
    line_plot(test_years, {"actual": true[None], **{n: m["_one_step"] for n, m in models.items()}},
              out / "one_step_forecasts.png", xlabel="year", ylabel="sunspot number",
              title=f"one-step forecasts after {SPLIT_YEAR} (mean, min–max over seeds)")
    for m in models.values():
        m.pop("_one_step")
    results = {**header("forecasting", args, preset), "series": "statsmodels sunspots (yearly, 1700-2008)",
               "window": WINDOW, "split_year": SPLIT_YEAR, "horizon": HORIZON, "train_windows": len(tr["y"]),
               "val_windows": len(va["y"]), "test_years": len(test_idx), "multi_step_origins": len(origins),
               "models": models, "training_wall_seconds": wall}
    rows = [[n, fmt_stat(m["one_step_mae"], 2), fmt_stat(m["one_step_rmse"], 2), fmt_stat(m["multi_step_mae"], 2),
             fmt_stat(m["multi_step_rmse"], 2)] for n, m in models.items()]
    table = (f"**forecasting** · sunspots, train ≤ {SPLIT_YEAR}, test {test_years[0]}–{test_years[-1]} · window "
             f"{WINDOW} · {preset.seeds} seeds · wall {wall:.0f} s\n\n"
             + markdown_table(["model", "1-step MAE", "1-step RMSE", f"1–{HORIZON}-step MAE", f"1–{HORIZON}-step RMSE"],
                              rows))
    return finish(out, results, table)


if __name__ == "__main__":
    run()
