"""Shared setup of the standalone experiments (sequence tasks that are not one classification
comparison): a small CLI, presets with --quick/--seeds, the compile cache, the output folder, and
the environment fields every results.json carries."""
from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path

import jax

from jaxnets import enable_compile_cache, setup_cpu
from jaxnets.report import write_json


def parse_args(name: str, argv: Sequence[str] | None, doc: str | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=f"python -m experiments.{name}", description=doc)
    p.add_argument("--seeds", type=int, default=None, help="number of seeds (members of one vmapped program)")
    p.add_argument("--quick", action="store_true", help="smoke test: a small version of the experiment")
    p.add_argument("--out", type=Path, default=None, help="output folder (default runs/<experiment>/<time>/)")
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1), help="models trained concurrently")
    p.add_argument("--devices", type=int, default=None, help="split the CPU into this many JAX devices (default: "
                   "one per core)")
    p.add_argument("--no-compile-cache", action="store_true", help="disable the persistent XLA cache")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = p.parse_args(argv)
    for k in ("seeds", "workers", "devices"):
        if getattr(args, k) is not None and getattr(args, k) < 1:
            p.error(f"--{k} must be >= 1, got {getattr(args, k)}")
    return args


def start(name: str, preset, argv: Sequence[str] | None, doc: str | None = None):
    """-> (args, preset after --quick/--seeds, output folder). Splits the CPU into devices and turns on
    the compile cache."""
    args = parse_args(name, argv, doc)
    setup_cpu(args.devices)
    if args.quick:
        preset = preset.quick()
    if args.seeds is not None:
        preset = dataclasses.replace(preset, seeds=args.seeds)
    if not args.no_compile_cache:
        enable_compile_cache()
    out = args.out or Path("runs") / name / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    return args, preset, out


def header(name: str, args, preset) -> dict:
    """The fields every results.json starts with."""
    return {"experiment": name, "preset": "quick" if args.quick else "default", "seeds": preset.seeds,
            "preset_config": dataclasses.asdict(preset), "jax_version": jax.__version__,
            "backend": jax.default_backend(), "cpu_count": os.cpu_count(), "python": platform.python_version()}


def finish(out: Path, results: dict, table: str) -> dict:
    """Write results.json and results.md (the table), print the table and what the folder holds."""
    write_json(out / "results.json", results)
    (out / "results.md").write_text(table)
    print(table)
    print(f"wrote {out}/: {', '.join(sorted(p.name for p in out.iterdir() if p.is_file()))}")
    return results
