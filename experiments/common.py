"""Shared machinery for the comparison experiments: presets, CLI, training, outputs.

An experiment module is thin: it declares its presets and model specs and calls `main()`.
The CPU is split into one JAX device per core (`jaxnets.runtime.setup_cpu`). Each model's seeds
are the members of one program, sharded over a "lane" of devices: every device when the seeds fill
them evenly, else a smaller lane per model with lanes training side by side (`lane_size`; models
spread over lanes by their forward FLOPs, `assign_lanes`). Models are built (traced one at a time,
compiled side by side: XLA releases the GIL) from `workers` host threads, and each lane's host
thread trains its models as soon as they are built, overlapping the later builds.
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import math
import os
import platform
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import flax.linen as nn
import jax
import numpy as np

from experiments.standalone import base_parser, parse_checked, saved_config
from jaxnets import distributed, enable_compile_cache, setup_cpu
from jaxnets.checkpoint import Checkpointer
from jaxnets.data import Splits, load_digit_images, load_embedded, prepare, random_shift
from jaxnets.metrics import evaluate_classifier, forward_flops, throughput
from jaxnets.models import MLP, count_params
from jaxnets.plots import learning_curves, metric_bars
from jaxnets.report import models_table, write_json
from jaxnets.train import (
    Augmented,
    Classification,
    FitConfig,
    FitResult,
    TrainState,
    compile_fit,
    create_states,
    fit,
    make_optimizer,
    make_predict_fn,
    member,
    predict,
    summarize,
)


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """One model of a comparison: an MLP (hidden widths + output width, hidden activation) or any
    linen `module`; augment_shift > 0 trains with random shifts of up to that many pixels."""

    name: str
    features: tuple[int, ...] = ()
    activation: str = "relu"
    module: nn.Module | None = None
    augment_shift: int = 0

    def __post_init__(self):
        if self.module is None and not self.features:
            raise ValueError(f"ModelSpec {self.name!r} needs MLP features or a module")
        if self.augment_shift < 0:
            raise ValueError(f"ModelSpec {self.name!r}: augment_shift must be >= 0, got {self.augment_shift}")

    def build(self, preset: Preset) -> nn.Module:
        if self.module is not None:
            return self.module
        return MLP(self.features, activation=self.activation, kernel_init=preset.init_for(self.activation),
                   dropout_rate=preset.dropout, flatten_input=preset.dataset in IMAGE_DATASETS)

    def describe(self) -> dict:
        if self.module is None:
            return {"kind": "MLP", "features": list(self.features), "activation": self.activation}
        fields = {f.name: getattr(self.module, f.name) for f in dataclasses.fields(self.module)
                  if f.name not in ("parent", "name")}
        return {"kind": type(self.module).__name__, **fields}


# Image datasets: scaled to [0, 1], not standardised per pixel (see jaxnets.data.images).
IMAGE_DATASETS = {"digits_images": load_digit_images}


def load_for(preset: Preset):
    """(dataset, splits) of a preset."""
    if preset.dataset in IMAGE_DATASETS:
        ds, standardize = IMAGE_DATASETS[preset.dataset](), False
    else:
        ds, standardize = load_embedded(preset.dataset), True
    return ds, prepare(ds, test_size=preset.test_size, val_size=preset.val_size, val_from=preset.val_from,
                       seed=preset.split_seed, standardize=standardize)


@dataclasses.dataclass
class Trained:
    """What an experiment's hooks see of one trained model."""

    spec: ModelSpec
    model: nn.Module
    objective: object
    init_state: TrainState
    fit: FitResult


@dataclasses.dataclass(frozen=True)
class Preset:
    """A training recipe. kernel_init="auto": He for (leaky) ReLU, Xavier for sigmoid/tanh.
    restore_best: end with the lowest-validation-loss parameters (False: the last epoch's, as the text)."""

    dataset: str
    optimizer: str
    learning_rate: float
    epochs: int
    batch_size: int = 32
    test_size: float = 0.2
    val_size: float = 0.1
    val_from: str = "train"
    patience: int | None = None
    kernel_init: str = "auto"
    dropout: float = 0.0
    l2: float = 0.0
    seeds: int = 5
    split_seed: int = 42
    restore_best: bool = True

    def __post_init__(self):
        if self.seeds < 1:
            raise ValueError(f"Preset.seeds must be >= 1, got {self.seeds}")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"Preset epochs and batch_size must be >= 1, got {self.epochs}, {self.batch_size}")
        if self.patience is not None and self.val_size <= 0:
            raise ValueError("early stopping (patience) needs a validation split (val_size > 0)")

    def init_for(self, activation: str) -> str:
        if self.kernel_init != "auto":
            return self.kernel_init
        return "he_normal" if activation in ("relu", "leaky_relu") else "xavier_uniform"

    def quick(self) -> Preset:
        """A smoke-test version: few epochs, 2 seeds."""
        return dataclasses.replace(self, epochs=min(self.epochs, 12), seeds=min(self.seeds, 2),
                                   patience=None if self.patience is None else 5)


