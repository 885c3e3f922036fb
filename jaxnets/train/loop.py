"""fit(): the one training loop. Epochs run on device as `lax.scan`; several epochs per host call.

Work per host call is one compiled program `run_chunk(carry, train, val, epoch_ids)`, vmapped over a
leading member axis (seeds / hyper-parameters), so N members train in one program. Early stopping,
best-parameter tracking and the NaN guard live in the carry, per member, on device; the host only
reads per-epoch logs, drives progress, checkpoints and stops when every member has stopped.
"""
from __future__ import annotations

import dataclasses
import math
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct
from tqdm.auto import tqdm

from jaxnets.runtime import paused_gc
from jaxnets.train.objectives import finalize_metrics
from jaxnets.train.shuffle import batch_indices, batch_mask, chunk_orders, epoch_key, precompute_fits
from jaxnets.train.state import TrainState, stack
from jaxnets.train.step import make_eval_step, make_train_step

MEMBER_MODES = ("vmap", "map")


@dataclasses.dataclass(frozen=True)
class FitConfig:
    """epochs: total epochs; batch_size: examples per step (last partial batch is masked, not dropped);
    patience: stop a member after this many epochs without val-loss improvement > min_delta (None: off);
    restore_best: end with the best-val-loss parameters (needs val data);
    epochs_per_call: epochs per compiled host call (None: all at once, or 20 with early stopping);
    checkpoint_every: epochs between checkpoints (sets epochs_per_call);
    members: how the member axis runs inside the one program — "vmap" (all members in lock-step,
    batched ops) or "map" (`lax.map`: one member after another, 1/N of the
    activation memory, and a member that has stopped early skips its remaining epochs). Measured on
    2 CPU cores, VGG-style on digits, 5 members: 72 ms vmapped vs 83 ms mapped per member-epoch;
    member_threads: run the member axis as this many equal shards at once, each from its own host
    thread through the one program compiled for a shard (padded with a copy of the last member when
    they do not divide evenly). On a multi-core CPU a small model's program keeps about one core
    busy, so N seeds train faster on several threads (8 seeds of the seed's MLPs: 1.4x on 2 cores).
    The numbers match one thread to float rounding (a shard is a smaller batch of members, which XLA
    may tile differently) and repeat bit-for-bit. Keep 1 when models already train side by side.
    """

    epochs: int
    batch_size: int = 32
    shuffle: bool = True
    patience: int | None = None
    min_delta: float = 0.0
    restore_best: bool = True
    epochs_per_call: int | None = None
    eval_batch_size: int = 4096
    checkpoint_every: int | None = None
    progress: bool = True
    members: str = "vmap"
    member_threads: int = 1

    def __post_init__(self):
        if self.members not in MEMBER_MODES:
            raise ValueError(f"FitConfig.members must be one of {MEMBER_MODES}, got {self.members!r}")
        for name in ("epochs", "batch_size", "eval_batch_size", "member_threads"):
            v = getattr(self, name)
            if not isinstance(v, int) or v <= 0:
                raise ValueError(f"FitConfig.{name} must be a positive int, got {v!r}")
        for name in ("patience", "epochs_per_call", "checkpoint_every"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int) or v <= 0):
                raise ValueError(f"FitConfig.{name} must be None or a positive int, got {v!r}")
        if self.min_delta < 0:
            raise ValueError(f"FitConfig.min_delta must be >= 0, got {self.min_delta}")

    @property
    def chunk(self) -> int:
        if self.checkpoint_every:
            return min(self.checkpoint_every, self.epochs)
        if self.epochs_per_call:
            return min(self.epochs_per_call, self.epochs)
        return min(20, self.epochs) if self.patience else self.epochs

    def shard_size(self, members: int) -> int:
        """Members per program call: ceil(members / member_threads)."""
        return math.ceil(members / min(self.member_threads, members))


class TrainingDiverged(FloatingPointError):
    """Raised when a member's loss or parameters become NaN/inf. `.state` is the last good state
    (the failing epoch's update was not applied) and `.epoch` the failing epoch."""

    def __init__(self, message: str, state: TrainState, epoch: int, member: int):
        super().__init__(message)
        self.state, self.epoch, self.member = state, epoch, member


