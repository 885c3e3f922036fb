"""`make bench`'s training-tool rows: a hyper-parameter sweep as one program, and the cost of diagnostics.

    python -m experiments.bench_training [--out DIR] [--quick]

Workload: the text's breast-cancer MLP (30 → 16 → 8 → 1, ReLU, Xavier, plain SGD, batch 32) on the
seed preset's split.
  * `sweep_32_vs_single`: `jaxnets.train.sweep` over 8 learning rates × 4 seeds (32 members, one
    compiled program sharded over all devices) against the same call with one learning rate and one
    seed on 2 CPU devices (the default mesh: one member's batches split over the devices), and
    `sweep_32_vs_single_one_device` against that setting on one device, which for this small network
    is faster than the default mesh (the split costs more than it saves). Each side is timed as a
    user sees it (init, training, evaluation of every member on val and test): cold (the first call,
    compiles included) and warm (best of `repeats` later calls, compiled programs reused); the
    headline is the warm ratio.
  * `diagnostics_overhead`: training time (compile excluded) of 8 seeds with FitConfig(diagnostics=True)
    over the same fit without, best of `repeats` each, the two taking turns.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from experiments.standalone import bench_folder, write_bench
from jaxnets import setup_cpu

LEARNING_RATES = tuple(float(v) for v in np.logspace(-4, -0.5, 8))
SEEDS = (0, 1, 2, 3)


def _call(splits, grid, seeds, epochs, mesh=None):
    from jaxnets.models import MLP
    from jaxnets.train import Classification, FitConfig, sweep

    model = MLP((16, 8, 1), activation="relu", kernel_init="xavier_uniform")
    t0 = time.perf_counter()
    res = sweep(model, Classification(2), "sgd", grid, splits.train, splits.val,
                FitConfig(epochs=epochs, batch_size=32, progress=False), seeds=seeds, test=splits.test, mesh=mesh)
    return time.perf_counter() - t0, res


def measure(quick: bool = False, repeats: int = 3) -> dict:
    """Each side cold, then warm; -> {"sweep", "single_default_mesh", "single_one_device", "diagnostics",
    "ratios"}."""
    import jax

    from experiments.benchmark import _splits
    from jaxnets import distributed

    splits = _splits()
    epochs = 5 if quick else 100
    one = distributed.make_mesh(devices=jax.devices()[:1])
    sides = {"sweep": ({"learning_rate": list(LEARNING_RATES)}, SEEDS, None),
             "single_default_mesh": ({"learning_rate": [LEARNING_RATES[4]]}, SEEDS[:1], None),
             "single_one_device": ({"learning_rate": [LEARNING_RATES[4]]}, SEEDS[:1], one)}
    out = {}
    for name, (grid, seeds, mesh) in sides.items():
        cold, _ = _call(splits, grid, seeds, epochs, mesh)
        calls = [_call(splits, grid, seeds, epochs, mesh) for _ in range(repeats)]
        warm = [t for t, _ in calls]
        res = calls[int(np.argmin(warm))][1]
        out[name] = {"members": len(grid["learning_rate"]) * len(seeds), "epochs": epochs, "cold_seconds": cold,
                     "warm_seconds": min(warm), "all_warm_seconds": warm, "best": res.best,
                     "train_seconds": sum(r.train_seconds for _, r in res.fits)}
    out["devices"] = jax.device_count()
    out["diagnostics"] = diagnostics_cost(splits, epochs, repeats)
    sweep, single, one = out["sweep"], out["single_default_mesh"], out["single_one_device"]
    out["ratios"] = {"sweep_32_vs_single": sweep["warm_seconds"] / single["warm_seconds"],
                     "sweep_32_vs_single_cold": sweep["cold_seconds"] / single["cold_seconds"],
                     "sweep_32_vs_single_one_device": sweep["warm_seconds"] / one["warm_seconds"],
                     "sweep_32_vs_single_one_device_cold": sweep["cold_seconds"] / one["cold_seconds"],
                     "diagnostics_overhead": out["diagnostics"]["on_seconds"] / out["diagnostics"]["off_seconds"]}
    return out


def diagnostics_cost(splits, epochs: int, repeats: int, seeds: int = 8) -> dict:
    """Training seconds (compile excluded) of `seeds` members with and without diagnostics."""
    from jaxnets.models import MLP
    from jaxnets.train import Classification, FitConfig, compile_fit, create_states, fit, make_optimizer

    model = MLP((16, 8, 1), activation="relu", kernel_init="xavier_uniform")
    state = create_states(model, make_optimizer("sgd", 1e-2), range(seeds), splits.train["x"])
    runs = {}
    for on in (False, True):
        cfg = FitConfig(epochs=epochs, batch_size=32, progress=False, diagnostics=on)
        program = compile_fit(state, Classification(2), splits.train, splits.val, cfg)
        runs[on] = (cfg, program, [])
    for _ in range(repeats):
        for cfg, program, times in runs.values():
            times.append(fit(state, Classification(2), splits.train, splits.val, cfg, program=program).train_seconds)
    return {"seeds": seeds, "epochs": epochs, "off_seconds": min(runs[False][2]), "on_seconds": min(runs[True][2]),
            "all_off_seconds": runs[False][2], "all_on_seconds": runs[True][2]}


def rows(res: dict) -> list[list]:
    out = []
    for name, what, where in (("sweep", "32 members (8 learning rates × 4 seeds)", f"{res['devices']} devices"),
                              ("single_default_mesh", "1 member (one learning rate, one seed)",
                               f"{res['devices']} devices, the batch split over them"),
                              ("single_one_device", "1 member, one device", "1 device")):
        r = res[name]
        out.append([f"sweep(): {what}, {r['epochs']} epochs", f"{r['warm_seconds']:.3f}", f"{r['cold_seconds']:.3f}",
                    f"training {r['train_seconds']:.3f} s on {where}"])
    ratio, diag = res["ratios"], res["diagnostics"]
    out.append(["sweep / single on the default mesh", f"{ratio['sweep_32_vs_single']:.2f}×",
                f"{ratio['sweep_32_vs_single_cold']:.2f}×", "< 4× wanted"])
    out.append(["sweep / single on one device", f"{ratio['sweep_32_vs_single_one_device']:.2f}×",
                f"{ratio['sweep_32_vs_single_one_device_cold']:.2f}×", ""])
    out.append([f"fit, {diag['seeds']} seeds, {diag['epochs']} epochs: diagnostics on / off",
                f"{diag['on_seconds']:.3f} / {diag['off_seconds']:.3f}", "–",
                f"training time (compile excluded): {ratio['diagnostics_overhead']:.2f}×, < 1.25× wanted"])
    return out


HEADERS = ["row", "warm seconds", "cold seconds (compiles included)", "notes"]


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m experiments.bench_training", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--quick", action="store_true", help="5 epochs, 1 warm repeat (smoke test)")
    args = ap.parse_args(argv)
    setup_cpu()
    out = bench_folder("bench_training", args.out)
    res = measure(args.quick, 1 if args.quick else 3)
    write_bench("bench_training", out, res, HEADERS, rows(res))
    return res


if __name__ == "__main__":
    main()


run = main
