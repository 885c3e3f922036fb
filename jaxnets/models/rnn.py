"""Recurrent networks written from the seed's equations (pure Flax linen), run with `nn.scan`.

Cells map (carry, x_t) -> (carry', y_t) for x_t: [batch, features]:

* `SimpleRNNCell`:  h_t = f(W_xh x_t + W_hh h_{t-1} + b_h), f = tanh or relu.
* `LSTMCell`: with v = [h_{t-1}, x_t] (the seed's concatenation, h first),
  forget_gate f_t = σ(W_f v + b_f), input_gate i_t = σ(W_i v + b_i), candidate g_t = tanh(W_g v + b_g),
  output_gate o_t = σ(W_o v + b_o); c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t, h_t = o_t ⊙ tanh(c_t). Carry (c, h).
* `GRUCell`: reset_gate r_t = σ(W_r v + b_r), update_gate z_t = σ(W_z v + b_z),
  candidate n_t = tanh(W_nx x_t + b_nx + r_t ⊙ (W_nh h_{t-1} + b_nh)), h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t-1}.
  The seed gives only r and z; for n we use the "reset after the matmul" form of cuDNN, PyTorch and
  Flax, so the three agree numerically (tested).

`Recurrent` runs any cell over [batch, time, features] with `nn.scan` (one compiled step, not a
Python loop), optionally reversed, with per-sequence lengths: padded steps leave the carry unchanged
and output zeros. `SequenceModel` stacks layers (optionally bidirectional) and adds a many-to-one or
many-to-many head.
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from jaxnets.models.mlp import _initializer
from jaxnets.nn.activations import get_activation

CELLS = ("rnn", "lstm", "gru")


def _check_hidden(owner: str, hidden) -> None:
    if not isinstance(hidden, int) or isinstance(hidden, bool) or hidden < 1:
        raise ValueError(f"{owner}.hidden must be a positive int (the hidden size), got {hidden!r}")


class _Gate(nn.Module):
    """The parameters of one gate (kernel [in, hidden], bias [hidden]) under the gate's own name."""

    hidden: int
    kernel_init: str = "xavier_uniform"
    bias: float = 0.0

    @nn.compact
    def __call__(self, in_features: int):
        kernel = self.param("kernel", _initializer(self.kernel_init), (in_features, self.hidden))
        return kernel, self.param("bias", nn.initializers.constant(self.bias), (self.hidden,))


def _fused(v: jax.Array, gates) -> list[jax.Array]:
    """Pre-activations of several gates with ONE matmul: v @ [W_1 | W_2 | …] + [b_1 | b_2 | …].

    Why: at these sizes a step is dominated by per-op overhead, not FLOPs; the concatenation of the
    (loop-invariant) kernels is hoisted out of the scan by XLA, leaving one dot per step.
    """
    kernel = jnp.concatenate([k for k, _ in gates], axis=1)
    bias = jnp.concatenate([b for _, b in gates])
    return jnp.split(v @ kernel + bias[None, :], len(gates), axis=-1)