@struct.dataclass
class LoopCarry:
    """Per-member loop state carried across epochs and host calls (and checkpointed whole).
    best_params / best_variables follow the best epoch only when they will be restored
    (`FitConfig.restore_best` with validation data); otherwise they stay at the initial values."""

    state: TrainState
    best_params: Any
    best_variables: Any
    best_loss: jax.Array
    best_epoch: jax.Array
    wait: jax.Array
    stopped: jax.Array
    diverged: jax.Array


@dataclasses.dataclass
class FitResult:
    """state: final (best, if restore_best) state, stacked like the input; history: name ->
    [members, epochs] (NaN where a member had stopped); times in seconds."""

    state: TrainState
    history: dict[str, np.ndarray]
    best_epoch: np.ndarray
    epochs_run: np.ndarray
    compile_seconds: float
    train_seconds: float


def init_carry(state: TrainState) -> LoopCarry:
    n = state.step.shape  # () or (members,)
    # No copies: the compiled program does not donate its inputs, so the caller's state stays valid
    # and best_params may alias params. (Per-leaf eager copies cost a tiny compile each, serialising
    # concurrently started fits on the GIL; the saved memory is irrelevant at this scale.) The
    # counters are put from NumPy for the same reason: an eager jnp.full (or jnp.asarray) compiles.
    return LoopCarry(
        state=state,
        best_params=state.params,
        best_variables=state.variables,
        best_loss=jax.device_put(np.full(n, np.inf, np.float32)),
        best_epoch=jax.device_put(np.full(n, -1, np.int32)),
        wait=jax.device_put(np.zeros(n, np.int32)),
        stopped=jax.device_put(np.zeros(n, bool)),
        diverged=jax.device_put(np.zeros(n, bool)),
    )


def _take(data: dict, idx: jax.Array, mask: jax.Array) -> dict:
    batch = jax.tree_util.tree_map(lambda a: a[idx], data)
    return {**batch, "mask": mask}


def _scan_batches(fn, init, data: dict, key, batch_size: int, shuffle: bool, idx: jax.Array | None = None):
    """Scan fn over the epoch's batches. The whole epoch is gathered at once ([n_batches, batch, ...]):
    one gather per epoch instead of one per step measured 10-15 % faster on small models.
    idx: the epoch's batch indices when precomputed (`shuffle.chunk_orders`); else drawn from `key`."""
    n = jax.tree_util.tree_leaves(data)[0].shape[0]
    if idx is None:
        idx, mask = batch_indices(key, n, batch_size, shuffle)
    else:
        mask = batch_mask(n, batch_size)
    return jax.lax.scan(fn, init, _take(data, idx, mask))


def _sum0(tree):
    return jax.tree_util.tree_map(lambda a: jnp.sum(a, axis=0), tree)


def evaluate_sums(objective, state: TrainState, data: dict, batch_size: int = 4096) -> dict:
    """Metric sums of one (unstacked) state over a whole dataset, batched on device."""
    eval_step = make_eval_step(objective)
    n = jax.tree_util.tree_leaves(data)[0].shape[0]
    if n <= batch_size:  # one batch: no loop, no padding (a smaller program compiles faster)
        return eval_step(state, {**data, "mask": jnp.ones(n, jnp.float32)})
    _, sums = _scan_batches(lambda c, b: (c, eval_step(state, b)), None, data, state.rng, batch_size, False)
    return _sum0(sums)


def _all_finite(tree) -> jax.Array:
    """True iff no leaf holds a NaN or inf. x * 0 is NaN exactly for non-finite x (never overflows), so
    one sum over the concatenated leaves decides it: one fused reduction instead of one per leaf,
    which measured 0.12 s less XLA compile for the seed's 6-layer MLP."""
    leaves = [jnp.ravel(a) for a in jax.tree_util.tree_leaves(tree)]
    return jnp.isfinite(jnp.sum(jnp.concatenate(leaves) * 0)) if leaves else jnp.asarray(True)


