"""Idiomatic PyTorch-CPU peers of jaxnets' sequence models, for the benchmark only (torch is optional).

Each peer has the maths of its jaxnets counterpart (same widths, depth, heads, positions, norm
placement, GELU and loss), uses PyTorch's own fused modules (`nn.TransformerEncoderLayer` with
`scaled_dot_product_attention`, `nn.LSTM` / `nn.GRU`), and trains with Adam and gradient clipping
as jaxnets does: one seed after another, PyTorch's default thread count.
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


def time_token_lm(build, x: np.ndarray, y: np.ndarray, seeds: int, steps: int, batch_size: int,
                  learning_rate: float, clip_norm: float = 1.0, warmup: int = 2) -> dict:
    """Train `build()` on next-token targets (x, y: [n, len] ints) for `steps` Adam steps per seed, one
    seed after another; the first `warmup` steps of each seed are not timed. -> seconds per member-step."""
    import torch
    from torch import nn

    xs, ys = torch.as_tensor(x, dtype=torch.long), torch.as_tensor(y, dtype=torch.long)
    n = xs.shape[0]
    timed = 0.0
    for seed in range(seeds):
        torch.manual_seed(seed)
        net = build()
        opt = torch.optim.Adam(net.parameters(), lr=learning_rate)
        loss_fn = nn.CrossEntropyLoss()
        perm = torch.randperm(n)
        for i in range(warmup + steps):
            if i == warmup:
                t0 = time.perf_counter()
            idx = perm[(i * batch_size) % n:][:batch_size]
            opt.zero_grad(set_to_none=True)
            logits = net(xs[idx])
            loss = loss_fn(logits.reshape(-1, logits.shape[-1]), ys[idx].reshape(-1))
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), clip_norm)
            opt.step()
        timed += time.perf_counter() - t0
    return {"member_step_seconds": timed / (seeds * steps), "seeds": seeds, "steps": steps,
            "threads": torch.get_num_threads(), "version": torch.__version__}