class SimpleRNNCell(nn.Module):
    """Vanilla (Elman) cell. carry h: [batch, hidden]."""

    hidden: int
    activation: str = "tanh"
    kernel_init: str = "xavier_uniform"

    def __post_init__(self):
        _check_hidden("SimpleRNNCell", self.hidden)
        if self.activation not in ("tanh", "relu"):
            raise ValueError(f"SimpleRNNCell.activation must be 'tanh' or 'relu', got {self.activation!r}")
        super().__post_init__()

    @nn.compact
    def __call__(self, h: jax.Array, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        z = nn.Dense(self.hidden, kernel_init=_initializer(self.kernel_init), name="input")(x)  # W_xh x + b_h
        z = z + nn.Dense(self.hidden, use_bias=False, kernel_init=nn.initializers.orthogonal(), name="recurrent")(h)
        h = get_activation(self.activation)(z)
        return h, h

    def initial_carry(self, batch: int) -> jax.Array:
        return jnp.zeros((batch, self.hidden))


class LSTMCell(nn.Module):
    """Long short-term memory cell with the seed's named gates. carry (c, h): [batch, hidden] each.

    forget_bias: initial bias of the forget gate; 1.0 (Jozefowicz et al., 2015) lets the cell
    remember by default early in training — it matters for long memory tasks.
    """

    hidden: int
    forget_bias: float = 1.0
    kernel_init: str = "xavier_uniform"

    def __post_init__(self):
        _check_hidden("LSTMCell", self.hidden)
        super().__post_init__()

    @nn.compact
    def __call__(self, carry, x: jax.Array):
        c, h = carry
        v = jnp.concatenate([h, x], axis=-1)  # [h_{t-1}, x_t]
        gates = [_Gate(self.hidden, self.kernel_init, bias, name=n)(v.shape[-1])
                 for n, bias in (("forget_gate", self.forget_bias), ("input_gate", 0.0),
                                 ("candidate", 0.0), ("output_gate", 0.0))]
        z_f, z_i, z_g, z_o = _fused(v, gates)
        forget_gate, input_gate = nn.sigmoid(z_f), nn.sigmoid(z_i)
        candidate, output_gate = jnp.tanh(z_g), nn.sigmoid(z_o)
        c = forget_gate * c + input_gate * candidate
        h = output_gate * jnp.tanh(c)
        return (c, h), h

    def initial_carry(self, batch: int):
        return jnp.zeros((batch, self.hidden)), jnp.zeros((batch, self.hidden))


class GRUCell(nn.Module):
    """Gated recurrent unit with the seed's reset and update gates. carry h: [batch, hidden]."""

    hidden: int
    kernel_init: str = "xavier_uniform"

    def __post_init__(self):
        _check_hidden("GRUCell", self.hidden)
        super().__post_init__()

    @nn.compact
    def __call__(self, h: jax.Array, x: jax.Array):
        v = jnp.concatenate([h, x], axis=-1)
        z_r, z_z = _fused(v, [_Gate(self.hidden, self.kernel_init, name=n)(v.shape[-1])
                              for n in ("reset_gate", "update_gate")])
        reset_gate, update_gate = nn.sigmoid(z_r), nn.sigmoid(z_z)
        init = _initializer(self.kernel_init)
        candidate = jnp.tanh(nn.Dense(self.hidden, kernel_init=init, name="candidate_x")(x)
                             + reset_gate * nn.Dense(self.hidden, kernel_init=init, name="candidate_h")(h))
        h = (1.0 - update_gate) * candidate + update_gate * h
        return h, h

    def initial_carry(self, batch: int) -> jax.Array:
        return jnp.zeros((batch, self.hidden))


def make_cell(kind: str, hidden: int, activation: str = "tanh", name: str | None = None) -> nn.Module:
    """A cell by the seed's name: "rnn" (vanilla), "lstm" or "gru"."""
    if kind == "rnn":
        return SimpleRNNCell(hidden, activation, name=name)
    if kind == "lstm":
        return LSTMCell(hidden, name=name)
    if kind == "gru":
        return GRUCell(hidden, name=name)
    raise ValueError(f"unknown cell {kind!r}; valid names: {', '.join(CELLS)}")


def check_lengths(lengths, time_steps: int, batch: int, where: str = "lengths") -> None:
    """Host-side check of concrete lengths: ints in [1, time_steps], one per sequence."""
    if lengths is None or isinstance(lengths, jax.core.Tracer):
        return
    lengths = np.asarray(lengths)
    if lengths.shape != (batch,):
        raise ValueError(f"{where} must have shape [batch] = ({batch},), got {lengths.shape}")
    if lengths.size and (lengths.min() < 1 or lengths.max() > time_steps):
        raise ValueError(f"{where} must lie in [1, {time_steps}] (the sequence length), got range "
                         f"[{lengths.min()}, {lengths.max()}]: a mask/length longer than the sequence?")


def reverse_sequences(x: jax.Array, lengths: jax.Array | None) -> jax.Array:
    """Reverse each sequence within its own length (padding stays at the end). x: [batch, time, ...]."""
    if lengths is None:
        return x[:, ::-1]
    t = jnp.arange(x.shape[1])[None, :]
    idx = jnp.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)  # [batch, time]
    return jnp.take_along_axis(x, idx.reshape(*idx.shape, *([1] * (x.ndim - 2))), axis=1)