class LogLayout:
    """How one epoch's logs (a tree of small arrays) are packed into one vector per dtype inside the
    program, and unpacked on the host. A scan writes each output leaf with its own compiled kernel
    every epoch; two packed outputs instead of seven measured ~0.02 s less XLA compile per model.
    `pack` records the tree's structure when the program is traced; `unpack` needs it."""

    def __init__(self):
        self.treedef = None
        self.leaves: list[tuple[tuple[int, ...], str]] = []

    def pack(self, tree) -> dict[str, jax.Array]:
        leaves, self.treedef = jax.tree_util.tree_flatten(tree)
        self.leaves = [(tuple(a.shape), jnp.dtype(a.dtype).name) for a in leaves]
        groups: dict[str, list] = {}
        for a in leaves:
            groups.setdefault(jnp.dtype(a.dtype).name, []).append(jnp.ravel(a))
        return {k: jnp.concatenate(v) for k, v in groups.items()}

    def unpack(self, packed: dict[str, np.ndarray]):
        """packed: dtype -> [..., total] (leading axes: members, epochs) -> the logs tree."""
        offsets = dict.fromkeys(packed, 0)
        leaves = []
        for shape, dtype in self.leaves:
            size, lead = math.prod(shape), packed[dtype].shape[:-1]
            leaves.append(packed[dtype][..., offsets[dtype]:offsets[dtype] + size].reshape(*lead, *shape))
            offsets[dtype] += size
        return jax.tree_util.tree_unflatten(self.treedef, leaves)


def make_run_chunk(objective, config: FitConfig, has_val: bool, skip_frozen: bool = False,
                   layout: LogLayout | None = None):
    """One member's program for a chunk of epochs: (carry, train, val, epoch_ids[chunk], orders) ->
    (carry, logs). orders: the chunk's batch indices [chunk, n_batches, batch] (`shuffle.chunk_orders`)
    or None to draw each epoch's order inside the epoch.

    epoch_ids past `config.epochs` are skipped with `lax.cond` (its predicate is not vmapped, so it
    stays a real branch), which lets every host call reuse one compiled program. skip_frozen: also
    skip the epochs of a stopped member (only worth it when members are not vmapped: under vmap a
    cond on a per-member predicate computes both branches). layout: pack each epoch's logs with it
    (`LogLayout`; the logs then come out as dtype -> [chunk, total]).
    """
    train_step = make_train_step(objective)
    tree_where = lambda c, a, b: jax.tree_util.tree_map(lambda x, y: jnp.where(c, x, y), a, b)
    # Best parameters are only read back when restoring them; not tracking them otherwise saves a
    # select per parameter per epoch (0.1 s of XLA compile for a 6-layer MLP).
    track_best = config.restore_best and has_val

    def epoch_fn(carry: LoopCarry, epoch, order, train, val):
        st = carry.state
        key = epoch_key(st.rng, epoch) if order is None else None
        new, sums = _scan_batches(train_step, st, train, key, config.batch_size, config.shuffle, order)
        train_sums = _sum0(sums)
        train_loss = train_sums["loss_sum"] / jnp.maximum(train_sums["count"], 1.0)
        finite = jnp.isfinite(train_loss) & _all_finite(new.params)
        if has_val:
            val_sums = evaluate_sums(objective, new, val, config.eval_batch_size)
            monitor = val_sums["loss_sum"] / jnp.maximum(val_sums["count"], 1.0)
        else:
            val_sums = jax.tree_util.tree_map(lambda a: jnp.full_like(a, jnp.nan), train_sums)
            monitor = train_loss
        frozen = carry.stopped | carry.diverged
        ok = finite & ~frozen
        improved = ok & (monitor < carry.best_loss - config.min_delta)
        wait = jnp.where(improved, 0, jnp.where(ok, carry.wait + 1, carry.wait))
        stopped = carry.stopped
        if config.patience is not None:
            stopped = stopped | (wait >= config.patience)
        carry = LoopCarry(
            state=tree_where(ok, new, st),
            best_params=tree_where(improved, new.params, carry.best_params) if track_best else carry.best_params,
            best_variables=(tree_where(improved, new.variables, carry.best_variables) if track_best
                            else carry.best_variables),
            best_loss=jnp.where(improved, monitor, carry.best_loss),
            best_epoch=jnp.where(improved, epoch, carry.best_epoch),
            wait=wait,
            stopped=stopped,
            diverged=carry.diverged | (~finite & ~frozen),
        )
        logs = {"train": train_sums, "val": val_sums, "ran": ok}
        return carry, logs if layout is None else layout.pack(logs)

    def run_chunk(carry: LoopCarry, train: dict, val: dict | None, epoch_ids: jax.Array, orders=None):
        xs = (epoch_ids, orders)
        if config.epochs % config.chunk == 0 and not skip_frozen:  # no branch to compile
            return jax.lax.scan(lambda c, x: epoch_fn(c, *x, train, val), carry, xs)

        def body(c, x):
            shapes = jax.eval_shape(lambda: epoch_fn(c, *x, train, val)[1])
            skip = lambda c: (c, jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), shapes))
            run = x[0] < config.epochs
            if skip_frozen:
                run = run & ~(c.stopped | c.diverged)
            return jax.lax.cond(run, lambda c: epoch_fn(c, *x, train, val), skip, c)

        return jax.lax.scan(body, carry, xs)

    return run_chunk


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
        raise ValueError(
            f"{where}['x'] has per-example shape {x.shape[1:]}, but the model was initialised for "
            f"{tuple(state.input_shape)} (e.g. wrong feature count)"
        )
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


