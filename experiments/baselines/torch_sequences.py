"""Idiomatic PyTorch-CPU peers of jaxnets' sequence models, for the benchmark only (torch is optional).

Each peer has the maths of its jaxnets counterpart (same widths, depth, heads, positions, norm
placement, GELU and loss) and uses PyTorch's own fused modules (`nn.TransformerEncoderLayer` with
`scaled_dot_product_attention`, `nn.LSTM` / `nn.GRU`). It trains with Adam and gradient clipping,
as jaxnets does, one seed after another on PyTorch's default threads, with denormals flushed to zero.
"""
from __future__ import annotations

import math
import time

import numpy as np


def char_transformer(vocab_size: int, d_model: int, num_heads: int, num_layers: int, ff_dim: int, max_len: int):
    """The peer of `TransformerLM` (pre-norm, sinusoidal positions, tanh-GELU, no dropout):
    tokens [batch, len] -> logits [batch, len, vocab_size]."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    class CharTransformer(nn.Module):
        def __init__(self):
            super().__init__()
            self.tokens = nn.Embedding(vocab_size, d_model)
            pos = torch.arange(max_len, dtype=torch.float32)[:, None]
            freq = torch.exp(-math.log(10000.0) * torch.arange(0, d_model, 2, dtype=torch.float32) / d_model)
            table = torch.zeros(max_len, d_model)
            table[:, 0::2], table[:, 1::2] = torch.sin(pos * freq), torch.cos(pos * freq)
            self.register_buffer("positions", table)
            self.blocks = nn.ModuleList(nn.TransformerEncoderLayer(
                d_model, num_heads, ff_dim, dropout=0.0, activation=lambda x: F.gelu(x, approximate="tanh"),
                batch_first=True, norm_first=True) for _ in range(num_layers))
            self.final_norm = nn.LayerNorm(d_model)
            self.head = nn.Linear(d_model, vocab_size)

        def forward(self, x):
            t = x.shape[1]
            h = self.tokens(x) * math.sqrt(d_model) + self.positions[:t]
            mask = nn.Transformer.generate_square_subsequent_mask(t)
            for block in self.blocks:
                h = block(h, src_mask=mask, is_causal=True)
            return self.head(self.final_norm(h))

    return CharTransformer()


def recurrent(cell: str, hidden: int, outputs: int, features: int | None = None, vocab_size: int | None = None,
              embed: int | None = None, many_to_many: bool = False):
    """The peer of `SequenceModel(cell, hidden, outputs, ...)` with one layer: `nn.LSTM` / `nn.GRU` /
    `nn.RNN` (PyTorch's fused cells), an optional embedding, and a linear head on the last step
    (many-to-one) or on every step. x: [batch, time, features] or token ids [batch, time]."""
    from torch import nn

    class Recurrent(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(vocab_size, embed) if vocab_size else None
            layer = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell]
            self.rnn = layer(embed if vocab_size else features, hidden, batch_first=True)
            self.head = nn.Linear(hidden, outputs)

        def forward(self, x):
            h, _ = self.rnn(self.embedding(x) if self.embedding is not None else x)
            return self.head(h if many_to_many else h[:, -1])

    return Recurrent()


def time_training(build, x: np.ndarray, y: np.ndarray, loss: str, seeds: int, steps: int, batch_size: int,
                  learning_rate: float, clip_norm: float = 1.0, warmup: int = 2) -> dict:
    """Train `build()` for `steps` Adam steps per seed, one seed after another; the first `warmup` steps
    of each seed are not timed. loss "tokens": next-token cross-entropy (x, y: [n, len] ints); "mse":
    regression of y [n] from x [n, time, features]. -> seconds per member-step."""
    import torch

    # Denormals flushed to zero, as XLA:CPU does: gradients decaying through 200 LSTM steps reached the
    # denormal range and made PyTorch's LSTM backward up to 5.5x slower here without it (39.5 vs 7.2 ms).
    flushed = torch.set_flush_denormal(True)
    try:
        return _time_training(build, x, y, loss, seeds, steps, batch_size, learning_rate, clip_norm, warmup)
    finally:
        if flushed:
            torch.set_flush_denormal(False)


def _time_training(build, x, y, loss, seeds, steps, batch_size, learning_rate, clip_norm, warmup) -> dict:
    import torch
    from torch import nn

    xs = torch.as_tensor(x, dtype=torch.long if loss == "tokens" else torch.float32)
    ys = torch.as_tensor(y, dtype=torch.long if loss == "tokens" else torch.float32)
    n = xs.shape[0]
    timed = 0.0
    for seed in range(seeds):
        torch.manual_seed(seed)
        net = build()
        opt = torch.optim.Adam(net.parameters(), lr=learning_rate)
        perm = torch.randperm(n)
        for i in range(warmup + steps):
            if i == warmup:
                t0 = time.perf_counter()
            idx = perm[(i * batch_size) % n:][:batch_size]
            opt.zero_grad(set_to_none=True)
            out = net(xs[idx])
            if loss == "tokens":
                value = nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), ys[idx].reshape(-1))
            else:
                value = nn.functional.mse_loss(out.squeeze(-1), ys[idx])
            value.backward()
            nn.utils.clip_grad_norm_(net.parameters(), clip_norm)
            opt.step()
        timed += time.perf_counter() - t0
    return {"member_step_seconds": timed / (seeds * steps), "seeds": seeds, "steps": steps,
            "threads": torch.get_num_threads(), "version": torch.__version__}
