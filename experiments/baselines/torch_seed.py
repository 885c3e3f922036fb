"""An idiomatic PyTorch-CPU peer of the seed recipe, for the benchmark only (torch is optional).

Same work per epoch as the NumPy baseline: shuffle, mini-batch SGD (lr 1e-3, batch 32) with
autograd on BCE-with-logits, then train accuracy and validation loss/accuracy in no-grad passes.
"""
from __future__ import annotations

import time

import numpy as np


def available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def train_seed_architectures(splits, architectures: dict, epochs=500, batch_size=32, seed=42) -> dict:
    import torch
    from torch import nn

    torch.manual_seed(seed)
    x = torch.tensor(splits.train["x"], dtype=torch.float32)
    y = torch.tensor(splits.train["y"], dtype=torch.float32)
    xv = torch.tensor(splits.val["x"], dtype=torch.float32)
    yv = torch.tensor(splits.val["y"], dtype=torch.float32)
    xt = torch.tensor(splits.test["x"], dtype=torch.float32)
    out = {}
    for name, hidden in architectures.items():
        widths = [x.shape[1], *hidden]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            lin = nn.Linear(a, b)
            nn.init.xavier_uniform_(lin.weight)
            nn.init.zeros_(lin.bias)
            layers.append(lin)
            if i < len(widths) - 2:
                layers.append(nn.ReLU())
        net = nn.Sequential(*layers)
        opt = torch.optim.SGD(net.parameters(), lr=1e-3)
        loss_fn = nn.BCEWithLogitsLoss()
        n = x.shape[0]
        t0 = time.perf_counter()
        for _ in range(epochs):
            net.train()
            perm = torch.randperm(n)
            for i in range(0, n, batch_size):
                idx = perm[i:i + batch_size]
                opt.zero_grad()
                loss = loss_fn(net(x[idx]).squeeze(-1), y[idx])
                loss.backward()
                opt.step()
            net.eval()
            with torch.no_grad():
                _ = ((net(x).squeeze(-1) > 0).float() == y).float().mean()
                zv = net(xv).squeeze(-1)
                _ = loss_fn(zv, yv), ((zv > 0).float() == yv).float().mean()
        secs = time.perf_counter() - t0
        with torch.no_grad():
            acc = float(np.mean((net(xt).squeeze(-1).numpy() > 0) == splits.test["y"]))
        out[name] = {"train_seconds": secs, "test_accuracy": acc}
    return out
