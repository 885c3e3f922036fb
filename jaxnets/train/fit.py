"""fit(): the host loop around the one compiled program (`compile.py`).

Epochs run on device in chunks; per chunk the host reads the (replicated) logs, drives progress,
checkpoints, and stops when every member has stopped. Members are padded to the mesh's members
axis; the padding is stopped from the start and cut from everything returned.
"""
from __future__ import annotations

import dataclasses
import time

import jax
import numpy as np
from jax.sharding import Mesh

from jaxnets import distributed
from jaxnets.train.compile import FitProgram, compile_program, pad_carry, state_sharding, unpad
from jaxnets.train.epoch import LoopCarry, init_carry
from jaxnets.train.objectives import finalize_metrics
from jaxnets.train.optim import Plateau
from jaxnets.train.progress import Progress
from jaxnets.train.state import TrainState


@dataclasses.dataclass(frozen=True)
class FitConfig:
    """epochs: total epochs; batch_size: examples per step (the last partial batch is masked, not dropped);
    patience: stop a member after this many epochs without an improvement > min_delta of the
    monitored loss (None: off); monitor: "val_loss" (needs validation data) or "train_loss";
    restore_best: end with the parameters of the best monitored loss (None: when val data is given);
    epochs_per_call: epochs per compiled host call (None: all at once, or 20 with early stopping);
    checkpoint_every: epochs between checkpoints (sets epochs_per_call); eval_batch_size: rows per
    evaluation batch; progress: a bar on a terminal, else a plain line per quarter of the epochs, and
    a last line saying where each member stopped (jaxnets.train.progress); on_divergence: "raise"
    (`TrainingDiverged` as soon as a member's loss or parameters turn NaN/inf) or "stop" (that member
    stops with its last good state, the others train on: `FitResult.diverged` says which; sweeps);
    diagnostics: log per-layer gradient norms, update/parameter ratios, activation statistics, dead
    units, the learning rate and the global gradient norm per epoch (`jaxnets.train.diagnostics`);
    reduce_on_plateau: a `Plateau` that scales the optimizer's updates down when the monitored loss
    stalls (history["lr_scale"]: the scale each next epoch trains with).
    """

    epochs: int
    batch_size: int = 32
    shuffle: bool = True
    patience: int | None = None
    min_delta: float = 0.0
    restore_best: bool | None = None
    monitor: str = "val_loss"
    epochs_per_call: int | None = None
    eval_batch_size: int = 4096
    checkpoint_every: int | None = None
    progress: bool = True
    on_divergence: str = "raise"
    diagnostics: bool = False
    reduce_on_plateau: Plateau | None = None

    def __post_init__(self):
        for name in ("epochs", "batch_size", "eval_batch_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
                raise ValueError(f"FitConfig.{name} must be a positive int, got {v!r}")
        for name in ("patience", "epochs_per_call", "checkpoint_every"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0):
                raise ValueError(f"FitConfig.{name} must be None or a positive int, got {v!r}")
        if not isinstance(self.min_delta, (int, float)) or self.min_delta < 0:
            raise ValueError(f"FitConfig.min_delta must be a number >= 0, got {self.min_delta!r}")
        if self.restore_best is not None and not isinstance(self.restore_best, bool):
            raise TypeError(f"FitConfig.restore_best must be True, False or None, got {self.restore_best!r}")
        if self.monitor not in ("val_loss", "train_loss"):
            raise ValueError(f"FitConfig.monitor must be 'val_loss' or 'train_loss', got {self.monitor!r}")
        if self.reduce_on_plateau is not None and not isinstance(self.reduce_on_plateau, Plateau):
            raise TypeError(f"FitConfig.reduce_on_plateau must be a jaxnets.train.Plateau or None, got "
                            f"{self.reduce_on_plateau!r}")
        if not isinstance(self.diagnostics, bool):
            raise TypeError(f"FitConfig.diagnostics must be True or False, got {self.diagnostics!r}")
        if self.on_divergence not in ("raise", "stop"):
            raise ValueError(f"FitConfig.on_divergence must be 'raise' or 'stop', got {self.on_divergence!r}")

    def resolved(self, has_val: bool) -> FitConfig:
        """This config for a fit with (has_val) or without validation data: restore_best made a
        bool; early stopping or restoring on a validation loss that cannot exist is an error."""
        on_val = self.monitor == "val_loss"
        if on_val and not has_val:
            fix = "pass val={'x': ..., 'y': ...}, or FitConfig(monitor='train_loss') to use the training loss"
            if self.patience is not None:
                raise ValueError(f"FitConfig.patience={self.patience} stops on the validation loss, but no "
                                 f"validation data was given: {fix}")
            if self.reduce_on_plateau is not None:
                raise ValueError(f"FitConfig.reduce_on_plateau watches the validation loss, but no validation data "
                                 f"was given: {fix}")
            if self.restore_best:
                raise ValueError("FitConfig.restore_best=True restores the best validation-loss parameters, but no "
                                 f"validation data was given: {fix}, or restore_best=False")
        if self.restore_best is None:
            return dataclasses.replace(self, restore_best=has_val or not on_val)
        return self

    @property
    def chunk(self) -> int:
        if self.checkpoint_every:
            return min(self.checkpoint_every, self.epochs)
        if self.epochs_per_call:
            return min(self.epochs_per_call, self.epochs)
        return min(20, self.epochs) if self.patience else self.epochs


class TrainingDiverged(FloatingPointError):
    """Raised when a member's loss or parameters become NaN/inf. `.state` is the last good state
    (the failing epoch's update was not applied) and `.epoch` the failing epoch."""

    def __init__(self, message: str, state: TrainState, epoch: int, member: int):
        super().__init__(message)
        self.state, self.epoch, self.member = state, epoch, member


@dataclasses.dataclass
class FitResult:
    """state: final (best, if restore_best) state, stacked like the input; history: name ->
    [members, epochs] (NaN where a member had stopped); diverged: [members] bool (only True with
    FitConfig(on_divergence="stop")); times in seconds."""

    state: TrainState
    history: dict[str, np.ndarray]
    best_epoch: np.ndarray
    epochs_run: np.ndarray
    compile_seconds: float
    train_seconds: float
    diverged: np.ndarray | None = None


def _check_inputs(state: TrainState, objective, data: dict | None, where: str) -> None:
    if data is None:
        return
    # Unsupervised objectives (autoencoders, GANs) set `needs_labels = False`: "y" is then optional.
    keys = ("x", "y") if getattr(objective, "needs_labels", True) else ("x",)
    if not isinstance(data, dict) or any(k not in data for k in keys):
        raise TypeError(f"{where} must be a dict with {' and '.join(repr(k) for k in keys)} arrays, "
                        f"got {type(data).__name__}" + (f" with keys {sorted(data)}" if isinstance(data, dict) else ""))
    x = np.asarray(data["x"])
    if x.shape[1:] != tuple(state.input_shape):
        raise ValueError(f"{where}['x'] has per-example shape {x.shape[1:]}, but the model was initialised for "
                         f"{tuple(state.input_shape)} (e.g. wrong feature count)")
    for k, v in data.items():
        n = np.shape(v)[0] if np.ndim(v) else "no example axis"
        if n != x.shape[0]:
            raise ValueError(f"{where}: x has {x.shape[0]} examples but {k} has {n}")
    if x.shape[0] == 0:
        raise ValueError(f"{where} is empty")
    if "lengths" in data:  # padded sequences: x [n, time, ...], lengths [n] in [1, time]
        lengths = np.asarray(data["lengths"])
        if lengths.shape != (x.shape[0],) or lengths.min() < 1 or lengths.max() > x.shape[1]:
            raise ValueError(f"{where}['lengths'] must be [n] ints in [1, {x.shape[1]}] (the sequence length), "
                             f"got shape {lengths.shape}, range [{lengths.min()}, {lengths.max()}]")
    if not np.all(np.isfinite(x)):
        bad = np.argwhere(~np.isfinite(x))[0]
        raise ValueError(f"{where}['x'] contains NaN or inf (first at index {tuple(int(i) for i in bad)})")
    if hasattr(objective, "check_data"):
        objective.check_data(data, where)


def _history(logs: dict) -> dict[str, np.ndarray]:
    """Per-epoch sums [members, epochs] -> means, NaN where a member did not train."""
    ran = logs["ran"]
    out = {}
    for split in ("train", "val"):
        for k, v in finalize_metrics(logs[split]).items():
            out[f"{split}_{k}"] = np.where(ran.reshape(ran.shape + (1,) * (v.ndim - ran.ndim)), v, np.nan)
    if "lr_scale" in logs:
        out["lr_scale"] = np.where(ran, np.asarray(logs["lr_scale"], np.float64), np.nan)
    for k, v in logs.get("diagnostics", {}).items():  # "grad_norm/hidden_0/kernel" … [members, epochs]
        out[k] = np.where(ran, np.asarray(v, np.float64), np.nan)
    return out


def _concat(history: list[dict]) -> dict:
    return jax.tree_util.tree_map(lambda *a: np.concatenate(a, axis=1), *history)


def _on_mesh(state: TrainState, mesh: Mesh) -> TrainState:
    """The state where the compiled programs expect it (a state placed otherwise is moved)."""
    want = state_sharding(state.num_members, mesh)
    if all(getattr(a, "sharding", None) == want for a in jax.tree_util.tree_leaves(state)):
        return state
    return jax.device_put(state, want)


def _placed(d: dict | None, mesh: Mesh):
    return None if d is None else {k: distributed.put(v, distributed.replicated(mesh)) for k, v in d.items()}


def compile_fit(state: TrainState, objective, train: dict, val: dict | None, config: FitConfig,
                mesh: Mesh | None = None) -> FitProgram:
    """Compile the training programs for these shapes ahead of time (their time reported apart from
    training); `fit(..., program=p)` uses them. A later fit with the same shapes reuses them anyway."""
    if state.num_members is None:
        state = jax.eval_shape(lambda s: jax.tree_util.tree_map(lambda a: a[None], s), state)
    mesh = mesh or distributed.mesh_of(state) or distributed.default_mesh(state.num_members)
    as_np = lambda d: None if d is None else {k: np.asarray(v) for k, v in d.items()}
    return compile_program(state, objective, as_np(train), as_np(val), config.resolved(val is not None), mesh)


def fit(state: TrainState, objective, train: dict, val: dict | None = None, config: FitConfig | None = None, *,
        mesh: Mesh | None = None, checkpointer=None, resume: bool = False, name: str = "fit", position: int = 0,
        program: FitProgram | None = None) -> FitResult:
    """Train `state` (single or stacked [N, ...]) on train = {"x": [n, ...], "y": [n]}; val likewise.

    Every member trains with its own init and shuffling in one compiled program, members split over
    the mesh's `members` devices and batches over its `data` devices (mesh: default the state's own,
    else `distributed.default_mesh(N)`). With a `Checkpointer`, the loop state is saved every
    `checkpoint_every` epochs; `resume=True` continues from its latest complete checkpoint and ends
    bit-identical to an uninterrupted run (on the same device count; to float rounding across counts).
    """
    if config is None:
        raise TypeError("fit() needs a FitConfig, e.g. FitConfig(epochs=100)")
    if not isinstance(config, FitConfig):
        raise TypeError(f"fit() config must be a FitConfig, got {type(config).__name__}")
    if not isinstance(state, TrainState):
        raise TypeError(f"fit() needs a TrainState, got {type(state).__name__}")
    _check_inputs(state, objective, train, "train")
    _check_inputs(state, objective, val, "val")
    config = config.resolved(val is not None)
    if checkpointer is not None and config.checkpoint_every is None:
        raise ValueError("a checkpointer needs FitConfig.checkpoint_every")
    single = state.num_members is None
    if single:
        state = jax.tree_util.tree_map(lambda a: a[None], state)
    n = state.num_members
    mesh = mesh or distributed.mesh_of(state) or distributed.default_mesh(n)
    state = _on_mesh(state, mesh)
    if program is None:
        program = compile_fit(state, objective, train, val, config, mesh)
    elif program.config != config or program.mesh != mesh or program.n != n:
        raise ValueError("the FitProgram was compiled for a different FitConfig, mesh or member count")
    members = program.members
    train_d, val_d = _placed(train, mesh), _placed(val, mesh)

    start, history = 0, []
    if resume:
        if checkpointer is None:
            raise ValueError("resume=True needs a checkpointer")
        template = jax.eval_shape(lambda s: init_carry(s, config.reduce_on_plateau), state)
        restored, past, start = checkpointer.restore(template, sharding=distributed.replicated(mesh))
        carry = pad_carry(restored, members, mesh)
        history.append(past)
    else:
        carry = program.start(state)

    chunk = config.chunk
    progress = Progress(name, config.epochs, start, config.progress, position)
    t0 = time.perf_counter()
    epoch = start
    stopped = np.zeros(n, bool) if not history else history[-1]["stopped"][:, -1]
    try:
        while epoch < config.epochs and not stopped.all():
            carry, logs = program(carry, train_d, val_d, np.arange(epoch, epoch + chunk, dtype=np.int32))
            n_new = min(chunk, config.epochs - epoch)
            history.append(jax.tree_util.tree_map(lambda a, k=n_new: a[:n, :k], logs))
            epoch += n_new
            if config.progress:
                last = _history(history[-1])
                progress.update(epoch, n_new, last["train_loss"][:, -1],
                                last["val_loss"][:, -1] if "val_loss" in last else None)
            diverged, stopped = history[-1]["diverged"][:, -1], history[-1]["stopped"][:, -1]
            stopped = stopped | diverged  # a diverged member trains no further
            if diverged.any() and config.on_divergence == "raise":
                _raise_diverged(carry, history, diverged, single, checkpointer, epoch, n, mesh)
            if checkpointer is not None and (epoch % chunk == 0 or epoch == config.epochs or stopped.all()):
                checkpointer.save(epoch, unpad(carry, n, mesh), _concat(history))
    except BaseException:
        progress.close()
        raise
    jax.block_until_ready(carry)
    train_s = time.perf_counter() - t0

    logs = _concat(history)
    progress.close(logs["best_epoch"][:, -1], logs["ran"].sum(axis=1))
    final = program.finish(carry)
    if single:
        final = jax.tree_util.tree_map(lambda a: a[0], final)
    return FitResult(state=final, history=_history(logs), best_epoch=logs["best_epoch"][:, -1],
                     epochs_run=logs["ran"].sum(axis=1), compile_seconds=program.compile_seconds,
                     train_seconds=train_s, diverged=logs["diverged"][:, -1])


def _raise_diverged(carry: LoopCarry, history, diverged, single, checkpointer, epoch_end, n, mesh):
    logs = _concat(history)
    m = int(np.argmax(diverged))
    ran = logs["ran"][m]
    bad_epoch = int(np.argmin(ran)) if not ran.all() else epoch_end - 1
    kept = unpad(carry, n, mesh)
    if checkpointer is not None:  # keep the last good state on disk before stopping
        checkpointer.save(epoch_end, kept, logs, force=True)
    good = kept.state if not single else jax.tree_util.tree_map(lambda a: a[0], kept.state)
    raise TrainingDiverged(
        f"training diverged: loss or parameters became NaN/inf for member {m} at epoch {bad_epoch}; "
        f"the update of that epoch was not applied and the last good state is kept"
        + (f" (checkpoint at {checkpointer.directory})" if checkpointer is not None else ""),
        state=good, epoch=bad_epoch, member=m,
    )