def _logs_to_history(logs: dict) -> dict[str, np.ndarray]:
    """Per-epoch sums [members, epochs] -> means, NaN where a member did not train."""
    ran = logs["ran"]
    out = {}
    for split in ("train", "val"):
        for k, v in finalize_metrics(logs[split]).items():
            out[f"{split}_{k}"] = np.where(ran.reshape(ran.shape + (1,) * (v.ndim - ran.ndim)), v, np.nan)
    return out


# LLVM -O1 instead of -O2 for the XLA:CPU training program: measured 17 % less compile time for the
# seed's four MLPs with the same run time (README, "Speed"); compile dominates small-model runs.
TRAIN_COMPILER_OPTIONS = {"xla_backend_optimization_level": 1}


@dataclasses.dataclass(frozen=True)
class FitProgram:
    """The compiled chunk program of one fit (see `compile_fit`). Call it as
    `program(carry, train, val, epoch_ids)` -> (carry, logs as NumPy); shuffled_examples: n when each
    chunk's batch orders are computed on the host (`shuffle.chunk_orders`) and passed in, None when
    drawn inside the program; log_layout: how the program packed its logs (None: not packed)."""

    compiled: Any
    config: FitConfig
    compile_seconds: float
    shuffled_examples: int | None = None
    log_layout: LogLayout | None = None

    def __call__(self, carry: LoopCarry, train, val, epoch_ids: np.ndarray):
        members = int(carry.stopped.shape[0])
        shard = self.config.shard_size(members)
        if shard == members:
            return self._run(carry, train, val, epoch_ids)
        # Shards on threads: split and merge on the host (NumPy; an eager jnp slice would compile).
        host = jax.device_get(carry)
        pad = -members % shard
        if pad:
            host = jax.tree_util.tree_map(lambda a: np.concatenate([a, np.repeat(a[-1:], pad, 0)]), host)
        parts = [jax.tree_util.tree_map(lambda a, i=i: a[i:i + shard], host) for i in range(0, members + pad, shard)]
        with ThreadPoolExecutor(len(parts)) as pool:
            outs = list(pool.map(lambda c: jax.device_get(self._run(c, train, val, epoch_ids)), parts))
        merged = jax.tree_util.tree_map(lambda *a: np.concatenate(a)[:members], *outs)
        return jax.device_put(merged[0]), merged[1]

    def _run(self, carry: LoopCarry, train, val, epoch_ids: np.ndarray):
        orders = None
        if self.shuffled_examples is not None:
            rngs = np.asarray(jax.device_get(carry.state.rng))
            orders = chunk_orders(rngs, epoch_ids, self.shuffled_examples, self.config.batch_size)
        carry, logs = self.compiled(carry, train, val, epoch_ids, orders)
        return carry, logs if self.log_layout is None else self.log_layout.unpack(jax.device_get(logs))


