"""Sweeps: seeds × hyper-parameter settings trained as one member-sharded program per shape.

A setting is *per member* when it can differ between the members of one program: the optimizer's
numbers (learning rate, weight decay, momentum, β₁ … injected into its state by `make_optimizer`)
the objective's scalars (`l2`, `label_smoothing`) and the dropout rate of a model that takes it per
call (MLP, VGG), the last two held in `TrainState.hyper`. Other settings of the model (widths,
depth, activation …) change the traced program, so the sweep groups them: one compiled program per
combination of model settings, every member setting × seed inside it.
"""
from __future__ import annotations

import dataclasses
import functools
import inspect
import itertools
import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxnets.train.objectives import MODEL_SETTINGS
from jaxnets.train.state import TrainState

OBJECTIVE_SETTINGS = ("l2", "label_smoothing")
# name -> (lowest allowed value, whether the bound itself is excluded, upper bound excluded or None)
_RANGES = {"learning_rate": (0.0, True, None), "weight_decay": (0.0, False, None), "l2": (0.0, False, None),
           "label_smoothing": (0.0, False, 1.0), "dropout_rate": (0.0, False, 1.0), "momentum": (0.0, False, None)}


def _inject_states(opt_state) -> list:
    """optax inject_hyperparams states in an optimizer state (their class name differs across optax
    versions: NamedTuples with a `hyperparams` dict), found by walking chains (tuples)."""
    if isinstance(opt_state, tuple) and hasattr(opt_state, "hyperparams") and hasattr(opt_state, "_replace"):
        return [opt_state]
    if isinstance(opt_state, tuple):
        return [s for item in opt_state for s in _inject_states(item)]
    return []


def optimizer_settings(state: TrainState) -> dict[str, jax.Array]:
    """The optimizer's injected hyper-parameters: name -> value ([members] for a stacked state)."""
    return {k: v for s in _inject_states(state.opt_state) for k, v in s.hyperparams.items()}


def _per_member(name: str, values, n: int | None) -> jax.Array:
    v = jnp.asarray(values, jnp.float32)
    want = () if n is None else (n,)
    if v.shape != want:
        raise ValueError(f"set_hyperparams: {name} needs {'one value per member, shape ' if n else 'a scalar, shape '}"
                         f"{want}, got shape {v.shape}")
    if not bool(jnp.all(jnp.isfinite(v))):
        raise ValueError(f"set_hyperparams: {name} must be finite, got {np.asarray(v).tolist()}")
    return v


def takes_per_call(model, name: str) -> bool:
    """Whether a linen model's __call__ takes setting `name` (e.g. dropout_rate) as a keyword argument,
    so that it can differ between the members of one program."""
    return name in MODEL_SETTINGS and name in inspect.signature(type(model).__call__).parameters


def set_hyperparams(state: TrainState, **values) -> TrainState:
    """Give each member its own settings: `set_hyperparams(state, learning_rate=[...], l2=[...])`.

    Optimizer settings must be injected ones (`make_optimizer` injects every number it is given:
    build it with e.g. `weight_decay=0.0` to sweep weight decay); `l2` / `label_smoothing` and a
    model's per-call `dropout_rate` go to `state.hyper`, which objectives read in place of their
    fields and pass on to the model."""
    n = state.num_members
    opt = optimizer_settings(state)
    model = getattr(state.apply_fn, "__self__", None)
    per_call = [k for k in MODEL_SETTINGS if model is not None and takes_per_call(model, k)]
    unknown = [k for k in values if k not in opt and k not in OBJECTIVE_SETTINGS and k not in per_call]
    if unknown:
        raise ValueError(f"set_hyperparams: unknown setting(s) {unknown}; this state's optimizer injects "
                         f"{sorted(opt) or 'nothing'} (build it with make_optimizer), objectives read "
                         f"{list(OBJECTIVE_SETTINGS)}, the model ({type(model).__name__}) takes per member "
                         f"{per_call or 'nothing'}")
    arrays = {k: _per_member(k, v, n) for k, v in values.items()}

    def visit(s):
        if isinstance(s, tuple) and hasattr(s, "hyperparams") and hasattr(s, "_replace"):
            hp = {k: arrays[k].astype(v.dtype).reshape(v.shape) if k in arrays else v for k, v in s.hyperparams.items()}
            return s._replace(hyperparams=hp)
        if isinstance(s, tuple):
            items = [visit(x) for x in s]
            return type(s)(*items) if hasattr(s, "_fields") else tuple(items)
        return s

    hyper = {**state.hyper, **{k: v for k, v in arrays.items() if k in OBJECTIVE_SETTINGS or k in per_call}}
    return state.replace(opt_state=visit(state.opt_state), hyper=hyper)


