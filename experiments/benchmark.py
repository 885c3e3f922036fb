"""`make bench`: jaxnets vs the seed's NumPy loop vs PyTorch-CPU on the seed preset, same work.

Rows (one run each, this machine, ratios against the NumPy loop that does the text's per-epoch work;
a lean NumPy loop that skips the text's extra validation pass and sklearn calls is shown beside it):
  * training time with compile excluded, 1 seed, the four seed architectures: each trained alone on
    one device, and as the experiment trains them (a device each, side by side);
  * end-to-end `training_wall_seconds` of `architecture_comparison --preset seed --seeds 1`, with an
    empty persistent compile cache (cold) and again with it filled (warm), each in a fresh process;
  * N = 8 seeds: one program per model with the member axis on 1 device and on 2 devices, vs N
    sequential runs sharing one compile vs N cold runs;
  * the training program's temporary memory for 1k vs 16k examples (it must not grow with the data);
  * achieved GFLOP/s of the Wide model vs this machine's measured float32 matmul peak;
  * the sequence rows of `experiments.bench_sequences` (Transformer, LSTM, GRU: jaxnets vs PyTorch);
  * `experiments.bench_training`: a 32-member learning-rate sweep in one program vs one setting, and
    the training-time cost of diagnostics;
  * `experiments.bench_serving`: the prediction CLI's rows/s and the HTTP endpoint under a bounded
    load (requests/s, p50/p99 latency, errors, malformed requests answered 4xx).
The headline figures also go into results.json's `ratios` object (name -> number).

    python -m experiments.benchmark [--out DIR] [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from experiments import bench_sequences, bench_serving, bench_training
from experiments.architecture_comparison import ARCHITECTURES, PRESETS
from experiments.baselines import numpy_seed, torch_seed
from jaxnets import distributed, setup_cpu
from jaxnets.data import load_embedded, prepare
from jaxnets.models import MLP
from jaxnets.report import markdown_table, write_json
from jaxnets.train import Classification, FitConfig, compile_fit, create_states, fit, make_optimizer


def _splits():
    p = PRESETS["seed"]
    return prepare(load_embedded(p.dataset), test_size=p.test_size, val_size=p.val_size, val_from=p.val_from,
                   seed=p.split_seed)


def _parts(feats):
    model = MLP(feats, activation="relu", kernel_init="xavier_uniform")
    return model, make_optimizer("sgd", 1e-3), Classification(2)


def _mesh(devices: int):
    return distributed.make_mesh(devices=jax.devices()[:devices])


def _jax_run(splits, feats, seeds, epochs, shared=None, devices=1):
    """init + compile + train one architecture for `seeds` as one program on `devices` devices (the
    member axis); returns timings. shared: an earlier call's result whose parts and program are reused."""
    model, tx, obj = (shared["model"], shared["tx"], shared["obj"]) if shared else _parts(feats)
    cfg = FitConfig(epochs=epochs, batch_size=32, progress=False)
    mesh = _mesh(devices)
    t0 = time.perf_counter()
    state = jax.block_until_ready(create_states(model, tx, seeds, splits.train["x"], mesh=mesh))
    init_s = time.perf_counter() - t0
    program = shared["program"] if shared else compile_fit(state, obj, splits.train, splits.val, cfg, mesh=mesh)
    r = fit(state, obj, splits.train, splits.val, cfg, mesh=mesh, program=program)
    return {"init": init_s, "compile": 0.0 if shared else program.compile_seconds, "train": r.train_seconds,
            "total": time.perf_counter() - t0, "program": program, "model": model, "tx": tx, "obj": obj}


def temp_bytes(n_small: int = 1024, factor: int = 16) -> tuple[int, int]:
    """Temporary memory of the training program (XLA's own count: noise-free) for n and factor x n
    examples of 64 features: an MLP (128, 128, 10), batch 256, 2 seeds, one device."""
    sizes = []
    for n in (n_small, factor * n_small):
        rng = np.random.default_rng(0)
        d = {"x": rng.normal(size=(n, 64)).astype(np.float32), "y": rng.integers(0, 10, n).astype(np.int32)}
        model = MLP((128, 128, 10))
        state = create_states(model, make_optimizer("adam", 1e-3), [0, 1], d["x"], mesh=_mesh(1))
        program = compile_fit(state, Classification(10), d, None, FitConfig(epochs=2, batch_size=256, progress=False),
                              mesh=_mesh(1))
        sizes.append(int(program.chunk.memory_analysis().temp_size_in_bytes))
    return sizes[0], sizes[1]