def _device_data(d: dict | None):
    return None if d is None else jax.device_put({k: np.asarray(v) for k, v in d.items()})


# For callers compiling several programs at once from threads (one per core): XLA:CPU then need not
# split each program's LLVM module for parallel code generation. Measured for the seed's four MLPs
# built from two threads: 5.6 -> 4.9 CPU-seconds.
CONCURRENT_COMPILER_OPTIONS = {"xla_cpu_parallel_codegen_split_count": 1}


@dataclasses.dataclass(frozen=True)
class LoweredFit:
    """`compile_fit` in two halves: the traced and lowered program (Python work, done) and its XLA
    compile (`compile`, which releases the GIL), so one thread can lower the next model's programs
    while others compile. lower_seconds: the tracing and lowering time, counted in compile_seconds."""

    lowered: Any
    config: FitConfig
    lower_seconds: float
    shuffled_examples: int | None
    log_layout: LogLayout

    def compile(self, compiler_options: dict | None = None) -> FitProgram:
        t0 = time.perf_counter()
        options = {**TRAIN_COMPILER_OPTIONS, **(compiler_options or {})}
        compiled = self.lowered.compile(compiler_options=options if jax.default_backend() == "cpu" else None)
        return FitProgram(compiled, self.config, self.lower_seconds + time.perf_counter() - t0,
                          self.shuffled_examples, self.log_layout)


def compile_fit(state: TrainState, objective, train: dict, val: dict | None, config: FitConfig,
                compiler_options: dict | None = None) -> FitProgram:
    """Compile the training program for these shapes ahead of time (timed separately), so callers can
    compile several models first and then time their training alone. `fit(..., program=p)` uses it.
    compiler_options: XLA options added to the defaults (CPU only), e.g. CONCURRENT_COMPILER_OPTIONS."""
    return lower_fit(state, objective, train, val, config).compile(compiler_options)


def lower_fit(state: TrainState, objective, train: dict, val: dict | None, config: FitConfig) -> LoweredFit:
    """Trace and lower the training program without compiling it (see `LoweredFit`). state: a
    TrainState or its shapes (`lower_states(...).shapes`): only shapes and dtypes are read."""
    t0 = time.perf_counter()
    mode = config.members
    with paused_gc():
        if state.num_members is None:
            state = jax.eval_shape(lambda s: stack([s]), state)
        chunk = config.chunk
        layout = LogLayout()
        one = make_run_chunk(objective, config, val is not None, skip_frozen=mode == "map", layout=layout)
        n = jax.tree_util.tree_leaves(train)[0].shape[0]
        members = config.shard_size(state.num_members)  # the program's member axis (see member_threads)
        host_orders = config.shuffle and precompute_fits(members, chunk, n)

        def run_members(c, t, v, ids, orders=None):  # orders: [members, chunk, n_batches, batch] or None
            if members == 1:  # no vmap to trace: the seed's four MLPs trace ~0.09 s faster
                first = lambda tree: jax.tree_util.tree_map(lambda a: a[0], tree)
                return jax.tree_util.tree_map(lambda a: a[None], one(first(c), t, v, ids, first(orders)))
            if mode == "vmap":
                return jax.vmap(one, in_axes=(0, None, None, None, 0 if host_orders else None))(c, t, v, ids, orders)
            return jax.lax.map(lambda m: one(m[0], t, v, ids, m[1]), (c, orders))

        carry = jax.tree_util.tree_map(lambda a: jax.ShapeDtypeStruct((members, *a.shape[1:]), a.dtype),
                                       jax.eval_shape(init_carry, state))
        ids = jax.ShapeDtypeStruct((chunk,), jnp.int32)
        orders = None
        if host_orders:
            n_batches = math.ceil(n / config.batch_size)
            orders = jax.ShapeDtypeStruct((members, chunk, n_batches, config.batch_size), jnp.int32)
        lowered = jax.jit(run_members).lower(carry, _device_data(train), _device_data(val), ids, orders)
    return LoweredFit(lowered, config, time.perf_counter() - t0, n if host_orders else None, layout)