def set_learning_rates(state: TrainState, learning_rates: Sequence[float]) -> TrainState:
    """Give each member of a stacked state its own learning rate (optimizer from `make_optimizer`)."""
    if state.num_members is None:
        raise ValueError("set_learning_rates needs a stacked state (one learning rate per member)")
    return set_hyperparams(state, learning_rate=learning_rates)


def summarize(values: Sequence[float]) -> dict:
    """{"mean", "std" (population, ddof=0), "min", "max", "per_seed"} of one number per member."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or v.size == 0:
        raise ValueError(f"summarize needs a non-empty 1-D sequence, got shape {v.shape}")
    return {"mean": float(v.mean()), "std": float(v.std()), "min": float(v.min()), "max": float(v.max()),
            "per_seed": [float(x) for x in v]}


# --- the sweep ---------------------------------------------------------------------------------


def _optimizer_names(optimizer: str) -> set[str]:
    from jaxnets.train.optim import OPTIMIZERS

    factory, defaults = OPTIMIZERS[optimizer]
    params = inspect.signature(factory).parameters
    return {k for k in params if k not in ("mask", "nesterov", "mu_dtype", "accumulator_dtype")} | set(defaults) | {
        "learning_rate", "weight_decay"}


def _model_names(model) -> set[str]:
    return {f.name for f in dataclasses.fields(model) if f.name not in ("parent", "name")}


def check_grid(grid: Mapping[str, Sequence], model, optimizer: str, objective=None) -> tuple[list[str], list[str]]:
    """Validate a grid -> (per-member names, model names). Unknown names (an objective setting the
    objective does not have, such as label_smoothing for a regression), empty value lists and values
    outside their range raise ValueError naming them."""
    from jaxnets.train.optim import OPTIMIZERS

    if not isinstance(optimizer, str) or optimizer not in OPTIMIZERS:
        raise ValueError(f"sweep: optimizer must be one of {sorted(OPTIMIZERS)}, got {optimizer!r}")
    if not isinstance(grid, Mapping) or not grid:
        raise ValueError(f"sweep: grid must be a non-empty dict {{setting name: [values]}}, got {grid!r}")
    opt_names, model_names = _optimizer_names(optimizer), _model_names(model)
    objective_fields = ({f.name for f in dataclasses.fields(objective)} if dataclasses.is_dataclass(objective)
                        else set(OBJECTIVE_SETTINGS))
    objective_names = [k for k in OBJECTIVE_SETTINGS if k in objective_fields]
    member, static = [], []
    for name, values in grid.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence | np.ndarray) or len(values) == 0:
            raise ValueError(f"sweep: grid[{name!r}] must be a non-empty list of values, got {values!r}")
        if len(set(map(repr, values))) != len(values):
            raise ValueError(f"sweep: grid[{name!r}] repeats a value: {list(values)}")
        if name in model_names and not takes_per_call(model, name):
            static.append(name)
        elif name in opt_names or name in objective_names or name in model_names:
            member.append(name)
            for v in values:
                if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v):
                    raise ValueError(f"sweep: grid[{name!r}] must hold finite numbers, got {v!r}")
        else:
            raise ValueError(f"sweep: unknown setting {name!r}. Per-member settings: optimizer {optimizer!r}: "
                             f"{sorted(opt_names)}; objective {type(objective).__name__}: {objective_names}. "
                             f"Model settings ({type(model).__name__}): {sorted(model_names)}")
        if name in _RANGES:
            low, strict, high = _RANGES[name]
            for v in values:
                if not isinstance(v, numbers.Real):
                    continue
                if (v <= low if strict else v < low) or (high is not None and v >= high):
                    span = f"{'(' if strict else '['}{low}, {high if high is not None else 'inf'})"
                    raise ValueError(f"sweep: grid[{name!r}] value {v} is outside {span}")
    return member, static


@dataclasses.dataclass
class SweepResult:
    """rows: one per setting — {"setting", "members", "diverged" (fraction), and for each split
    (val, test) and metric the mean ± std summary over its non-diverged seeds}; best: the setting
    chosen on validation; warnings: e.g. a best value on the edge of the grid; members: one dict per
    trained member (setting, seed, metrics, diverged, epochs_run); fits: (model settings, FitResult)
    per compiled program; select: the validation metric that chose `best`."""

    rows: list[dict]
    best: dict
    warnings: list[str]
    members: list[dict]
    fits: list[tuple[dict, Any]]
    select: str

    def markdown(self, metrics: Sequence[str] = ("val_loss", "val_accuracy", "test_accuracy")) -> str:
        from jaxnets.report import markdown_table

        names = list(self.rows[0]["setting"])
        shown = [m for m in metrics if m in self.rows[0]]
        body = []
        for r in self.rows:
            cells = [_fmt(r["setting"][k]) for k in names]
            cells += [f"{r[m]['mean']:.4f} ± {r[m]['std']:.4f}" if r[m] else "–" for m in shown]
            cells += [f"{r['diverged']:.0%}", "**best**" if r["setting"] == self.best else ""]
            body.append(cells)
        return markdown_table([*names, *shown, "diverged", ""], body)


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


@functools.partial(jax.jit, static_argnums=0)
def _evaluate_sums(objective, state: TrainState, data: dict) -> dict:
    from jaxnets.train.epoch import evaluate_sums

    return jax.vmap(lambda s: evaluate_sums(objective, s, data))(state)


def evaluate(objective, state: TrainState, data: dict) -> dict:
    """Per-member metric means of a stacked state on data = {"x", "y"}, in eval mode: {"loss",
    "accuracy", …} -> NumPy [members]. One compiled program per (objective, shapes), reused."""
    from jaxnets.train.objectives import finalize_metrics

    data = {k: np.asarray(v) for k, v in data.items()}
    return finalize_metrics(jax.device_get(_evaluate_sums(objective, state, data)))


def _edge_warnings(best: dict, grid: Mapping[str, Sequence]) -> list[str]:
    out = []
    for name, values in grid.items():
        nums = [v for v in values if isinstance(v, numbers.Real) and not isinstance(v, bool)]
        if len(nums) < 3 or len(nums) != len(values):
            continue
        if best[name] in (min(nums), max(nums)):
            side = "smallest" if best[name] == min(nums) else "largest"
            shown = ", ".join(map(_fmt, values))
            out.append(f"best {name}={_fmt(best[name])} is the {side} value of the grid [{shown}]: the optimum "
                       f"may lie outside it; extend the grid")
    return out


@functools.lru_cache(maxsize=64)
def _optimizer(name: str, fixed: tuple, swept: tuple[str, ...]):
    """One optimizer object per (name, fixed settings, swept names): a sweep overwrites the swept
    numbers per member, and compiled programs are cached per optimizer object, so a later sweep of
    the same shapes compiles nothing. Swept numbers start at a placeholder in their range."""
    from jaxnets.train.optim import make_optimizer

    placeholder = {k: (1e-3 if k == "learning_rate" else 0.0) for k in swept}
    return make_optimizer(name, **{**dict(fixed), **placeholder})


def sweep(model, objective, optimizer: str, grid: Mapping[str, Sequence], train: dict, val: dict, config, *,
          seeds: Sequence[int] = (0, 1, 2), test: dict | None = None, select: str = "val_loss",
          mesh=None, **optimizer_kwargs) -> SweepResult:
    """Train every setting of `grid` (its product) × `seeds` and choose the best setting on `val`.

    e.g. `sweep(MLP((16, 1)), Classification(2), "adam", {"learning_rate": [1e-3, 1e-2, 1e-1],
    "weight_decay": [0.0, 1e-4]}, train, val, FitConfig(epochs=100), seeds=range(5), test=test)`.
    Per-member settings of one model setting train as ONE compiled, member-sharded program; each
    model setting (e.g. "features") is its own program; a dropout rate is per member where the model
    takes it per call (MLP, VGG). select: "val_loss" (lowest
    mean wins) or "val_<metric>" such as "val_accuracy" (highest wins; ties go to the lower
    validation loss). Members of one seed share their initialisation and batch order across
    settings (paired comparisons). Members that diverged are counted (`diverged`) and left out of
    the means, and never stop the sweep.
    """
    from jaxnets.train.fit import fit
    from jaxnets.train.state import create_states

    member_names, static_names = check_grid(grid, model, optimizer, objective)
    seeds = [int(s) for s in seeds]
    if not seeds:
        raise ValueError("sweep: seeds must not be empty")
    if val is None:
        raise ValueError("sweep: the best setting is chosen on validation data: pass val={'x': ..., 'y': ...}")
    if not select.startswith("val_"):
        raise ValueError(f"sweep: select must name a validation metric such as 'val_loss' or 'val_accuracy', "
                         f"got {select!r}")
    if "learning_rate" in grid and callable(optimizer_kwargs.get("learning_rate")):
        raise ValueError("sweep: a learning-rate schedule recomputes the rate every step, so a swept "
                         "learning_rate would be ignored; sweep the schedule's peak with one sweep per value")
    config = dataclasses.replace(config, on_divergence="stop")
    member_settings = [dict(zip(member_names, vals)) for vals in itertools.product(*(grid[k] for k in member_names))]
    members, fits = [], []
    for static_vals in itertools.product(*(grid[k] for k in static_names)):
        static = dict(zip(static_names, static_vals))
        group_model = model.clone(**static) if static else model
        tx = _optimizer(optimizer, tuple(sorted(optimizer_kwargs.items())),
                        tuple(k for k in member_names if k not in OBJECTIVE_SETTINGS and k not in MODEL_SETTINGS))
        settings = [s for s in member_settings for _ in seeds]
        state = create_states(group_model, tx, [seed for _ in member_settings for seed in seeds], train["x"], mesh)
        if member_names:
            state = set_hyperparams(state, **{k: [s[k] for s in settings] for k in member_names})
        result = fit(state, objective, train, val, config, mesh=mesh, name="sweep")
        fits.append((static, result))
        scores = {"val": evaluate(objective, result.state, val)}
        if test is not None:
            scores["test"] = evaluate(objective, result.state, test)
        for i, s in enumerate(settings):
            members.append({"setting": {**static, **s}, "seed": seeds[i % len(seeds)],
                            "diverged": bool(result.diverged[i]), "epochs_run": int(result.epochs_run[i]),
                            **{f"{split}_{k}": float(v[i]) for split, m in scores.items() for k, v in m.items()}})
    metrics = [k for k in members[0] if k.startswith(("val_", "test_"))]
    if select not in metrics:
        raise ValueError(f"sweep: select={select!r} is not a metric of this objective; available: "
                         f"{[m for m in metrics if m.startswith('val_')]}")
    rows = []
    for setting in [{**dict(zip(static_names, sv)), **ms} for sv in itertools.product(*(grid[k] for k in static_names))
                    for ms in member_settings]:
        mine = [m for m in members if m["setting"] == setting]
        ok = [m for m in mine if not m["diverged"] and all(math.isfinite(m[k]) for k in metrics)]
        rows.append({"setting": setting, "members": len(mine), "diverged": 1 - len(ok) / len(mine),
                     **{k: summarize([m[k] for m in ok]) if ok else None for k in metrics}})
    higher = select != "val_loss"
    ranked = [r for r in rows if r[select] is not None]
    if not ranked:
        raise FloatingPointError("sweep: every member of every setting diverged; lower the learning rate")
    # Ties (accuracy on a small validation set often ties) go to the lower validation loss.
    sign = -1.0 if higher else 1.0
    best = min(ranked, key=lambda r: (sign * r[select]["mean"], r["val_loss"]["mean"]))["setting"]
    return SweepResult(rows=rows, best=best, warnings=_edge_warnings(best, grid), members=members, fits=fits,
                       select=select)
