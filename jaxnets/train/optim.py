"""Optax optimizers and schedules by name. The learning rate is injected as a hyper-parameter, so a
vmapped stack of states can train N learning rates in one compiled program (see sweep.py)."""
from __future__ import annotations

from collections.abc import Callable

import optax

# name -> (factory(learning_rate, **kw), default kwargs)
OPTIMIZERS: dict[str, tuple[Callable, dict]] = {
    "sgd": (optax.sgd, {}),
    "momentum": (optax.sgd, {"momentum": 0.9}),
    "nesterov": (optax.sgd, {"momentum": 0.9, "nesterov": True}),
    "adam": (optax.adam, {}),
    "adamw": (optax.adamw, {"weight_decay": 1e-4}),
    "rmsprop": (optax.rmsprop, {}),
    "adagrad": (optax.adagrad, {}),
}
SCHEDULES = ("constant", "cosine", "warmup_cosine", "exponential")


def make_schedule(
    name: str, learning_rate: float, total_steps: int | None = None, warmup_steps: int = 0
) -> optax.Schedule | float:
    """A learning-rate schedule by name; "constant" returns the float itself."""
    if name not in SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; valid names: {', '.join(SCHEDULES)}")
    if name == "constant":
        return learning_rate
    if not total_steps or total_steps <= 0:
        raise ValueError(f"schedule {name!r} needs total_steps > 0, got {total_steps}")
    if name == "cosine":
        return optax.cosine_decay_schedule(learning_rate, total_steps)
    if name == "warmup_cosine":
        return optax.warmup_cosine_decay_schedule(0.0, learning_rate, warmup_steps, total_steps)
    return optax.exponential_decay(learning_rate, total_steps, decay_rate=0.1)


def make_optimizer(
    name: str | optax.GradientTransformation,
    learning_rate: float | optax.Schedule = 1e-3,
    *,
    clip_norm: float | None = None,
    **kwargs,
) -> optax.GradientTransformation:
    """`make_optimizer("adam", 1e-3)`; an Optax transformation is passed through unchanged.

    kwargs override the factory's defaults (e.g. momentum=0.8, weight_decay=1e-3).
    """
    if isinstance(name, optax.GradientTransformation):
        return name
    if not isinstance(name, str):
        raise TypeError(f"optimizer must be a name or an optax.GradientTransformation, got {type(name).__name__}")
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; valid names: {', '.join(sorted(OPTIMIZERS))}")
    if not callable(learning_rate) and not learning_rate > 0:
        raise ValueError(f"learning_rate must be > 0, got {learning_rate}")
    factory, defaults = OPTIMIZERS[name]
    kw = {**defaults, **kwargs}
    tx = optax.inject_hyperparams(lambda learning_rate: factory(learning_rate, **kw))(learning_rate=learning_rate)
    if clip_norm is not None:
        tx = optax.chain(optax.clip_by_global_norm(clip_norm), tx)
    return tx
