"""`make bench`'s sequence rows: jaxnets against PyTorch-CPU, same model, same work, same machine.

    python -m experiments.bench_sequences [--out DIR] [--quick] [--repeats R]

Workload `char_transformer`: the causal Transformer of `experiments.char_transformer` (d_model 64,
4 heads, 2 layers, feed-forward 128, sequences of 100 characters of the same corpus, batch 64,
Adam 3e-3 with the gradient clipped at norm 1). jaxnets trains `seeds` members as one program over
all devices (the engine's way); PyTorch trains one seed after another with its default threads.
Each side's figure is seconds per member-step (one batch: forward, backward, update) with compiles
and warm-up steps excluded, the best of `repeats` timed runs, the two sides taking turns. Reported:
tokens/s of each side, their ratio (`transformer_vs_torch`), and the achieved FLOP/s of jaxnets'
training step as a fraction of this machine's float32 matmul peak (`transformer_peak_fraction`).
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import time
from pathlib import Path

from experiments.baselines import torch_seed, torch_sequences
from jaxnets import setup_cpu
from jaxnets.report import markdown_table, write_json


@dataclasses.dataclass(frozen=True)
class TransformerWorkload:
    """char_transformer's model and optimiser (see its Preset)."""

    length: int = 100
    d_model: int = 64
    num_heads: int = 4
    num_layers: int = 2
    ff_dim: int = 128
    batch_size: int = 64
    learning_rate: float = 3e-3
    clip_norm: float = 1.0
    seeds: int = 4
    batches: int = 8  # distinct batches per epoch


def transformer_train_flops(vocab_size: int, d_model: int, num_layers: int, ff_dim: int, length: int) -> float:
    """Matmul FLOPs of one training step per token: forward 2 x (the layers' projections 4·d² + 2·d·ff,
    both attention products over the full length 2·len·d (as computed, masked or not), the output
    layer d·vocab) multiply-adds, and backward twice the forward. Embedding lookups are free."""
    macs = num_layers * (4 * d_model**2 + 2 * d_model * ff_dim + 2 * length * d_model) + d_model * vocab_size
    return 3 * 2 * macs


def char_data(w: TransformerWorkload) -> tuple[dict, int]:
    """batches x batch_size sequences of the corpus char_transformer trains on, and the vocabulary size."""
    from jaxnets.data.text import CharVocab, char_sequences, load_python_docs

    text = load_python_docs()
    vocab = CharVocab.build(text)
    n = w.batches * w.batch_size
    return char_sequences(vocab.encode(text)[: n * w.length + 1], w.length), vocab.size


def jaxnets_timer(w: TransformerWorkload, data: dict, vocab_size: int, epochs: int):
    """Compile `w.seeds` members as one program (over all devices) and run it once; -> (a function that
    times one more run in seconds per member-step, facts about the program)."""
    import jax

    from jaxnets.models.transformer import TransformerLM
    from jaxnets.train import FitConfig, TokenClassification, compile_fit, create_states, fit, make_optimizer

    model = TransformerLM(vocab_size, d_model=w.d_model, num_heads=w.num_heads, num_layers=w.num_layers,
                          ff_dim=w.ff_dim, max_len=w.length)
    tx = make_optimizer("adam", w.learning_rate, clip_norm=w.clip_norm)
    state = create_states(model, tx, range(w.seeds), data["x"])
    objective = TokenClassification(vocab_size)
    config = FitConfig(epochs=epochs, batch_size=w.batch_size, progress=False)
    program = compile_fit(state, objective, data, None, config)
    fit(state, objective, data, None, config, program=program)  # warm-up: first-call costs
    steps = epochs * w.batches * w.seeds
    timer = lambda: fit(state, objective, data, None, config, program=program).train_seconds / steps
    return timer, {"seeds": w.seeds, "devices": jax.device_count(), "compile_seconds": program.compile_seconds}


