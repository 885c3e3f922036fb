"""Export a trained model as a folder that runs without the training code (`jaxnets.artifact`).

    from jaxnets.export import export
    export(member(result.state, 0), "runs/model", task="classification",
           class_names=splits.class_names, scaler=splits.scaler, columns=feature_names)

The program is `jax.export`ed from the state's own `apply_fn` (eval mode) with a symbolic batch
size and the variables as an argument (not baked in), for each platform asked for; the variables
go to an Orbax checkpoint; spec.json records everything a caller needs to feed it (see
`jaxnets.artifact`). The folder is written under a temporary name and renamed when complete.
"""
from __future__ import annotations

import importlib.metadata
import json
import platform
import shutil
from collections.abc import Sequence
from pathlib import Path

import jax
import numpy as np

from jaxnets.artifact import FORMAT, FORMAT_VERSION, TASKS, params_hash
from jaxnets.train.state import TrainState

PLATFORMS = ("cpu", "cuda", "rocm", "tpu")


def _versions() -> dict:
    out = {"python": platform.python_version()}
    for name in ("jaxnets", "jax", "jaxlib", "flax", "orbax-checkpoint"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def _standardize(scaler, width: int | None, what: str) -> dict | None:
    """A Standardizer (or {"mean", "std"}) -> {"standardize": {"mean": [...], "std": [...]}}."""
    if scaler is None:
        return None
    mean = np.atleast_1d(np.asarray(scaler["mean"] if isinstance(scaler, dict) else scaler.mean))
    std = np.atleast_1d(np.asarray(scaler["std"] if isinstance(scaler, dict) else scaler.std))
    if not (np.issubdtype(mean.dtype, np.floating) and np.issubdtype(std.dtype, np.floating)):
        mean, std = mean.astype(np.float64), std.astype(np.float64)
    if mean.shape != std.shape or mean.ndim != 1 or (width is not None and mean.shape[0] not in (1, width)):
        raise ValueError(f"export: {what} must hold one mean and std per feature ({width}), got shapes "
                         f"{mean.shape} and {std.shape}")
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std)) and np.all(std > 0)):
        raise ValueError(f"export: {what} needs finite means and positive stds")
    # JSON floats round-trip float64 (and so float32) exactly; with the dtype the loader standardises
    # with the very same numbers in the same arithmetic as training did.
    return {"standardize": {"mean": mean.tolist(), "std": std.tolist(), "dtype": np.result_type(mean, std).name}}


def export(state: TrainState, path, *, task: str = "raw", class_names: Sequence[str] | None = None,
           columns: Sequence[str] | None = None, scaler=None, y_scaler=None, method: str | None = None,
           input_shape: Sequence[int] | None = None, dtype: str = "float32",
           platforms: Sequence[str] = ("cpu",), overwrite: bool = False) -> Path:
    """Write `path/` = spec.json + program.bin + params/ for one (unstacked) state.

    task: "classification" (outputs are logits; the loader adds probabilities and class names),
    "regression" (y_scaler maps outputs back to target units) or "raw" (outputs as they are: an
    autoencoder's code, a generator's samples). scaler: the training split's Standardizer of x.
    method: a model method to export instead of __call__ (e.g. "encode", "decode", "generate"),
    with its input_shape (one example's shape; default: the shape the state was initialised with).
    dtype: the input dtype ("int32" for token ids). platforms: any of cpu, cuda, rocm, tpu.
    """
    if not isinstance(state, TrainState):
        raise TypeError(f"export needs a TrainState, got {type(state).__name__}")
    if state.num_members is not None:
        raise ValueError(f"export takes one model; this state stacks {state.num_members} members: pass "
                         f"jaxnets.train.member(state, i)")
    if task not in TASKS:
        raise ValueError(f"export: task must be one of {TASKS}, got {task!r}")
    platforms = tuple(platforms)
    unknown = [p for p in platforms if p not in PLATFORMS]
    if not platforms or unknown:
        raise ValueError(f"export: platforms must be a non-empty list of {PLATFORMS}, got {list(platforms)}")
    shape = tuple(int(d) for d in (input_shape if input_shape is not None else state.input_shape))
    if not shape and method is None:
        raise ValueError("export: the state records no input shape; pass input_shape=")
    width = shape[0] if len(shape) == 1 else None
    if columns is not None:
        columns = [str(c) for c in columns]
        if width is None or len(columns) != width:
            raise ValueError(f"export: columns name the {width if width is not None else '(not tabular)'} "
                             f"input features; got {len(columns)} names for input shape {list(shape)}")
    if class_names is not None:
        class_names = [str(c) for c in class_names]
        if task != "classification":
            raise ValueError(f"export: class_names are for task='classification', not {task!r}")
    path = Path(path).absolute()
    if path.exists() and not overwrite:
        raise FileExistsError(f"export: {path} exists; pass overwrite=True to replace it")

    variables = jax.device_get({"params": state.params, **state.variables})
    kwargs = {"method": method} if method else {"train": False}

    def program(v, x):
        return state.apply_fn(v, x, **kwargs)

    batch = jax.export.symbolic_shape("batch")
    x_spec = jax.ShapeDtypeStruct((*batch, *shape), np.dtype(dtype))
    v_spec = jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct(np.shape(a), np.asarray(a).dtype), variables)
    try:
        exported = jax.export.export(jax.jit(program), platforms=platforms)(v_spec, x_spec)
    except Exception as e:  # noqa: BLE001 - name the model and the shape that failed
        raise ValueError(f"export: {type(state.apply_fn.__self__).__name__}{'.' + method if method else ''} "
                         f"could not be exported for x: [batch, {', '.join(map(str, shape))}] {dtype} "
                         f"({type(e).__name__}: {e})") from e
    out_shapes = jax.tree_util.tree_map(lambda a: ["batch", *map(int, a.shape[1:])], exported.out_avals)
    if task == "classification" and not (len(exported.out_avals) == 1 and len(exported.out_avals[0].shape) == 2):
        raise ValueError(f"export: task='classification' needs logits [batch, classes], the model gives {out_shapes}")
    if class_names is not None:
        k = max(int(exported.out_avals[0].shape[1]), 2)
        if len(class_names) != k:
            raise ValueError(f"export: {len(class_names)} class_names for a model with {k} classes")
    spec = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "task": task,
        "model": repr(state.apply_fn.__self__) if hasattr(state.apply_fn, "__self__") else None, "method": method,
        "input": {"shape": [None, *shape], "dtype": np.dtype(dtype).name, "columns": columns},
        "output": {"shapes": out_shapes},
        "class_names": class_names,
        "preprocessing": _standardize(scaler, width, "scaler"),
        "target_preprocessing": _standardize(y_scaler, None, "y_scaler"),
        "platforms": list(exported.platforms),
        "calling_convention_version": exported.calling_convention_version,
        "versions": _versions(),
        "params_sha256": params_hash(variables),
    }
    tmp = path.with_name(f".{path.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        (tmp / "program.bin").write_bytes(exported.serialize())
        import orbax.checkpoint as ocp

        with ocp.StandardCheckpointer() as ckpt:
            ckpt.save(tmp / "params", variables)
        (tmp / "spec.json").write_text(json.dumps(spec, indent=2) + "\n")
        if path.exists():
            shutil.rmtree(path)
        tmp.rename(path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path
