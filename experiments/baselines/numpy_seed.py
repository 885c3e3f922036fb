"""The seed text's algorithm, re-implemented in NumPy for the benchmark: same math, same per-epoch work.

Per epoch, as in the text's `NeuralNetwork.fit`: shuffle; mini-batch SGD with hand-written backprop
(ReLU hidden layers, sigmoid + BCE output, Xavier-uniform init, zero biases) and the batch loss;
then `predict` on the whole training set and `sklearn.metrics.accuracy_score` for train accuracy;
`predict_proba` on the validation set for its loss, `predict` on it again and `accuracy_score` for
its accuracy. float64, like the text. The RNG is an explicit `np.random.Generator` (no global seeding).

`lean=True` drops what the text does beyond the math (the second validation pass and sklearn's
input validation in `accuracy_score`, 4,000 calls per benchmark): a stronger baseline, reported
beside the faithful one. Measured here: the text's own code 5.89 s, faithful 5.3-5.6 s, lean 3.3-3.4 s.
"""
from __future__ import annotations

import time

import numpy as np
from sklearn.metrics import accuracy_score


def _relu(z):
    return np.maximum(z, 0.0)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.clip(z, -500, 500)))


class SeedMLP:
    """layers: the seed's list [in, hidden..., 1]; binary classifier trained by plain SGD."""

    def __init__(self, layers, learning_rate=1e-3, seed=42):
        self.rng = np.random.default_rng(seed)
        self.lr = learning_rate
        self.w, self.b = [], []
        for fan_in, fan_out in zip(layers[:-1], layers[1:]):
            lim = np.sqrt(6.0 / (fan_in + fan_out))
            self.w.append(self.rng.uniform(-lim, lim, (fan_in, fan_out)))
            self.b.append(np.zeros((1, fan_out)))

    def forward(self, x):
        acts, zs = [x], []
        for i, (w, b) in enumerate(zip(self.w, self.b)):
            z = acts[-1] @ w + b
            zs.append(z)
            acts.append(_sigmoid(z) if i == len(self.w) - 1 else _relu(z))
        return acts, zs

    def step(self, x, y):
        acts, zs = self.forward(x)
        m = x.shape[0]
        delta = acts[-1] - y  # sigmoid + BCE
        for i in range(len(self.w) - 1, -1, -1):
            dw = acts[i].T @ delta / m
            db = delta.mean(axis=0, keepdims=True)
            if i > 0:
                delta = (delta @ self.w[i].T) * (zs[i - 1] > 0)
            self.w[i] -= self.lr * dw
            self.b[i] -= self.lr * db
        p = np.clip(acts[-1], 1e-15, 1 - 1e-15)
        return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))

    def predict_proba(self, x):
        return self.forward(x)[0][-1]

    def predict(self, x):
        return (self.predict_proba(x) > 0.5).astype(int).ravel()

    def fit(self, x, y, x_val, y_val, epochs=500, batch_size=32, lean=False):
        y, y_val = y.reshape(-1, 1).astype(np.float64), y_val.reshape(-1, 1).astype(np.float64)
        n = x.shape[0]
        hist = []
        for _ in range(epochs):
            order = self.rng.permutation(n)
            xs, ys = x[order], y[order]
            losses = [self.step(xs[i:i + batch_size], ys[i:i + batch_size]) for i in range(0, n, batch_size)]
            pv = np.clip(self.predict_proba(x_val), 1e-15, 1 - 1e-15)
            val_loss = -np.mean(y_val * np.log(pv) + (1 - y_val) * np.log(1 - pv))
            if lean:
                train_acc = np.mean((self.predict_proba(x) > 0.5) == y)
                val_acc = np.mean((pv > 0.5) == y_val)
            else:  # the text's per-epoch work: predict() passes and sklearn's accuracy_score
                train_acc = accuracy_score(y, self.predict(x))
                val_acc = accuracy_score(y_val, self.predict(x_val))
            hist.append((float(np.mean(losses)), train_acc, val_loss, val_acc))
        return hist


def train_seed_architectures(splits, architectures: dict, epochs=500, batch_size=32, seed=42, lean=False) -> dict:
    """Train each seed architecture; returns {name: {"train_seconds", "test_accuracy"}}."""
    x, y = splits.train["x"].astype(np.float64), splits.train["y"]
    xv, yv = splits.val["x"].astype(np.float64), splits.val["y"]
    out = {}
    for name, hidden in architectures.items():
        net = SeedMLP([x.shape[1], *hidden], seed=seed)
        t0 = time.perf_counter()
        net.fit(x, y, xv, yv, epochs=epochs, batch_size=batch_size, lean=lean)
        secs = time.perf_counter() - t0
        acc = float(np.mean((net.predict_proba(splits.test["x"].astype(np.float64))[:, 0] > 0.5) == splits.test["y"]))
        out[name] = {"train_seconds": secs, "test_accuracy": acc}
    return out
