"""Load and run an exported model (`jaxnets.export`) with jax, orbax and NumPy only.

An artifact is a folder:
    spec.json     what goes in and comes out: input shape/dtype/columns, preprocessing, class names,
                  platforms, versions, the parameters' SHA-256
    program.bin   the serialized `jax.export` program: f(variables, x) with a symbolic batch size
    params/       the variables (params, batch_stats …) as an Orbax checkpoint (no pickle: restoring
                  reads arrays and JSON, never runs code)

    art = load("runs/model")
    art.predict(x)   # {"prediction": [n], "probabilities": [n, k]} or {"output": [n, ...]}

Nothing here imports flax or the model code: a server needs only what this module imports.
"""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import jax
import numpy as np

from jaxnets.metrics import probabilities

FORMAT = "jaxnets-export"
FORMAT_VERSION = 1
TASKS = ("classification", "regression", "raw")


class ArtifactError(ValueError):
    """An artifact folder that cannot be used: missing, tampered or too old."""


def params_hash(tree) -> str:
    """SHA-256 over every leaf's tree path, dtype, shape and bytes (in path order)."""
    h = hashlib.sha256()
    for path, leaf in sorted(jax.tree_util.tree_leaves_with_path(tree), key=lambda pl: jax.tree_util.keystr(pl[0])):
        a = np.ascontiguousarray(np.asarray(leaf))
        h.update(f"{jax.tree_util.keystr(path)}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def check_input(x, spec: dict, where: str = "input") -> np.ndarray:
    """An array against the spec: shape [n, *input shape], numbers of the right kind, finite, not
    empty. Returns it as given (preprocessing reads it at full precision, as training did); errors
    name the first offending row (and column)."""
    shape, dtype = tuple(spec["input"]["shape"][1:]), np.dtype(spec["input"]["dtype"])
    try:
        x = np.asarray(x)
    except (TypeError, ValueError) as e:  # ragged lists
        raise TypeError(f"{where}: rows of unequal length or non-numbers ({e})") from None
    if x.dtype == object or not (np.issubdtype(x.dtype, np.number) or x.dtype == bool):
        raise TypeError(f"{where}: must hold numbers, got dtype {x.dtype}")
    if x.ndim == 0 or x.shape[0] == 0:
        raise ValueError(f"{where} is empty: no rows to predict")
    if tuple(x.shape[1:]) != shape:
        raise ValueError(f"{where}: each row must have shape {list(shape)}, got {list(x.shape[1:])} "
                         f"({x.shape[0]} rows)")
    if np.issubdtype(x.dtype, np.floating):
        bad = ~np.isfinite(x.reshape(len(x), -1))
        if bad.any():
            row, col = map(int, np.argwhere(bad)[0])
            raise ValueError(f"{where}: row {row}, {_column(spec, col)} is {x.reshape(len(x), -1)[row, col]} "
                             f"(NaN and inf are not accepted)")
    if np.issubdtype(dtype, np.integer) and not np.issubdtype(x.dtype, np.integer):
        if np.any(x != np.round(x)):
            raise TypeError(f"{where}: the model takes integers ({dtype}), got fractional values")
    return x


def _column(spec: dict, col: int) -> str:
    columns = spec["input"].get("columns")
    return f"column {col} ({columns[col]!r})" if columns else f"column {col}"


def rows_to_array(rows, spec: dict, where: str = "input", row_label: str = "row", first: int = 0) -> np.ndarray:
    """Table rows (lists of numbers or numeric strings, as CSV or JSON give them) -> [n, features],
    for models whose input is one feature vector per row. Errors name the row and column: row i is
    called f"{row_label} {first + i}" (a JSON index from 0, a CSV line from 1)."""
    shape = spec["input"]["shape"][1:]
    if len(shape) != 1:
        raise ValueError(f"{where}: this model takes inputs of shape {shape}, not table rows; pass a .npy "
                         f"array of shape [n, {', '.join(map(str, shape))}]")
    width = shape[0]
    if not isinstance(rows, list) or not rows:
        raise ValueError(f"{where} is empty: no rows to predict")
    out = np.empty((len(rows), width), np.float64)
    for i, row in enumerate(rows):
        if not isinstance(row, (list, tuple)):
            raise TypeError(f"{where}: {row_label} {first + i} must be a list of {width} numbers, got "
                            f"{type(row).__name__}")
        if len(row) != width:
            names = spec["input"].get("columns")
            raise ValueError(f"{where}: {row_label} {first + i} has {len(row)} columns; the model expects {width}"
                             + (f" ({', '.join(names)})" if names else ""))
        for j, cell in enumerate(row):
            out[i, j] = _number(cell, f"{where}: {row_label} {first + i}, {_column(spec, j)}")
    return check_input(out, spec, where)


def _number(cell, where: str) -> float:
    if isinstance(cell, bool) or cell is None:
        raise TypeError(f"{where}: {cell!r} is not a number")
    if isinstance(cell, (int, float)):
        v = float(cell)
    else:
        try:
            v = float(str(cell).strip())
        except ValueError:
            raise TypeError(f"{where}: {cell!r} is not a number") from None
    if not math.isfinite(v):
        raise ValueError(f"{where} is {v} (NaN and inf are not accepted)")
    return v


class Artifact:
    """A loaded model: `outputs(x)` (the program's raw outputs), `predict(x)` (with class names,
    probabilities and target units applied). x: [n, *spec input shape], before preprocessing."""

    def __init__(self, path: Path, spec: dict, exported, variables):
        self.path, self.spec, self.variables = path, spec, variables
        self._exported = exported
        self._call = jax.jit(exported.call)

    @property
    def input_shape(self) -> tuple:
        return tuple(self.spec["input"]["shape"][1:])

    @property
    def class_names(self) -> list | None:
        return self.spec.get("class_names")

    def preprocess(self, x: np.ndarray) -> np.ndarray:
        """The training data's standardisation, as `jaxnets.data.Standardizer` applied it, then the
        model's input dtype."""
        z = self.spec.get("preprocessing") or {}
        if "standardize" in z:
            s = z["standardize"]
            dt = np.dtype(s.get("dtype", "float64"))  # the training data's dtype: the same arithmetic
            x = (np.asarray(x, dt) - np.asarray(s["mean"], dt)) / np.asarray(s["std"], dt)
        return np.asarray(x).astype(self.spec["input"]["dtype"])

    def outputs(self, x, pad_to: int | None = None):
        """Raw outputs for x (validated, preprocessed). pad_to: run batches of exactly this many rows
        (the last one padded), so that a server compiles one program, not one per request size."""
        x = self.preprocess(check_input(x, self.spec))
        if pad_to is None:
            return jax.tree_util.tree_map(np.asarray, self._call(self.variables, x))
        parts = []
        for i in range(0, len(x), pad_to):
            chunk = x[i:i + pad_to]
            n = len(chunk)
            if n < pad_to:
                chunk = np.concatenate([chunk, np.repeat(chunk[-1:], pad_to - n, axis=0)])
            parts.append(jax.tree_util.tree_map(lambda a, n=n: np.asarray(a)[:n], self._call(self.variables, chunk)))
        return jax.tree_util.tree_map(lambda *a: np.concatenate(a), *parts)

    def predict(self, x, pad_to: int | None = None) -> dict:
        """classification: {"prediction": class names (or ids) [n], "probabilities": [n, k]};
        regression: {"output": [n, ...] in target units}; raw: {"output": the program's outputs}."""
        out = self.outputs(x, pad_to)
        task = self.spec["task"]
        if task == "classification":
            proba = probabilities(out)
            ids = proba.argmax(-1)
            names = self.class_names
            return {"prediction": np.asarray(names, dtype=object)[ids] if names else ids, "probabilities": proba}
        if task == "regression" and (self.spec.get("target_preprocessing") or {}).get("standardize"):
            s = self.spec["target_preprocessing"]["standardize"]  # as Standardizer.inverse: in float64
            out = np.asarray(out, np.float64) * np.asarray(s["std"], np.float64) + np.asarray(s["mean"], np.float64)
        return {"output": out}


def _read_spec(path: Path) -> dict:
    if not path.is_dir():
        raise ArtifactError(f"model folder {path} does not exist (export one with jaxnets.export.export)")
    spec_file = path / "spec.json"
    if not spec_file.is_file():
        raise ArtifactError(f"model folder {path} has no spec.json: not a jaxnets export, or an incomplete copy")
    try:
        spec = json.loads(spec_file.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ArtifactError(f"{spec_file} is not valid JSON: {e}") from None
    if not isinstance(spec, dict) or spec.get("format") != FORMAT:
        raise ArtifactError(f"{spec_file} is not a {FORMAT} spec")
    if spec.get("format_version") != FORMAT_VERSION:
        raise ArtifactError(f"{spec_file} has format version {spec.get('format_version')}; this jaxnets reads "
                            f"version {FORMAT_VERSION}: re-export the model with this jaxnets")
    if spec.get("task") not in TASKS:
        raise ArtifactError(f"{spec_file}: task must be one of {TASKS}, got {spec.get('task')!r}")
    return spec


def _check_program_version(spec: dict, where: Path) -> None:
    """jax.export programs carry a calling-convention version; a jax reads only a window of them."""
    v = spec.get("calling_convention_version")
    lo = jax.export.minimum_supported_calling_convention_version
    hi = jax.export.maximum_supported_calling_convention_version
    if not isinstance(v, int) or not lo <= v <= hi:
        made = spec.get("versions", {}).get("jax", "an unknown jax")
        raise ArtifactError(f"{where} was exported by jax {made} with calling convention {v}; the installed jax "
                            f"{jax.__version__} reads versions {lo}–{hi}: re-export the model with this jax "
                            f"(or install jax {made})")


def load(path) -> Artifact:
    """Read and check an artifact folder: spec, program version and platform, parameters against
    their hash. Every problem is an `ArtifactError` (a ValueError) naming the file."""
    import orbax.checkpoint as ocp

    path = Path(path).absolute()
    spec = _read_spec(path)
    _check_program_version(spec, path)
    program = path / "program.bin"
    if not program.is_file():
        raise ArtifactError(f"model folder {path} has no program.bin (the exported program)")
    try:
        exported = jax.export.deserialize(bytearray(program.read_bytes()))
    except Exception as e:  # noqa: BLE001 - a truncated or foreign file: say which
        raise ArtifactError(f"{program} cannot be read as a jax.export program ({type(e).__name__}: {e})") from None
    backend = jax.default_backend()
    if backend not in exported.platforms:
        raise ArtifactError(f"{path} was exported for {list(exported.platforms)}, this process runs on {backend!r}: "
                            f"export it with platforms=[..., {backend!r}]")
    params_dir = path / "params"
    if not params_dir.is_dir():
        raise ArtifactError(f"model folder {path} has no params/ folder (the parameters)")
    try:
        with ocp.StandardCheckpointer() as ckpt:
            variables = ckpt.restore(params_dir)
    except Exception as e:  # noqa: BLE001 - damaged files: say which
        raise ArtifactError(f"{params_dir} cannot be read ({type(e).__name__}: {e})") from None
    variables = jax.tree_util.tree_map(np.asarray, variables)
    if params_hash(variables) != spec.get("params_sha256"):
        raise ArtifactError(f"{params_dir} does not match the SHA-256 in spec.json: the parameters were changed "
                            f"or damaged after export")
    return Artifact(path, spec, exported, variables)
