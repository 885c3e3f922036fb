"""The cost of attention, measured: time and memory of a training step against sequence length.

    python -m experiments.attention_cost [--quick]

The text: self-attention "connects distant words regardless of distance" at "quadratic
complexity" in the sequence length, where an RNN is linear. One layer of each, forward and backward
(the gradient of a summed output with respect to its inputs and weights), at T = 64 … 4096:
`attention` (multi-head self-attention, the explicit softmax(QKᵀ/√d)V), `attention_chunked` (the
same outputs by `chunked_attention`: blocks of keys with an online softmax, rematerialised in the
backward pass) and `lstm` (a scanned LSTM of the same width). Time: the median of REPEATS runs of
the compiled step. Memory: XLA's count of the step's temporary bytes (noise-free). Exponents: the
slope of log(cost) against log(T) over the FIT_POINTS longest lengths.
"""
from __future__ import annotations

import dataclasses
import time

import jax
import jax.numpy as jnp
import numpy as np

from experiments.standalone import finish, header, start
from jaxnets.models.attention import chunked_attention, scaled_dot_product_attention
from jaxnets.models.rnn import SequenceModel
from jaxnets.plots import line_plot
from jaxnets.report import markdown_table

REPEATS = 5
FIT_POINTS = 3


@dataclasses.dataclass(frozen=True)
class Preset:
    lengths: tuple[int, ...] = (64, 128, 256, 512, 1024, 2048, 4096)
    batch: int = 2
    width: int = 64
    heads: int = 4
    chunk: int = 128
    seeds: int = 1  # weights drawn once: a cost, not a learned quantity
    epochs: int = 0

    def quick(self) -> Preset:
        return dataclasses.replace(self, lengths=(128, 256, 512), chunk=64)


def _attention_step(preset: Preset, chunked: bool):
    """(params, x) -> gradients of one self-attention layer (projections, attention, output)."""
    d, h = preset.width, preset.heads

    def layer(p, x):
        split = lambda a: a.reshape(*a.shape[:2], h, d // h)
        q, k, v = (split(x @ p[n]) for n in ("wq", "wk", "wv"))
        out = (chunked_attention(q, k, v, chunk=min(preset.chunk, x.shape[1])) if chunked
               else scaled_dot_product_attention(q, k, v)[0])
        return out.reshape(x.shape) @ p["wo"]

    params = {n: jax.random.normal(jax.random.key(i), (d, d)) / np.sqrt(d)
              for i, n in enumerate(("wq", "wk", "wv", "wo"))}
    return params, jax.grad(lambda p, x: jnp.sum(layer(p, x)), argnums=(0, 1))


def _lstm_step(preset: Preset):
    model = SequenceModel("lstm", hidden=preset.width, outputs=preset.width, many_to_many=True)
    x0 = jnp.zeros((preset.batch, 8, preset.width))
    params = model.init(jax.random.key(0), x0)["params"]
    return params, jax.grad(lambda p, x: jnp.sum(model.apply({"params": p}, x)), argnums=(0, 1))


def measure(params, step, preset: Preset, length: int) -> dict:
    x = jax.random.normal(jax.random.key(1), (preset.batch, length, preset.width))
    compiled = jax.jit(step).lower(params, x).compile()
    temp = int(compiled.memory_analysis().temp_size_in_bytes)
    jax.block_until_ready(compiled(params, x))  # warm-up
    times = []
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(params, x))
        times.append(time.perf_counter() - t0)
    return {"time_seconds": float(np.median(times)), "time_min": float(min(times)), "time_max": float(max(times)),
            "temp_bytes": temp}


def exponent(lengths, values) -> float:
    """Slope of log(value) against log(length) over the FIT_POINTS longest lengths."""
    n = min(FIT_POINTS, len(lengths))
    return float(np.polyfit(np.log(lengths[-n:]), np.log(values[-n:]), 1)[0])


def run(argv=None) -> dict:
    args, preset, out = start("attention_cost", Preset(), argv, __doc__)
    steps = {"attention": _attention_step(preset, False), "attention_chunked": _attention_step(preset, True),
             "lstm": _lstm_step(preset)}
    t0 = time.perf_counter()
    models = {}
    for name, (params, step) in steps.items():
        per = {str(t): measure(params, step, preset, t) for t in preset.lengths}
        if not args.no_progress:
            print(f"{name}: " + ", ".join(f"T={t} {per[str(t)]['time_seconds'] * 1e3:.1f} ms" for t in preset.lengths),
                  flush=True)
        times = [per[str(t)]["time_seconds"] for t in preset.lengths]
        mem = [max(per[str(t)]["temp_bytes"], 1) for t in preset.lengths]
        models[name] = {"per_length": per, "time_exponent": exponent(preset.lengths, times),
                        "memory_exponent": exponent(preset.lengths, mem)}
    wall = time.perf_counter() - t0

    verdict = (f"attention's time grows as T^{models['attention']['time_exponent']:.2f} and its memory as "
               f"T^{models['attention']['memory_exponent']:.2f}; the LSTM's as T^{models['lstm']['time_exponent']:.2f}"
               f" and T^{models['lstm']['memory_exponent']:.2f}; chunked attention keeps the time's growth "
               f"(T^{models['attention_chunked']['time_exponent']:.2f}) but its memory grows as "
               f"T^{models['attention_chunked']['memory_exponent']:.2f}")
    results = {**header("attention_cost", args, preset), "models": models, "fit_points": FIT_POINTS,
               "repeats": REPEATS, "verdict": verdict, "training_wall_seconds": wall}
    lengths = list(preset.lengths)
    for key, fname, label in (("time_seconds", "time_vs_length.png", "forward + backward time (s)"),
                              ("temp_bytes", "memory_vs_length.png", "temporary memory (bytes, XLA)")):
        series = {n: np.array([[m["per_length"][str(t)][key] for t in lengths]]) for n, m in models.items()}
        line_plot(lengths, series, out / fname, xlabel="sequence length T", ylabel=label, logy=True, logx=True,
                  title=f"one layer, batch {preset.batch}, width {preset.width}")
    cell = lambda r: f"{r['time_seconds'] * 1e3:.1f} ms / {r['temp_bytes'] / 2**20:.1f} MiB"
    rows = [[n, f"{m['time_exponent']:.2f}", f"{m['memory_exponent']:.2f}",
             *(cell(m["per_length"][str(t)]) for t in lengths)] for n, m in models.items()]
    table = (f"**attention_cost** · batch {preset.batch} · width {preset.width} · {preset.heads} heads · "
             f"median of {REPEATS} · exponents over the {FIT_POINTS} longest T\n\n"
             + markdown_table(["layer", "time exponent", "memory exponent", *(f"T={t}" for t in lengths)], rows)
             + f"\nVerdict: {verdict}.\n")
    return finish(out, results, table)


if __name__ == "__main__":
    run()