def parse_args(name: str, presets: dict[str, Preset], argv: Sequence[str] | None) -> argparse.Namespace:
    """The shared options (experiments.standalone.base_parser) plus presets and checkpoints; --help
    shows the experiment's own docstring and what each preset sets."""
    doc = (_experiment_module(name) or sys.modules[__name__]).__doc__ or ""
    listing = "\n".join(f"  {k}: {_describe(v)}" for k, v in sorted(presets.items()))
    p = base_parser(name, f"{doc.strip()}\n\npresets:\n{listing}")
    p.add_argument("--preset", default="default", choices=sorted(presets),
                   help="'seed' = the text's exact recipe; 'default' = what a practitioner would run")
    return parse_checked(p, argv)


def _experiment_module(name: str):
    """experiments.<name>, also when it runs as `python -m` (then it is __main__)."""
    main_mod = sys.modules.get("__main__")
    if getattr(getattr(main_mod, "__spec__", None), "name", None) == f"experiments.{name}":
        return main_mod
    return sys.modules.get(f"experiments.{name}")


def _describe(preset: Preset) -> str:
    fields = dataclasses.asdict(preset)
    keys = ("dataset", "optimizer", "learning_rate", "epochs", "batch_size", "patience", "seeds")
    return ", ".join(f"{k}={fields[k]}" for k in keys if k in fields)


def _resolve(name: str, presets: dict[str, Preset], args) -> tuple[Preset, str, Path, int | None]:
    """Preset, its name, the output folder and checkpoint interval — from the CLI or a run to resume."""
    if args.resume is not None:
        cfg = saved_config(name, args.resume)
        return Preset(**cfg["preset_config"]), cfg["preset"], args.resume, cfg["checkpoint_every"]
    preset = presets[args.preset]
    if args.quick:
        preset = preset.quick()
    if args.seeds is not None:
        preset = dataclasses.replace(preset, seeds=args.seeds)
    if args.epochs is not None:
        preset = dataclasses.replace(preset, epochs=args.epochs)
    out = args.out or Path("runs") / name / time.strftime("%Y%m%d-%H%M%S")
    return preset, args.preset, out, args.checkpoint_every


def _evaluate(spec: ModelSpec, fr: FitResult, splits, seeds: int) -> tuple[dict, Callable]:
    """Test-split metrics over seeds, and seed 0's compiled predict function (warmed up: compiled in
    this thread, timed later when no other thread competes for the cores)."""
    state = fr.state
    x_test, y_test = splits.test["x"], splits.test["y"]
    proba = predict(state, x_test, output="probabilities")  # [members, n, k]
    per_seed = [evaluate_classifier(proba[i], y_test, splits.class_names) for i in range(seeds)]
    one = member(state, 0)
    predict_fn = make_predict_fn(one)
    jax.block_until_ready(predict_fn(jax.device_put(x_test)))
    out = {
        **({"features": list(spec.features), "activation": spec.activation} if spec.module is None else {}),
        "architecture": spec.describe(),
        "augment_shift": spec.augment_shift,
        "parameters": count_params(one.params),
        "compile_seconds": fr.compile_seconds,
        "train_seconds": fr.train_seconds,
        "epochs_run": summarize(fr.epochs_run),
        "best_epoch": [int(e) for e in fr.best_epoch],
    }
    for key in ("accuracy", "precision", "recall", "f1", "roc_auc"):
        if key in per_seed[0]:
            out["test_accuracy" if key == "accuracy" else key] = summarize([m[key] for m in per_seed])
    out["macro_f1"] = summarize([m["macro"]["f1"] for m in per_seed])
    for k in ("val_accuracy", "train_accuracy", "val_loss", "train_loss"):
        last = [h[np.isfinite(h)][-1] if np.isfinite(h).any() else np.nan for h in fr.history[k]]
        if np.isfinite(last).all():
            out[f"final_{k}"] = summarize(last)
    out["confidence_seed0"] = per_seed[0]["confidence"]
    out["confusion_matrix_seed0"] = per_seed[0]["confusion_matrix"]
    out["report_seed0"] = per_seed[0]["report"]
    return out, predict_fn


