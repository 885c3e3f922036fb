"""`make bench`'s sweep row: a 32-member hyper-parameter sweep in one program against one setting.

    python -m experiments.bench_sweep [--out DIR] [--quick]

Workload: the text's breast-cancer MLP (30 → 16 → 8 → 1, ReLU, Xavier, plain SGD, batch 32) on the
seed preset's split. `jaxnets.train.sweep` over 8 learning rates × 4 seeds (32 members, one compiled
program sharded over all devices), against the same call with one learning rate and one seed. Each
side is timed as a user sees it (init, training, evaluation of every member on val and test): cold
(the first call, compiles included) and warm (best of `repeats` later calls, compiled programs
reused). `sweep_32_vs_single` is the warm ratio.
"""
from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np

from jaxnets import setup_cpu
from jaxnets.report import markdown_table, write_json

LEARNING_RATES = tuple(float(v) for v in np.logspace(-4, -0.5, 8))
SEEDS = (0, 1, 2, 3)


def _call(splits, grid, seeds, epochs):
    from jaxnets.models import MLP
    from jaxnets.train import Classification, FitConfig, sweep

    model = MLP((16, 8, 1), activation="relu", kernel_init="xavier_uniform")
    t0 = time.perf_counter()
    res = sweep(model, Classification(2), "sgd", grid, splits.train, splits.val,
                FitConfig(epochs=epochs, batch_size=32, progress=False), seeds=seeds, test=splits.test)
    return time.perf_counter() - t0, res


def measure(quick: bool = False, repeats: int = 3) -> dict:
    """Both sides, cold then warm; -> {"sweep": ..., "single": ..., "ratios": {...}}."""
    import jax

    from experiments.benchmark import _splits

    splits = _splits()
    epochs = 20 if quick else 100
    sides = {"sweep": ({"learning_rate": list(LEARNING_RATES)}, SEEDS),
             "single": ({"learning_rate": [LEARNING_RATES[4]]}, SEEDS[:1])}
    out = {}
    for name, (grid, seeds) in sides.items():
        cold, _ = _call(splits, grid, seeds, epochs)
        calls = [_call(splits, grid, seeds, epochs) for _ in range(repeats)]
        warm = [t for t, _ in calls]
        res = calls[int(np.argmin(warm))][1]
        out[name] = {"members": len(grid["learning_rate"]) * len(seeds), "epochs": epochs, "cold_seconds": cold,
                     "warm_seconds": min(warm), "all_warm_seconds": warm, "best": res.best,
                     "train_seconds": sum(r.train_seconds for _, r in res.fits)}
    out["devices"] = jax.device_count()
    out["ratios"] = {"sweep_32_vs_single": out["sweep"]["warm_seconds"] / out["single"]["warm_seconds"],
                     "sweep_32_vs_single_cold": out["sweep"]["cold_seconds"] / out["single"]["cold_seconds"]}
    return out


def rows(res: dict) -> list[list]:
    out = []
    for name in ("sweep", "single"):
        r = res[name]
        what = (f"{r['members']} members (8 learning rates × 4 seeds)" if name == "sweep"
                else "1 member (one learning rate, one seed)")
        out.append([f"sweep(): {what}, {r['epochs']} epochs", f"{r['warm_seconds']:.3f}", f"{r['cold_seconds']:.3f}",
                    f"training {r['train_seconds']:.3f} s on {res['devices']} devices"])
    ratio = res["ratios"]
    out.append(["sweep / single", f"{ratio['sweep_32_vs_single']:.2f}×", f"{ratio['sweep_32_vs_single_cold']:.2f}×",
                "< 4× wanted"])
    return out


HEADERS = ["row", "warm seconds", "cold seconds (compiles included)", "notes"]


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m experiments.bench_sweep", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--quick", action="store_true", help="20 epochs, 1 warm repeat (smoke test)")
    args = ap.parse_args(argv)
    setup_cpu()
    import jax

    out = args.out or Path("runs") / "bench_sweep" / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    res = measure(args.quick, 1 if args.quick else 3)
    table = markdown_table(HEADERS, rows(res))
    write_json(out / "results.json", {"experiment": "bench_sweep", "jax_version": jax.__version__,
                                      "cpu_count": os.cpu_count(), "machine": platform.machine(), **res,
                                      "table": rows(res)})
    (out / "results.md").write_text(f"**bench_sweep** · {platform.machine()} · {os.cpu_count()} cores · jax "
                                    f"{jax.__version__}\n\n" + table)
    print(table)
    print(f"wrote {out}/results.json, results.md")
    return res


if __name__ == "__main__":
    main()


run = main
