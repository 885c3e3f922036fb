"""Optax optimizers and schedules by name. Every numeric setting (learning rate, weight decay,
momentum, β₁ …) is injected as a hyper-parameter of the optimizer state, so a vmapped stack of states
trains N settings in one compiled program (see sweep.py). Weight decay never touches biases, norm
scales or embeddings (`decay_mask`)."""
from __future__ import annotations

import dataclasses
import inspect
import numbers
from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax
import optax.contrib

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
SCHEDULES = ("constant", "step", "cosine", "warmup_cosine", "exponential")


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
    if name == "step":  # ×0.1 at half and again at three quarters of training (the ResNet recipe)
        return optax.piecewise_constant_schedule(learning_rate, {total_steps // 2: 0.1, (3 * total_steps) // 4: 0.1})
    if name == "cosine":
        return optax.cosine_decay_schedule(learning_rate, total_steps)
    if name == "warmup_cosine":
        return optax.warmup_cosine_decay_schedule(0.0, learning_rate, warmup_steps, total_steps)
    return optax.exponential_decay(learning_rate, total_steps, decay_rate=0.1)


def decay_mask(params):
    """True for the leaves weight decay applies to: weight matrices and filters (leaves named
    "kernel"), not biases, norm scales/offsets or embeddings."""
    return jax.tree_util.tree_map_with_path(
        lambda path, _: bool(path) and getattr(path[-1], "key", None) == "kernel", params)


def _check_number(owner: str, name: str, value, low: float, strict: bool) -> None:
    if callable(value) and name == "learning_rate":
        return  # a schedule
    # A string such as "1e-3" (read from a config file) would fail deep inside Optax.
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {name} must be a number, got {type(value).__name__} {value!r}")
    if not (value > low if strict else value >= low):
        raise ValueError(f"{owner}: {name} must be {'>' if strict else '>='} {low}, got {value}")


def make_optimizer(
    name: str | optax.GradientTransformation,
    learning_rate: float | optax.Schedule = 1e-3,
    *,
    clip_norm: float | None = None,
    weight_decay: float | None = None,
    **kwargs,
) -> optax.GradientTransformation:
    """`make_optimizer("adam", 1e-3)`; an Optax transformation is passed through unchanged.

    kwargs override the factory's defaults (e.g. momentum=0.8, b1=0.5). weight_decay: for "adamw"
    the decoupled decay (Loshchilov & Hutter; default 1e-4); for any other optimizer the L2 term
    weight_decay·w added to the gradient before the update (as PyTorch's `weight_decay`). Either way
    only kernels decay (`decay_mask`). Every number given here is an injected hyper-parameter.
    """
    if isinstance(name, optax.GradientTransformation):
        return name
    if not isinstance(name, str):
        raise TypeError(f"optimizer must be a name or an optax.GradientTransformation, got {type(name).__name__}")
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; valid names: {', '.join(sorted(OPTIMIZERS))}")
    owner = f"make_optimizer({name!r})"
    _check_number(owner, "learning_rate", learning_rate, 0.0, strict=True)
    if clip_norm is not None:
        _check_number(owner, "clip_norm", clip_norm, 0.0, strict=True)
    factory, defaults = OPTIMIZERS[name]
    kw = {**defaults, **kwargs}
    if name == "adamw":
        kw["weight_decay"] = kw["weight_decay"] if weight_decay is None else weight_decay
    elif weight_decay is not None:
        kw["weight_decay"] = weight_decay
    for k, v in kw.items():  # momentum, β₁, ε, weight decay …: none is meaningful below 0
        if isinstance(v, numbers.Real) and not isinstance(v, bool):
            _check_number(owner, k, v, 0.0, strict=False)

    def inner(learning_rate, weight_decay=None, **kw):
        if name == "adamw":
            return factory(learning_rate, weight_decay=weight_decay, mask=decay_mask, **kw)
        tx = factory(learning_rate, **kw)
        if weight_decay is None:
            return tx
        return optax.chain(optax.add_decayed_weights(weight_decay, decay_mask), tx)

    # inject_hyperparams reads the factory's signature: name each setting (a bare **kw would be
    # bound as one argument called "kw").
    names = ["learning_rate", *kw]
    inner.__signature__ = inspect.Signature(
        [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names])
    # float32 hyper-parameters whatever the parameters' dtype: sweeps set them per member.
    tx = optax.inject_hyperparams(inner, hyperparam_dtype=jnp.float32)(learning_rate=learning_rate, **kw)
    if clip_norm is not None:
        tx = optax.chain(optax.clip_by_global_norm(clip_norm), tx)
    return tx


@dataclasses.dataclass(frozen=True)
class Plateau:
    """Reduce the learning rate when the monitored loss stops improving (`FitConfig(reduce_on_plateau=
    Plateau(...))`): after `patience` epochs without a relative improvement of `rtol` (and absolute
    `atol`), every update is scaled by `factor` once more, never below `min_scale`, then `cooldown`
    epochs pass before counting again. The loss is FitConfig.monitor's (the validation loss by
    default), read once per epoch; the decision is `optax.contrib.reduce_on_plateau`'s own."""

    factor: float = 0.5
    patience: int = 5
    rtol: float = 1e-4
    atol: float = 0.0
    cooldown: int = 0
    min_scale: float = 0.0

    def __post_init__(self):
        if not 0 < self.factor < 1:
            raise ValueError(f"Plateau.factor must be in (0, 1), got {self.factor}")
        for name in ("patience", "cooldown"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < (1 if name == "patience" else 0):
                raise ValueError(f"Plateau.{name} must be an int >= {1 if name == 'patience' else 0}, got {v!r}")
        for name in ("rtol", "atol", "min_scale"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"Plateau.{name} must be >= 0, got {getattr(self, name)}")

    def transform(self) -> optax.GradientTransformationExtraArgs:
        """The optax transformation whose state and per-epoch update the engine uses (one value per call)."""
        return optax.contrib.reduce_on_plateau(factor=self.factor, patience=self.patience, rtol=self.rtol,
                                               atol=self.atol, cooldown=self.cooldown, accumulation_size=1,
                                               min_scale=self.min_scale)


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
