"""The command line every experiment shares (base_parser), and the setup of the standalone
experiments (sequence, autoencoder and GAN tasks that are not one classification comparison):
presets with --quick/--seeds/--epochs, the compile cache, the output folder, and the environment
fields every results.json carries."""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import jax

from jaxnets import enable_compile_cache, setup_cpu
from jaxnets.checkpoint import Checkpointer
from jaxnets.report import write_json
from jaxnets.train import FitConfig, fit


def base_parser(name: str, doc: str | None) -> argparse.ArgumentParser:
    """The options every experiment takes; `doc` (the experiment module's docstring) is its --help text."""
    p = argparse.ArgumentParser(prog=f"python -m experiments.{name}", description=doc,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=None, help="number of seeds (members of one vmapped program)")
    p.add_argument("--epochs", type=int, default=None, help="override the preset's epochs")
    p.add_argument("--quick", action="store_true", help="smoke test: a small version of the experiment")
    p.add_argument("--out", type=Path, default=None, help="output folder (default runs/<experiment>/<time>/)")
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1),
                   help="models built and trained concurrently (host threads)")
    p.add_argument("--devices", type=int, default=None,
                   help="split the CPU into this many JAX devices (default: one per core; ignored on GPU/TPU)")
    p.add_argument("--no-compile-cache", action="store_true", help="disable the persistent XLA cache")
    p.add_argument("--cache-dir", type=Path, default=None, help="persistent XLA cache folder")
    p.add_argument("--no-progress", action="store_true", help="no progress output")
    p.add_argument("--checkpoint-every", type=int, default=None, metavar="K",
                   help="save an Orbax checkpoint of every model each K epochs")
    p.add_argument("--resume", type=Path, default=None, metavar="DIR",
                   help="continue the run in DIR from its last complete checkpoints")
    return p


def saved_config(name: str, run_dir: Path) -> dict:
    """config.json of the run in `run_dir` that --resume continues; clear errors for a wrong folder."""
    path = run_dir / "config.json"
    if not path.exists():
        raise FileNotFoundError(f"--resume {run_dir}: no config.json there (not a run folder?)")
    cfg = json.loads(path.read_text())
    if cfg["experiment"] != name:
        raise ValueError(f"--resume {run_dir} is a run of {cfg['experiment']!r}, not {name!r}")
    return cfg


def checkpoints(args: argparse.Namespace, out: Path) -> Callable[[str, FitConfig], tuple[FitConfig, dict]]:
    """For one run: (model name, config) -> (config, fit() keyword arguments) that checkpoint that
    model under out/checkpoints/<name> every --checkpoint-every epochs and, under --resume, continue
    it from its latest complete checkpoint. Without --checkpoint-every: unchanged, no arguments."""
    def for_model(model: str, config: FitConfig) -> tuple[FitConfig, dict]:
        if not args.checkpoint_every:
            return config, {}
        folder = re.sub(r"[^A-Za-z0-9_.-]+", "_", model)
        ck = Checkpointer(out / "checkpoints" / folder, meta={"model": model})
        resume = args.resume is not None and ck.latest_epoch() is not None
        return dataclasses.replace(config, checkpoint_every=args.checkpoint_every), {"checkpointer": ck,
                                                                                     "resume": resume}
    return for_model


def parse_checked(p: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse, and refuse counts below 1 naming the option."""
    args = p.parse_args(argv)
    for k in ("seeds", "epochs", "checkpoint_every", "workers", "devices"):
        v = getattr(args, k, None)
        if v is not None and v < 1:
            p.error(f"--{k.replace('_', '-')} must be >= 1, got {v}")
    return args


def checkpointed_fit(checkpoints, state, objective, train: dict, val: dict | None, config: FitConfig, name: str):
    """fit() with the run's checkpointing: `checkpoints` is a run's `args.checkpoints` (None: none)."""
    config, kw = checkpoints(name, config) if checkpoints is not None else (config, {})
    return fit(state, objective, train, val, config, name=name, **kw)


def start(name: str, preset, argv: Sequence[str] | None, doc: str | None = None):
    """-> (args, preset after --quick/--seeds/--epochs, output folder). Splits the CPU into devices,
    turns on the compile cache and writes config.json. Under --resume DIR the run's own options come
    back from DIR/config.json. `args.checkpoints(model, config)` gives each fit its checkpointing
    (see `checkpoints`)."""
    parser = base_parser(name, doc)
    args = parse_checked(parser, argv)
    if args.resume is not None:  # the interrupted run's options, in its folder
        resume, no_progress = args.resume, args.no_progress
        args = parse_checked(parser, saved_config(name, resume)["argv"])
        args.resume, args.out, args.no_progress = resume, resume, no_progress
    setup_cpu(args.devices)
    if args.quick:
        preset = preset.quick()
    if args.seeds is not None:
        preset = dataclasses.replace(preset, seeds=args.seeds)
    if args.epochs is not None:
        preset = dataclasses.replace(preset, epochs=args.epochs)
    if not args.no_compile_cache:
        enable_compile_cache(args.cache_dir)
    out = args.out or Path("runs") / name / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    if args.resume is None:
        given = list(sys.argv[1:] if argv is None else argv)
        write_json(out / "config.json", {"experiment": name, "argv": given, "preset_config": dataclasses.asdict(preset),
                                         "checkpoint_every": args.checkpoint_every,
                                         "command": " ".join(["python", "-m", f"experiments.{name}", *given])})
    args.checkpoints = checkpoints(args, out)
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


def bench_folder(name: str, out: Path | None) -> Path:
    """A benchmark's output folder: --out, else runs/<name>/<time>/."""
    out = out or Path("runs") / name / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    return out


def write_bench(name: str, out: Path, res: dict, headers: list[str], rows: list[list]) -> dict:
    """A benchmark's results.json (with the machine it ran on) and results.md; prints the table."""
    from jaxnets.report import markdown_table

    table = markdown_table(headers, rows)
    results = {"experiment": name, "jax_version": jax.__version__, "backend": jax.default_backend(),
               "cpu_count": os.cpu_count(), "machine": platform.machine(), **res, "table": rows}
    write_json(out / "results.json", results)
    (out / "results.md").write_text(f"**{name}** · {platform.machine()} · {os.cpu_count()} cores · jax "
                                    f"{jax.__version__}\n\n" + table)
    print(table)
    print(f"wrote {out}/results.json, results.md")
    return results