def _scan_step(cell, carry, inputs):
    x_t, keep = inputs  # keep: [batch, 1], 1 while t < length
    new_carry, y = cell(carry, x_t)
    new_carry = jax.tree_util.tree_map(lambda n, o: jnp.where(keep > 0, n, o), new_carry, carry)
    return new_carry, y * keep


class Recurrent(nn.Module):
    """Run `cell` over x: [batch, time, features] -> (outputs [batch, time, hidden], final carry).

    lengths: [batch] valid steps per sequence (None: all); reverse: process each sequence from its
    last valid step back to the first (outputs are returned in the original time order).
    """

    cell: nn.Module
    reverse: bool = False

    @nn.compact
    def __call__(self, x: jax.Array, lengths: jax.Array | None = None, initial_carry=None):
        if x.ndim != 3:
            raise ValueError(f"Recurrent expects x: [batch, time, features], got shape {x.shape}")
        b, t = x.shape[:2]
        check_lengths(lengths, t, b)
        if self.reverse:
            x = reverse_sequences(x, lengths)
        keep = jnp.ones((b, t), x.dtype) if lengths is None else (jnp.arange(t)[None, :] < lengths[:, None])
        carry = self.cell.initial_carry(b) if initial_carry is None else initial_carry
        scan = nn.scan(_scan_step, variable_broadcast="params", split_rngs={"params": False},
                       in_axes=1, out_axes=1)
        carry, ys = scan(self.cell, carry, (x, keep.astype(x.dtype)[..., None]))
        if self.reverse:
            ys = reverse_sequences(ys, lengths)
        return ys, carry


class SequenceModel(nn.Module):
    """Stacked (optionally bidirectional) recurrent layers with a head.

    x: [batch, time, features] floats, or [batch, time] token ids when vocab_size is set (embedded to
    `embed` dims). many_to_many=False: logits [batch, outputs] from the last valid step of the top
    layer (and the first step of its backward direction); True: [batch, time, outputs] per step.
    """

    cell: str = "lstm"
    hidden: int = 64
    outputs: int = 1
    layers: int = 1
    bidirectional: bool = False
    many_to_many: bool = False
    vocab_size: int | None = None
    embed: int = 32
    activation: str = "tanh"

    def __post_init__(self):
        if self.cell not in CELLS:
            raise ValueError(f"unknown cell {self.cell!r}; valid names: {', '.join(CELLS)}")
        _check_hidden("SequenceModel", self.hidden)
        for name in ("outputs", "layers", "embed"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"SequenceModel.{name} must be a positive int, got {v!r}")
        if self.vocab_size is not None and self.vocab_size < 1:
            raise ValueError(f"SequenceModel.vocab_size must be a positive int or None, got {self.vocab_size!r}")
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False, lengths: jax.Array | None = None) -> jax.Array:
        if self.vocab_size is not None:
            if x.ndim != 2:
                raise ValueError(f"SequenceModel with vocab_size expects token ids [batch, time], got shape {x.shape}")
            x = nn.Embed(self.vocab_size, self.embed, name="embedding")(x)
        elif x.ndim != 3:
            raise ValueError(f"SequenceModel expects x: [batch, time, features], got shape {x.shape}")
        b, t = x.shape[:2]
        check_lengths(lengths, t, b)
        for layer in range(self.layers):
            # The cell is created here, so its parameters live under this module as layer_{i}
            # (and layer_{i}_backward): the Recurrent wrapper itself has none.
            cell = make_cell(self.cell, self.hidden, self.activation, name=f"layer_{layer}")
            fwd, _ = Recurrent(cell)(x, lengths)
            if self.bidirectional:
                cell = make_cell(self.cell, self.hidden, self.activation, name=f"layer_{layer}_backward")
                bwd, _ = Recurrent(cell, reverse=True)(x, lengths)
                x = jnp.concatenate([fwd, bwd], axis=-1)
            else:
                x = fwd
        head = nn.Dense(self.outputs, name="output")
        if self.many_to_many:
            return head(x)
        last = (jnp.full((b,), t) if lengths is None else lengths) - 1
        summary = jnp.take_along_axis(x[:, :, :self.hidden], last[:, None, None], axis=1)[:, 0]
        if self.bidirectional:  # the backward direction has read the whole sequence at step 0
            summary = jnp.concatenate([summary, x[:, 0, self.hidden:]], axis=-1)
        return head(summary)