def _experiment_wall(cache: Path, epochs: int) -> dict:
    """architecture_comparison --preset seed --seeds 1 in a fresh process; its results.json."""
    with tempfile.TemporaryDirectory() as out:
        cmd = [sys.executable, "-m", "experiments.architecture_comparison", "--preset", "seed", "--seeds", "1",
               "--epochs", str(epochs), "--out", out, "--cache-dir", str(cache), "--no-progress"]
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        return json.loads((Path(out) / "results.json").read_text())


def matmul_peak_gflops(n: int = 1024, repeats: int = 20) -> float:
    """float32 [n, n] @ [n, n] through XLA on this machine (all cores), best of `repeats`."""
    a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jnp.float32)
    f = jax.jit(lambda a: a @ a)
    jax.block_until_ready(f(a))
    best = min(_timed(lambda: jax.block_until_ready(f(a))) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def mlp_train_flops(widths, n_train: int, n_val: int, epochs: int) -> float:
    """Matmul FLOPs of the seed recipe: forward + backward (3 x 2·n·Σ fan_in·fan_out) per training
    example, plus one forward pass over the validation set, per epoch."""
    macs = sum(a * b for a, b in zip(widths[:-1], widths[1:]))
    return epochs * (3 * 2 * macs * n_train + 2 * macs * n_val)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m experiments.benchmark", description=__doc__)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--quick", action="store_true", help="50 epochs instead of 500 (smoke test)")
    ap.add_argument("--seeds", type=int, default=8, help="N for the N-seeds rows")
    args = ap.parse_args(argv)
    devices = setup_cpu()  # one JAX device per core (2 on the reference machine)
    out = args.out or Path("runs") / "benchmark" / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    epochs = 50 if args.quick else PRESETS["seed"].epochs
    splits = _splits()
    archs = ARCHITECTURES
    res: dict = {"experiment": "benchmark", "preset": "seed", "seeds": 1, "epochs": epochs,
                 "jax_version": jax.__version__, "backend": jax.default_backend(), "cpu_count": os.cpu_count(),
                 "python": platform.python_version(), "machine": platform.machine()}
    print(f"benchmark: seed preset, {epochs} epochs, {len(archs)} architectures", flush=True)

    # 1. The seed's NumPy loop and the PyTorch-CPU peer.
    np_res = numpy_seed.train_seed_architectures(splits, archs, epochs=epochs)
    numpy_s = sum(v["train_seconds"] for v in np_res.values())
    lean_res = numpy_seed.train_seed_architectures(splits, archs, epochs=epochs, lean=True)
    lean_s = sum(v["train_seconds"] for v in lean_res.values())
    torch_res = torch_seed.train_seed_architectures(splits, archs, epochs=epochs) if torch_seed.available() else None
    torch_s = sum(v["train_seconds"] for v in torch_res.values()) if torch_res else None
    print(f"numpy {numpy_s:.2f} s (lean {lean_s:.2f} s), torch {torch_s if torch_s is None else round(torch_s, 2)} s",
          flush=True)

    # 2. End-to-end, fresh processes: cold (empty cache) then warm (same cache).
    with tempfile.TemporaryDirectory() as cache:
        cold = _experiment_wall(Path(cache), epochs)
        warm = _experiment_wall(Path(cache), epochs)
    print(f"cold wall {cold['training_wall_seconds']:.2f} s, warm {warm['training_wall_seconds']:.2f} s", flush=True)

    # 3. N seeds (persistent cache off in this process: every compile here is cold).
    n = args.seeds
    seeds = list(range(n))
    two = min(2, devices)
    one_dev = two_dev = one_dev_train = two_dev_train = sequential = separate = 0.0
    alone = {}  # 1 seed, each model trained alone (nothing else running): the sequential training time
    for name, feats in archs.items():
        jax.clear_caches()
        r = _jax_run(splits, feats, seeds, epochs, devices=1)
        one_dev, one_dev_train = one_dev + r["total"], one_dev_train + r["train"]
        jax.clear_caches()
        r = _jax_run(splits, feats, seeds, epochs, devices=two)  # the member axis split over two devices
        two_dev, two_dev_train = two_dev + r["total"], two_dev_train + r["train"]
        # N sequential runs sharing one compile: one member at a time through one [1]-member program.
        jax.clear_caches()
        t0 = time.perf_counter()
        first = _jax_run(splits, feats, [0], epochs)
        alone[name] = first["train"]
        for s in seeds[1:]:
            _jax_run(splits, feats, [s], epochs, shared=first)
        sequential += time.perf_counter() - t0
    for _ in seeds:  # N separate cold runs of all four architectures
        for feats in archs.values():
            jax.clear_caches()
            separate += _jax_run(splits, feats, [0], epochs)["total"]
    print(f"N={n}: 1 device {one_dev:.2f} s (train {one_dev_train:.2f}), {two} devices {two_dev:.2f} s "
          f"(train {two_dev_train:.2f}), sequential-shared {sequential:.2f} s, separate-cold {separate:.2f} s",
          flush=True)
    small_bytes, big_bytes = temp_bytes()

    train_seq = sum(alone.values())

    # 4. GFLOP/s of Wide (1 seed, trained alone so no other thread shares the cores) vs the matmul peak.
    peak = matmul_peak_gflops()
    flops = mlp_train_flops([30, *archs["wide"]], len(splits.train["y"]), len(splits.val["y"]), epochs)
    gflops = flops / alone["wide"] / 1e9

    # 5. Sequence models against PyTorch-CPU, and the Transformer's fraction of the matmul peak.
    sequences = bench_sequences.measure_all(quick=args.quick)

    # 6. A hyper-parameter sweep as one program; the cost of diagnostics.
    sweeps = bench_training.measure(quick=args.quick)

    # 7. The exported model behind the prediction CLI and the HTTP endpoint.
    serving = bench_serving.measure(quick=args.quick)

    tw, ph = cold["training_wall_seconds"], cold["lane_train_seconds"]
    vs_lean = lambda t: f"vs lean NumPy {lean_s / t:.1f}×"
    rows = [
        ["seed NumPy loop (the text's per-epoch work): train, 4 models", f"{numpy_s:.3f}", "1.0×", "reference"],
        ["NumPy loop, lean (np.mean accuracy, one validation pass)", f"{lean_s:.3f}", f"{numpy_s / lean_s:.2f}×",
         "a stronger baseline than the text's code"],
        ["PyTorch-CPU loop: train, 4 models", "–" if torch_s is None else f"{torch_s:.3f}",
         "–" if torch_s is None else f"{numpy_s / torch_s:.2f}×", "torch not installed" if torch_s is None else ""],
        ["jaxnets train, compile excluded, models one after another (each alone)", f"{train_seq:.3f}",
         f"{numpy_s / train_seq:.1f}×",
         (f"vs PyTorch {torch_s / train_seq:.1f}×, " if torch_s else "") + vs_lean(train_seq)],
        ["jaxnets train, compile excluded, as the experiment runs (busiest lane)", f"{ph:.3f}",
         f"{numpy_s / ph:.1f}×",
         (f"vs PyTorch {torch_s / ph:.1f}×, " if torch_s else "") + vs_lean(ph)],
        ["jaxnets end-to-end, cold compile (training_wall_seconds)", f"{tw:.3f}", f"{numpy_s / tw:.2f}×",
         vs_lean(tw) + "; init+compile per model: " + ", ".join(
             f"{k} {m['init_seconds'] + m['compile_seconds']:.2f}" for k, m in cold["models"].items())],
        ["jaxnets end-to-end, warm persistent cache", f"{warm['training_wall_seconds']:.3f}",
         f"{numpy_s / warm['training_wall_seconds']:.2f}×", vs_lean(warm["training_wall_seconds"])
         + "; compile per model: " + ", ".join(f"{k} {m['compile_seconds']:.2f}" for k, m in warm["models"].items())],
        [f"N={n} seeds, one program per model, members on 1 device (cold)", f"{one_dev:.3f}", "",
         f"{sequential / one_dev:.2f}× faster than sequential, {separate / one_dev:.2f}× than separate cold; "
         f"training {one_dev_train:.3f} s"],
        [f"N={n} seeds, one program per model, members on {two} devices (cold)", f"{two_dev:.3f}", "",
         f"training {two_dev_train:.3f} s: {one_dev_train / two_dev_train:.2f}× the 1-device training; "
         f"{separate / two_dev:.2f}× faster than separate cold"],
        [f"N={n} sequential runs sharing one compile", f"{sequential:.3f}", "", ""],
        [f"N={n} separate cold runs", f"{separate:.3f}", "", ""],
        ["both cores: training wall / Σ(init+compile+train)",
         f"{tw:.3f} / {cold['sum_compile_plus_train_seconds']:.3f}",
         f"{tw / cold['sum_compile_plus_train_seconds']:.2f}", "≤ 0.7 wanted"],
        ["training program temporary memory, 1k vs 16k examples", f"{small_bytes:,} / {big_bytes:,} B",
         f"{big_bytes / small_bytes:.3f}", "must not grow with the data"],
        ["Wide model achieved GFLOP/s vs float32 matmul peak", f"{gflops:.1f} / {peak:.1f}",
         f"{100 * gflops / peak:.0f} %", f"{flops / 1e9:.1f} GFLOP in {alone['wide']:.3f} s"],
    ]
    table = markdown_table(["row", "seconds", "ratio", "notes"], rows)
    seq_table = markdown_table(bench_sequences.HEADERS, bench_sequences.rows(sequences))
    seq_table += "\n" + markdown_table(bench_training.HEADERS, bench_training.rows(sweeps))
    seq_table += "\n" + markdown_table(bench_serving.HEADERS, bench_serving.rows(serving))
    res.update({
        "numpy": np_res, "numpy_train_seconds": numpy_s, "numpy_lean": lean_res, "numpy_lean_train_seconds": lean_s,
        "torch": torch_res, "torch_train_seconds": torch_s,
        "jaxnets_train_seconds_sequential": train_seq, "jaxnets_train_seconds_alone": alone,
        "jaxnets_lane_train_seconds": ph,
        "cold": {k: cold[k] for k in ("training_wall_seconds", "lane_train_seconds",
                                      "sum_compile_plus_train_seconds")},
        "warm": {k: warm[k] for k in ("training_wall_seconds", "lane_train_seconds",
                                      "sum_compile_plus_train_seconds")},
        "models": cold["models"],
        "training_wall_seconds": tw,
        "n_seeds": {"n": n, "one_device_seconds": one_dev, "one_device_train_seconds": one_dev_train,
                    "devices": two, "two_device_seconds": two_dev, "two_device_train_seconds": two_dev_train,
                    "sequential_shared_compile_seconds": sequential, "separate_cold_seconds": separate},
        "temp_bytes": {"1k": small_bytes, "16k": big_bytes},
        "device_count": devices,
        "wide_gflops": gflops, "matmul_peak_gflops": peak, "wide_flops": flops,
        "table": rows,
        "ratios": {
            "members_2dev_speedup": one_dev_train / two_dev_train,
            "members_2dev_speedup_with_compile": one_dev / two_dev,
            "train_vs_numpy": numpy_s / ph,
            "train_alone_vs_numpy": numpy_s / train_seq,
            "end_to_end_cold_vs_numpy": numpy_s / tw,
            "end_to_end_warm_vs_numpy": numpy_s / warm["training_wall_seconds"],
            "train_vs_torch": None if torch_s is None else torch_s / ph,
            "seeds_one_program_vs_separate_cold": separate / two_dev,
            "temp_bytes_growth_16x_data": big_bytes / small_bytes,
            "wide_peak_fraction": gflops / peak,
            **sequences["ratios"],
            **sweeps["ratios"],
            **serving["ratios"],
        },
        "sequences": sequences,
        "sweep": sweeps,
        "serving": serving,
    })
    for m in res["models"].values():
        m.pop("report_seed0", None)
    write_json(out / "results.json", res)
    (out / "results.md").write_text(f"**benchmark** · {platform.machine()} · {os.cpu_count()} cores · jax "
                                    f"{jax.__version__} · {epochs} epochs\n\n" + table + "\n" + seq_table)
    print(table + "\n" + seq_table)
    print(f"wrote {out}/results.json, results.md")
    return res


if __name__ == "__main__":
    main()


run = main
