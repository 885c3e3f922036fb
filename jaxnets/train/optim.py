"""Optax optimizers and schedules by name. The learning rate is injected as a hyper-parameter, so a
vmapped stack of states can train N learning rates in one compiled program (see sweep.py)."""
from __future__ import annotations

import numbers
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
    if not callable(learning_rate):
        # A string such as "1e-3" (read from a config file) would fail deep inside Optax.
        if isinstance(learning_rate, bool) or not isinstance(learning_rate, numbers.Real):
            raise TypeError(f"make_optimizer({name!r}): learning_rate must be a number or an optax schedule, "
                            f"got {type(learning_rate).__name__} {learning_rate!r}")
        if not learning_rate > 0:
            raise ValueError(f"make_optimizer({name!r}): learning_rate must be > 0, got {learning_rate}")
    if clip_norm is not None:
        if isinstance(clip_norm, bool) or not isinstance(clip_norm, numbers.Real):
            raise TypeError(f"make_optimizer({name!r}): clip_norm must be a number or None, got {clip_norm!r}")
        if not clip_norm > 0:
            raise ValueError(f"make_optimizer({name!r}): clip_norm must be > 0, got {clip_norm}")
    factory, defaults = OPTIMIZERS[name]
    kw = {**defaults, **kwargs}
    tx = optax.inject_hyperparams(lambda learning_rate: factory(learning_rate, **kw))(learning_rate=learning_rate)
    if clip_norm is not None:
        tx = optax.chain(optax.clip_by_global_norm(clip_norm), tx)
    return tx


class PlayerOptimizers:
    """One Optax optimizer per player of a multi-player objective (a GAN's generator and
    discriminator): params = {player: subtree}, opt_state = {player: that optimizer's state}.

    Used as a TrainState's `tx`: `init` builds every player's state, `update_player` is what the
    generic step calls for each player in turn; `update` (all players at once, simultaneous
    gradients) keeps it a valid optax transformation.
    """

    def __init__(self, players: dict[str, optax.GradientTransformation]):
        if not isinstance(players, dict) or not players:
            raise ValueError("player_optimizers needs a non-empty dict {player name: optimizer}")
        self.players = {k: make_optimizer(v) for k, v in players.items()}

    def _check(self, tree, what: str):
        if not isinstance(tree, dict) or set(tree) != set(self.players):
            got = sorted(tree) if isinstance(tree, dict) else type(tree).__name__
            raise ValueError(f"{what} must have one entry per player {sorted(self.players)}, got {got}")

    def init(self, params):
        self._check(params, "params")
        return {k: tx.init(params[k]) for k, tx in self.players.items()}

    def update_player(self, player: str, grads, state, params=None):
        return self.players[player].update(grads, state, params)

    def update(self, grads, state, params=None):
        self._check(grads, "grads")
        out = {k: self.update_player(k, grads[k], state[k], None if params is None else params[k])
               for k in self.players}
        return {k: u for k, (u, _) in out.items()}, {k: s for k, (_, s) in out.items()}


def player_optimizers(**players: optax.GradientTransformation) -> PlayerOptimizers:
    """`player_optimizers(generator=make_optimizer("adam", 2e-4, b1=0.5), discriminator=...)`."""
    return PlayerOptimizers(players)