class Seq2SeqRNN(nn.Module):
    """Encoder-decoder without attention (Sutskever et al. 2014): the encoder's final state is the
    decoder's initial state, the only path from the source to the target. x = [source ids ‖ decoder
    input ids] along time ([batch, src_len + tgt_len]; 0 pads the source at its end) -> logits
    [batch, tgt_len, vocab_size]; the decoder input is the target shifted right behind a start token."""

    vocab_size: int
    src_len: int
    cell: str = "lstm"
    hidden: int = 64
    embed: int = 32

    def __post_init__(self):
        if self.cell not in CELLS:
            raise ValueError(f"unknown cell {self.cell!r}; valid names: {', '.join(CELLS)}")
        _check_hidden("Seq2SeqRNN", self.hidden)
        super().__post_init__()

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        if x.ndim != 2 or x.shape[1] <= self.src_len:
            raise ValueError(f"Seq2SeqRNN expects [batch, src_len={self.src_len} + tgt_len] ids, got {x.shape}")
        src, tgt = x[:, :self.src_len], x[:, self.src_len:]
        embed = nn.Embed(self.vocab_size, self.embed, name="embedding")
        lengths = jnp.maximum((src != 0).sum(1), 1)
        _, state = Recurrent(make_cell(self.cell, self.hidden, name="encoder"))(embed(src), lengths)
        ys, _ = Recurrent(make_cell(self.cell, self.hidden, name="decoder"))(embed(tgt), None, initial_carry=state)
        return nn.Dense(self.vocab_size, name="output")(ys)


def hidden_gradient_norms(model: SequenceModel, params, x: jax.Array, y: jax.Array, loss=None) -> jax.Array:
    """‖∂loss/∂h_t‖ for t = 1..T: how strongly the loss at the end still depends on the hidden state
    at step t (the seed's "telephone game"). x: [batch, T, features], y: targets -> [T].

    Total derivatives through the recurrence, taken by adding a zero perturbation e_t to each h_t and
    differentiating with respect to it. For a one-layer, one-direction, many-to-one SequenceModel;
    loss(pred, y) per example defaults to the mean squared error.
    """
    if model.layers != 1 or model.bidirectional or model.many_to_many or model.vocab_size is not None:
        raise ValueError("hidden_gradient_norms needs a one-layer, one-direction, many-to-one SequenceModel")
    if x.ndim != 3:
        raise ValueError(f"x must be [batch, time, features], got shape {x.shape}")
    from jaxnets.nn.losses import mse

    loss = mse if loss is None else loss
    cell = make_cell(model.cell, model.hidden, model.activation)
    b, t = x.shape[:2]

    def add_to_h(carry, e):
        return (carry[0], carry[1] + e) if isinstance(carry, tuple) else carry + e

    def total_loss(eps):  # eps: [T, batch, hidden]
        def step(carry, inputs):
            x_t, e_t = inputs
            carry, _ = cell.apply({"params": params["layer_0"]}, carry, x_t)
            return add_to_h(carry, e_t), None

        carry, _ = jax.lax.scan(step, cell.initial_carry(b), (jnp.swapaxes(x, 0, 1), eps))
        h = carry[1] if isinstance(carry, tuple) else carry
        pred = nn.Dense(model.outputs).apply({"params": params["output"]}, h)
        return jnp.mean(loss(pred, jnp.reshape(y, pred.shape)))

    g = jax.grad(total_loss)(jnp.zeros((t, b, model.hidden), x.dtype))
    return jnp.sqrt(jnp.sum(g ** 2, axis=(1, 2)))