def lane_size(models: int, seeds: int, devices: int) -> int:
    """Devices per model (a "lane"): the divisor g of the device count that minimises the estimated
    makespan ceil(models / (devices / g)) × ceil(seeds / g) for equal models; ties go to fewer padded
    members, then to the larger g. So 6 models × 5 seeds on 2 devices train one device each, two at
    a time (over both devices, 5 seeds would be padded to 6: a sixth of the work for nothing), while
    1 model × 5 seeds spans both devices."""
    def key(g):
        return (math.ceil(models / (devices // g)) * math.ceil(seeds / g), g * math.ceil(seeds / g) - seeds, -g)
    return min((g for g in range(1, devices + 1) if devices % g == 0), key=key)


def assign_lanes(costs: Sequence[float], lanes: int) -> list[list[int]]:
    """Models (indices) per lane: longest first, each to the least loaded lane (LPT scheduling);
    within a lane, longest first."""
    load, out = [0.0] * lanes, [[] for _ in range(lanes)]
    for i in sorted(range(len(costs)), key=lambda i: -costs[i]):
        j = min(range(lanes), key=load.__getitem__)
        out[j].append(i)
        load[j] += costs[i]
    return out


def model_cost(spec: ModelSpec, model: nn.Module, sample_x) -> float:
    """Forward FLOPs per example: counted for MLPs (2 × Σ fan_in × fan_out), XLA's cost analysis of
    the forward pass otherwise."""
    if spec.module is None:
        widths = [math.prod(np.shape(sample_x)[1:]), *spec.features]
        return 2.0 * sum(a * b for a, b in zip(widths, widths[1:]))
    return forward_flops(model, sample_x)


def main(name: str, presets: dict[str, Preset], specs: Sequence[ModelSpec], argv=None, *,
         quick_specs: Sequence[ModelSpec] | None = None,
         extra: Callable[[Trained, Splits], dict] | None = None,
         after: Callable[[dict, dict[str, Trained], Splits, Path], None] | None = None,
         thresholds: dict[str, float] | None = None) -> dict:
    """Run one comparison experiment end to end; returns the results dict (also in results.json).

    quick_specs: smaller models for --quick (a smoke test), where compiling the full ones dominates;
    extra(trained, splits) adds entries to a model's results; after(results, trained, splits, out)
    writes an experiment's own tables/plots (it may add to `results` before results.json is written);
    thresholds: label -> test accuracy a claim is measured against, drawn on the accuracy plot.
    """
    args = parse_args(name, presets, argv)
    preset, preset_name, out, ckpt_every = _resolve(name, presets, args)
    if args.quick and quick_specs is not None:
        specs = quick_specs
    setup_cpu(args.devices)
    if not args.no_compile_cache:
        enable_compile_cache(args.cache_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "config.json", {
        "experiment": name, "preset": preset_name, "preset_config": dataclasses.asdict(preset),
        "checkpoint_every": ckpt_every,
        "models": [{"name": s.name, **s.describe(), "augment_shift": s.augment_shift} for s in specs],
        "command": " ".join([Path(sys.executable).name, "-m", f"experiments.{name}", *(argv or sys.argv[1:])]),
    })

    ds, splits = load_for(preset)
    seeds = list(range(preset.seeds))
    config = FitConfig(epochs=preset.epochs, batch_size=preset.batch_size, patience=preset.patience,
                       restore_best=preset.restore_best,
                       checkpoint_every=ckpt_every, progress=not args.no_progress)
    t0 = time.perf_counter()  # the wall clock includes planning: cost estimates trace models
    devices = jax.devices()
    models = [s.build(preset) for s in specs]
    per_model = lane_size(len(specs), len(seeds), len(devices))
    lanes = len(devices) // per_model
    plan = ([list(range(len(specs)))] if lanes == 1 else
            assign_lanes([model_cost(s, m, splits.train["x"]) for s, m in zip(specs, models)], lanes))
    meshes = [distributed.make_mesh(devices=devices[j * per_model:(j + 1) * per_model]) for j in range(lanes)]
    mesh_of_model = {i: meshes[j] for j, lane in enumerate(plan) for i in lane}
    free_rows = list(range(max(args.workers, lanes)))  # progress-bar rows: one per concurrent model
    lock = threading.Lock()

    def build(i: int):
        """Phase 1: initialise (straight into its sharding) and compile one model's program."""
        spec, model, mesh = specs[i], models[i], mesh_of_model[i]
        objective = Classification(ds.num_classes, l2=preset.l2)
        if spec.augment_shift:
            objective = Augmented(objective, functools.partial(random_shift, max_shift=spec.augment_shift))
        t0 = time.perf_counter()
        state = jax.block_until_ready(create_states(model, make_optimizer(preset.optimizer, preset.learning_rate),
                                                    seeds, splits.train["x"], mesh=mesh))
        init_seconds = time.perf_counter() - t0
        program = compile_fit(state, objective, splits.train, splits.val, config, mesh=mesh)
        return state, objective, program, init_seconds, model

    def train(spec: ModelSpec, built):
        """Phase 2: train from the compiled program."""
        state, objective, program = built[:3]
        ckpt = Checkpointer(out / "checkpoints" / spec.name, meta={"model": spec.name}) if ckpt_every else None
        with lock:
            row = free_rows.pop(0)
        try:
            resume = ckpt is not None and args.resume is not None and ckpt.latest_epoch() is not None
            return fit(state, objective, splits.train, splits.val, config, mesh=program.mesh, checkpointer=ckpt,
                       resume=resume, name=spec.name, position=row, program=program)
        finally:
            with lock:
                free_rows.append(row)
            if ckpt is not None:
                ckpt.close()

    # Builds run in a pool of `workers` threads, each lane's first models first; one host thread per
    # lane trains its models in order as soon as each is built, so training overlaps the later builds
    # (a lane spanning every device trains alone: two programs on the same cores measured slower).
    order = [i for k in range(max(map(len, plan))) for lane in plan for i in lane[k:k + 1]]
    with ThreadPoolExecutor(max_workers=args.workers) as builders, ThreadPoolExecutor(max_workers=lanes) as trainers:
        futures = {i: builders.submit(build, i) for i in order}
        done = trainers.map(lambda lane: [(i, train(specs[i], futures[i].result())) for i in lane], plan)
        fits = {specs[i].name: f for lane in done for i, f in lane}
    built = [futures[i].result() for i in range(len(specs))]
    wall = time.perf_counter() - t0

    trained = {s.name: Trained(s, b[4], b[1], b[0], fits[s.name]) for s, b in zip(specs, built)}

    def evaluate(i: int):
        """Phase 3 (threaded: mostly compiling predict/diagnostic programs): metrics and extras."""
        s = specs[i]
        m, predict_fn = _evaluate(s, fits[s.name], splits, preset.seeds)
        m["init_seconds"] = built[i][3]
        if extra is not None:
            m.update(extra(trained[s.name], splits))
        return m, predict_fn

    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        evaluated = list(pool.map(evaluate, range(len(specs))))
    models = {}
    x_test = jax.device_put(splits.test["x"])
    for s, (m, predict_fn) in zip(specs, evaluated):  # timed one at a time: nothing else running
        models[s.name] = {**m, "predictions_per_second": throughput(predict_fn, x_test)}
    results = {
        "experiment": name,
        "preset": preset_name,
        "seeds": preset.seeds,
        "dataset": {"name": ds.name, "class_names": list(ds.class_names),
                    "train": len(splits.train["y"]), "val": 0 if splits.val is None else len(splits.val["y"]),
                    "test": len(splits.test["y"])},
        "preset_config": dataclasses.asdict(preset),
        "jax_version": jax.__version__,
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "workers": args.workers,
        "device_count": len(devices),
        "lanes": [[specs[i].name for i in lane] for lane in plan],  # models trained on each device group
        "models": models,
        "training_wall_seconds": wall,
        # Training only (builds overlap it): the busiest lane's summed `train_seconds`.
        "lane_train_seconds": max(sum(models[specs[i].name]["train_seconds"] for i in lane) for lane in plan),
        "sum_compile_plus_train_seconds": sum(
            m["init_seconds"] + m["compile_seconds"] + m["train_seconds"] for m in models.values()),
    }
    if after is not None:
        after(results, trained, splits, out)
    write_json(out / "results.json", results)
    table = models_table(results)
    (out / "results.md").write_text(table)
    (out / "reports").mkdir(exist_ok=True)
    for n, m in models.items():
        (out / "reports" / f"{n}.txt").write_text(f"{n} (seed 0)\n\n{m['report_seed0']}")
    learning_curves({n: fits[n].history for n in models}, out / "learning_curves.png",
                    f"{name} ({preset_name}): each seed, and their mean while all train")
    metric_bars(results, "test_accuracy", out / "test_accuracy.png", f"{name}: test accuracy",
                thresholds=thresholds)
    print(table)
    print(f"wrote {out}/results.json, results.md, learning_curves.png, test_accuracy.png, reports/")
    return results
