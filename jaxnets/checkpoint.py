"""Orbax checkpoints of the whole loop state (TrainState + early-stopping carry + history).

Two managers: `last/` keeps the newest N (what `resume` reads) and `best/` the one with the lowest
mean validation loss. Orbax writes each step into a temporary folder and renames it when complete,
so a process killed mid-save (even SIGKILL) leaves the previous checkpoint as the latest.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import jax
import numpy as np
import orbax.checkpoint as ocp


class Checkpointer:
    """save(epoch, carry, logs) / restore(carry_template) -> (carry, logs, epoch)."""

    def __init__(self, directory: str | Path, keep: int = 3, meta: dict | None = None):
        if keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep}")
        self.directory = Path(directory).absolute()
        self.meta = dict(meta or {})
        opts = dict(enable_async_checkpointing=False, create=True)
        self._last = ocp.CheckpointManager(
            self.directory / "last", options=ocp.CheckpointManagerOptions(max_to_keep=keep, **opts)
        )
        self._best = ocp.CheckpointManager(
            self.directory / "best",
            options=ocp.CheckpointManagerOptions(
                max_to_keep=1, best_fn=lambda m: m["val_loss"], best_mode="min", **opts
            ),
        )

    def latest_epoch(self) -> int | None:
        self._last.reload()
        return self._last.latest_step()

    def best_epoch(self) -> int | None:
        self._best.reload()
        return self._best.best_step()

    def save(self, epoch: int, carry, logs: dict, force: bool = False) -> None:
        """Write epoch's checkpoint. A write that fails (a full disk: ENOSPC, a lost mount …) raises an
        OSError naming the epoch and folder; the previous checkpoint is untouched (Orbax writes into a
        temporary folder and renames only a complete one into place; the next save replaces the
        partial folder, and restore never reads it)."""
        meta = {**self.meta, "epoch": int(epoch)}
        args = ocp.args.Composite(
            carry=ocp.args.StandardSave(carry),
            logs=ocp.args.StandardSave(logs),
            meta=ocp.args.JsonSave(meta),
        )
        val = np.asarray(logs["val"]["loss_sum"])[:, -1] / np.maximum(np.asarray(logs["val"]["count"])[:, -1], 1)
        score = float(np.nanmean(val)) if np.isfinite(val).any() else float("inf")
        try:
            self._last.save(epoch, args=args, force=force)
            self._best.save(epoch, args=args, metrics={"val_loss": score}, force=force)
        except OSError as e:
            kept = self.latest_epoch()
            raise OSError(e.errno, f"saving the checkpoint of epoch {epoch} in {self.directory} failed "
                                   f"({e.strerror or e}); the previous checkpoint "
                                   f"({'epoch ' + str(kept) if kept is not None else 'none'}) is intact: free the "
                                   f"space and continue with fit(..., resume=True)") from e

    def restore(self, carry_template, which: str = "last", epoch: int | None = None, sharding=None):
        """Restore into the structure of `carry_template` (shapes, dtypes, optax NamedTuples), placed
        with `sharding` (default: the template's own), so a run resumes on another device count.
        The newest "last" checkpoint that reads back wins: a damaged one (a truncated file) is
        skipped with a warning naming it."""
        if which not in ("last", "best"):
            raise ValueError(f"which must be 'last' or 'best', got {which!r}")
        mgr = self._last if which == "last" else self._best
        mgr.reload()
        if epoch is not None:
            steps = [epoch]
        elif which == "best":
            steps = [s for s in [mgr.best_step()] if s is not None]
        else:
            steps = sorted(mgr.all_steps(), reverse=True)
        if not steps:
            raise FileNotFoundError(f"no complete checkpoint in {self.directory / which}")
        abstract = jax.tree_util.tree_map(
            lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=sharding or getattr(a, "sharding", None)),
            carry_template)
        for i, step in enumerate(steps):
            try:
                restored = self._read(mgr, step, abstract)
            except Exception as e:  # noqa: BLE001 - any unreadable file: try the previous checkpoint
                where = self.directory / which / str(step)
                if i == len(steps) - 1:
                    raise ValueError(f"checkpoint {where} cannot be read ({type(e).__name__}: {e}) and no "
                                     f"older complete checkpoint is left in {self.directory / which}") from e
                warnings.warn(f"checkpoint {where} is damaged ({type(e).__name__}: {e}); restoring the previous "
                              f"one, epoch {steps[i + 1]}, and removing it (the resumed run saves that epoch again)",
                              stacklevel=2)
                continue
            for newer in steps[:i]:  # unreadable: a resumed run must be able to save these epochs anew
                mgr.delete(newer)
            return restored

    @staticmethod
    def _read(mgr, step: int, abstract):
        out = mgr.restore(
            step,
            args=ocp.args.Composite(
                carry=ocp.args.StandardRestore(abstract),
                logs=ocp.args.StandardRestore(),
                meta=ocp.args.JsonRestore(),
            ),
        )
        logs = jax.tree_util.tree_map(np.asarray, out["logs"])
        return out["carry"], logs, int(out["meta"]["epoch"])

    def close(self) -> None:
        self._last.close()
        self._best.close()