def fit(
    state: TrainState,
    objective,
    train: dict,
    val: dict | None = None,
    config: FitConfig | None = None,
    *,
    checkpointer=None,
    resume: bool = False,
    name: str = "fit",
    position: int = 0,
    program: FitProgram | None = None,
) -> FitResult:
    """Train `state` (single or stacked) on train = {"x": [n, ...], "y": [n]}; val likewise.

    Every member trains with its own init and shuffling in one compiled program. With a
    `Checkpointer`, the loop state is saved every `checkpoint_every` epochs; `resume=True` continues
    from its latest complete checkpoint and ends bit-identical to an uninterrupted run.
    """
    if config is None:
        raise TypeError("fit() needs a FitConfig, e.g. FitConfig(epochs=100)")
    if not isinstance(state, TrainState):
        raise TypeError(f"fit() needs a TrainState, got {type(state).__name__}")
    _check_inputs(state, objective, train, "train")
    _check_inputs(state, objective, val, "val")
    if checkpointer is not None and config.checkpoint_every is None:
        raise ValueError("a checkpointer needs FitConfig.checkpoint_every")
    if program is not None and program.config != config:
        raise ValueError("the FitProgram was compiled for a different FitConfig")
    single = state.num_members is None
    if single:
        state = stack([state])
    train_d, val_d = _device_data(train), _device_data(val)

    carry = init_carry(state)
    start, history = 0, []
    if resume and checkpointer is not None and checkpointer.latest_epoch() is not None:
        carry, past, start = checkpointer.restore(carry)
        history.append(past)

    if program is None:
        program = compile_fit(state, objective, train, val, config)
    chunk = config.chunk
    ids = lambda e: np.arange(e, e + chunk, dtype=np.int32)

    bar = tqdm(total=config.epochs, initial=start, desc=name, disable=not config.progress,
               position=position, leave=False, dynamic_ncols=True)
    t0 = time.perf_counter()
    epoch = start
    try:
        while epoch < config.epochs and not np.asarray(carry.stopped).all():
            carry, logs = program(carry, train_d, val_d, ids(epoch))
            logs = jax.device_get(logs)
            n_new = min(chunk, config.epochs - epoch)
            history.append(jax.tree_util.tree_map(lambda a, k=n_new: a[:, :k], logs))
            epoch += n_new
            bar.update(n_new)
            diverged, stopped = np.asarray(carry.diverged), np.asarray(carry.stopped)
            if diverged.any():
                _raise_diverged(carry, history, diverged, single, checkpointer, epoch)
            if checkpointer is not None and (epoch % chunk == 0 or epoch == config.epochs or stopped.all()):
                checkpointer.save(epoch, carry, _concat(history))
    finally:
        bar.close()
    train_s = time.perf_counter() - t0

    logs = _concat(history)
    final = carry.state
    if config.restore_best and val is not None:
        final = final.replace(params=carry.best_params, variables=carry.best_variables)
    if single:
        final = jax.tree_util.tree_map(lambda a: a[0], final)
    return FitResult(
        state=final,
        history=_logs_to_history(logs),
        best_epoch=np.asarray(carry.best_epoch),
        epochs_run=logs["ran"].sum(axis=1),
        compile_seconds=program.compile_seconds,
        train_seconds=train_s,
    )


def _concat(history: list[dict]) -> dict:
    return jax.tree_util.tree_map(lambda *a: np.concatenate(a, axis=1), *history)


def _raise_diverged(carry, history, diverged, single, checkpointer, epoch_end):
    logs = _concat(history)
    m = int(np.argmax(diverged))
    ran = logs["ran"][m]
    bad_epoch = int(np.argmin(ran)) if not ran.all() else epoch_end - 1
    if checkpointer is not None:  # keep the last good state on disk before stopping
        checkpointer.save(epoch_end, carry, logs, force=True)
    good = carry.state if not single else jax.tree_util.tree_map(lambda a: a[0], carry.state)
    raise TrainingDiverged(
        f"training diverged: loss or parameters became NaN/inf for member {m} at epoch {bad_epoch}; "
        f"the update of that epoch was not applied and the last good state is kept"
        + (f" (checkpoint at {checkpointer.directory})" if checkpointer is not None else ""),
        state=good, epoch=bad_epoch, member=m,
    )