def measure_transformer(repeats: int = 3, quick: bool = False) -> dict:
    """Both sides of the char_transformer row, and the row's ratios. The sides alternate, `repeats`
    times each, and each keeps its best run: a machine that slows down for a while hits both."""
    from experiments.benchmark import matmul_peak_gflops

    w = TransformerWorkload(seeds=2, batches=2) if quick else TransformerWorkload()
    data, vocab_size = char_data(w)
    tokens = w.batch_size * w.length
    timer, facts = jaxnets_timer(w, data, vocab_size, epochs=1 if quick else 2)
    build = lambda: torch_sequences.char_transformer(vocab_size, w.d_model, w.num_heads, w.num_layers, w.ff_dim,
                                                     w.length)
    jx_runs, peer_runs = [], []
    for _ in range(repeats):
        jx_runs.append(timer())
        if torch_seed.available():
            peer_runs.append(torch_sequences.time_token_lm(build, data["x"], data["y"], w.seeds, 2 if quick else 12,
                                                           w.batch_size, w.learning_rate, w.clip_norm))
    jx = {**facts, "member_step_seconds": min(jx_runs), "all_seconds": jx_runs}
    peer = None
    if peer_runs:
        peer = min(peer_runs, key=lambda r: r["member_step_seconds"])
        peer["all_seconds"] = [r["member_step_seconds"] for r in peer_runs]
    flops = transformer_train_flops(vocab_size, w.d_model, w.num_layers, w.ff_dim, w.length) * tokens
    peak = matmul_peak_gflops()
    achieved = flops / jx["member_step_seconds"] / 1e9
    return {
        "workload": dataclasses.asdict(w), "vocab_size": vocab_size, "tokens_per_step": tokens,
        "jaxnets": {**jx, "tokens_per_second": tokens / jx["member_step_seconds"], "gflops": achieved},
        "torch": None if peer is None else {**peer, "tokens_per_second": tokens / peer["member_step_seconds"]},
        "train_flops_per_step": flops, "matmul_peak_gflops": peak,
        "ratios": {"transformer_vs_torch": None if peer is None
                   else peer["member_step_seconds"] / jx["member_step_seconds"],
                   "transformer_peak_fraction": achieved / peak},
    }


def rows(res: dict) -> list[list]:
    """Markdown rows for the char_transformer workload."""
    jx, pt, r = res["jaxnets"], res["torch"], res["ratios"]
    w = res["workload"]
    what = (f"char Transformer (d {w['d_model']}, {w['num_layers']} layers, {w['num_heads']} heads, "
            f"{w['batch_size']} x {w['length']} tokens), {w['seeds']} seeds")
    out = [[f"{what}: jaxnets, one program on {jx['devices']} devices", f"{1e3 * jx['member_step_seconds']:.1f}",
            f"{jx['tokens_per_second']:,.0f}",
            f"{jx['gflops']:.1f} GFLOP/s = {100 * r['transformer_peak_fraction']:.0f} % of the "
            f"{res['matmul_peak_gflops']:.0f} GFLOP/s matmul peak"]]
    if pt is None:
        out.append([f"{what}: PyTorch-CPU", "–", "–", "torch not installed"])
    else:
        out.append([f"{what}: PyTorch-CPU, seeds one after another, {pt['threads']} threads",
                    f"{1e3 * pt['member_step_seconds']:.1f}", f"{pt['tokens_per_second']:,.0f}",
                    f"jaxnets / PyTorch: {r['transformer_vs_torch']:.2f}x (torch {pt['version']})"])
    return out


HEADERS = ["workload", "ms per member-step", "tokens/s", "notes"]


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m experiments.bench_sequences", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--quick", action="store_true", help="2 seeds, 2 batches, 1 repeat (smoke test)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    setup_cpu()
    import jax

    out = args.out or Path("runs") / "bench_sequences" / time.strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    res = measure_transformer(1 if args.quick else args.repeats, args.quick)
    table = markdown_table(HEADERS, rows(res))
    results = {"experiment": "bench_sequences", "jax_version": jax.__version__, "backend": jax.default_backend(),
               "cpu_count": os.cpu_count(), "machine": platform.machine(), "char_transformer": res,
               "ratios": res["ratios"], "table": rows(res)}
    write_json(out / "results.json", results)
    (out / "results.md").write_text(f"**bench_sequences** · {platform.machine()} · {os.cpu_count()} cores · jax "
                                    f"{jax.__version__}\n\n" + table)
    print(table)
    print(f"wrote {out}/results.json, results.md")
    return results


if __name__ == "__main__":
    main()


run = main
