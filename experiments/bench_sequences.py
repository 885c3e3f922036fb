"""`make bench`'s sequence rows: jaxnets against PyTorch-CPU, same model, same work, same machine.

    python -m experiments.bench_sequences [--out DIR] [--quick] [--repeats R]

Workloads (each: its model, data, batch 64, Adam with the gradient clipped at norm 1):
  * `char_transformer`: the causal Transformer of `experiments.char_transformer` (d_model 64,
    4 heads, 2 layers, feed-forward 128) on sequences of 100 characters of its corpus, 4 seeds;
  * `lstm`, `gru`: the adding problem of `memory_capacity` at T = 200, hidden 32, 5 seeds;
  * `char_lstm`: `text_generation`'s LSTM (embedding 32, hidden 64, many-to-many), 100 characters, 5 seeds.
jaxnets trains the seeds as one program over all devices (the engine's way); PyTorch (`nn.LSTM`,
`nn.GRU`, `nn.TransformerEncoderLayer`) trains one seed after another with its default threads.
Each side's figure is seconds per member-step (one batch: forward, backward, update) with compiles
and warm-up steps excluded, the best of `repeats` timed runs, the two sides taking turns. Reported:
each side's examples (tokens) per second, their ratio (`<workload>_vs_torch`), and for the
Transformer the achieved FLOP/s as a fraction of this machine's float32 matmul peak
(`transformer_peak_fraction`).
"""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from experiments.baselines import torch_seed, torch_sequences
from experiments.standalone import bench_folder, write_bench
from jaxnets import setup_cpu


@dataclasses.dataclass(frozen=True)
class Workload:
    name: str
    seeds: int
    length: int  # time steps per sequence
    hidden: int  # RNN hidden size = Transformer d_model
    batch_size: int
    learning_rate: float
    clip_norm: float = 1.0
    batches: int = 8  # distinct batches per epoch
    embed: int = 32
    num_heads: int = 4
    num_layers: int = 2
    ff_dim: int = 128


def _workloads() -> dict[str, Workload]:
    """Each workload with its experiment's own settings (read from the experiment's Preset)."""
    from experiments import char_transformer, memory_capacity, text_generation

    ct, mc, tg = char_transformer.Preset(), memory_capacity.Preset(), text_generation.Preset()
    adding = dict(seeds=mc.seeds, length=max(mc.lengths), hidden=mc.hidden, batch_size=mc.batch_size,
                  learning_rate=mc.learning_rate, clip_norm=mc.clip_norm)
    return {
        "char_transformer": Workload("char_transformer", seeds=4, length=ct.length, hidden=ct.width,
                                     batch_size=ct.batch_size, learning_rate=ct.learning_rate, num_heads=ct.heads,
                                     num_layers=ct.layers, ff_dim=2 * ct.width),
        "lstm": Workload("lstm", **adding),
        "gru": Workload("gru", **adding),
        "char_lstm": Workload("char_lstm", seeds=5, length=tg.length, hidden=tg.hidden, batch_size=tg.batch_size,
                              learning_rate=tg.learning_rate, embed=tg.embed),
    }


WORKLOADS = _workloads()


def transformer_train_flops(vocab_size: int, d_model: int, num_layers: int, ff_dim: int, length: int) -> float:
    """Matmul FLOPs of one training step per token: forward 2 x (the layers' projections 4·d² + 2·d·ff,
    both attention products over the full length 2·len·d (as computed, masked or not), the output
    layer d·vocab) multiply-adds, and backward twice the forward. Embedding lookups are free."""
    macs = num_layers * (4 * d_model**2 + 2 * d_model * ff_dim + 2 * length * d_model) + d_model * vocab_size
    return 3 * 2 * macs


def char_data(w: Workload) -> tuple[dict, int]:
    """batches x batch_size sequences of the corpus the character models train on, and the vocabulary size."""
    from jaxnets.data.text import CharVocab, char_sequences, load_python_docs

    text = load_python_docs()
    vocab = CharVocab.build(text)
    n = w.batches * w.batch_size
    return char_sequences(vocab.encode(text)[: n * w.length + 1], w.length), vocab.size


def parts(w: Workload):
    """(data, jaxnets model, objective, a builder of the PyTorch peer, the peer's loss, examples per step)."""
    from jaxnets.data.synthetic import adding_problem
    from jaxnets.models.rnn import SequenceModel
    from jaxnets.models.transformer import TransformerLM
    from jaxnets.train import Regression, TokenClassification

    if w.name in ("lstm", "gru"):
        data = adding_problem(w.batches * w.batch_size, w.length, seed=0)
        build = lambda: torch_sequences.recurrent(w.name, w.hidden, 1, features=2)
        return data, SequenceModel(w.name, hidden=w.hidden), Regression(), build, "mse", w.batch_size
    data, vocab = char_data(w)
    if w.name == "char_lstm":
        model = SequenceModel("lstm", hidden=w.hidden, outputs=vocab, vocab_size=vocab, embed=w.embed,
                              many_to_many=True)
        build = lambda: torch_sequences.recurrent("lstm", w.hidden, vocab, vocab_size=vocab, embed=w.embed,
                                                  many_to_many=True)
    else:
        model = TransformerLM(vocab, d_model=w.hidden, num_heads=w.num_heads, num_layers=w.num_layers,
                              ff_dim=w.ff_dim, max_len=w.length)
        build = lambda: torch_sequences.char_transformer(vocab, w.hidden, w.num_heads, w.num_layers, w.ff_dim,
                                                         w.length)
    return data, model, TokenClassification(vocab), build, "tokens", w.batch_size * w.length


def jaxnets_timer(w: Workload, model, objective, data: dict, epochs: int):
    """Compile `w.seeds` members as one program (over all devices) and run it once; -> (a function that
    times one more run in seconds per member-step, facts about the program)."""
    import jax

    from jaxnets.train import FitConfig, compile_fit, create_states, fit, make_optimizer

    tx = make_optimizer("adam", w.learning_rate, clip_norm=w.clip_norm)
    state = create_states(model, tx, range(w.seeds), data["x"])
    config = FitConfig(epochs=epochs, batch_size=w.batch_size, progress=False)
    program = compile_fit(state, objective, data, None, config)
    fit(state, objective, data, None, config, program=program)  # warm-up: first-call costs
    steps = epochs * w.batches * w.seeds
    timer = lambda: fit(state, objective, data, None, config, program=program).train_seconds / steps
    return timer, {"seeds": w.seeds, "devices": jax.device_count(), "compile_seconds": program.compile_seconds}


def measure(name: str, repeats: int = 3, quick: bool = False) -> dict:
    """Both sides of one workload, and its ratio(s). The sides alternate, `repeats` times each, and
    each keeps its best run: a machine that slows down for a while hits both."""
    w = WORKLOADS[name]
    if quick:
        w = dataclasses.replace(w, seeds=2, batches=2)
    data, model, objective, build, loss, examples = parts(w)
    timer, facts = jaxnets_timer(w, model, objective, data, epochs=1 if quick else 2)
    jx_runs, peer_runs = [], []
    for _ in range(repeats):
        jx_runs.append(timer())
        if torch_seed.available():
            peer_runs.append(torch_sequences.time_training(build, data["x"], data["y"], loss, w.seeds,
                                                           2 if quick else 12, w.batch_size, w.learning_rate,
                                                           w.clip_norm))
    jx = {**facts, "member_step_seconds": min(jx_runs), "all_seconds": jx_runs}
    jx["examples_per_second"] = examples / jx["member_step_seconds"]
    peer = None
    if peer_runs:
        peer = min(peer_runs, key=lambda r: r["member_step_seconds"])
        peer["all_seconds"] = [r["member_step_seconds"] for r in peer_runs]
        peer["examples_per_second"] = examples / peer["member_step_seconds"]
    key = "transformer" if name == "char_transformer" else name
    res = {"workload": dataclasses.asdict(w), "examples_per_step": examples, "unit": loss, "jaxnets": jx,
           "torch": peer,
           "ratios": {f"{key}_vs_torch": None if peer is None
                      else peer["member_step_seconds"] / jx["member_step_seconds"]}}
    if name == "char_transformer":
        from experiments.benchmark import matmul_peak_gflops

        vocab = objective.num_classes
        flops = transformer_train_flops(vocab, w.hidden, w.num_layers, w.ff_dim, w.length) * examples
        peak = matmul_peak_gflops()
        jx["gflops"] = flops / jx["member_step_seconds"] / 1e9
        res.update(vocab_size=vocab, train_flops_per_step=flops, matmul_peak_gflops=peak)
        res["ratios"]["transformer_peak_fraction"] = jx["gflops"] / peak
    return res


def measure_all(repeats: int = 3, quick: bool = False, names=tuple(WORKLOADS)) -> dict:
    """The named workloads: {name: result}, plus their merged `ratios`."""
    results = {name: measure(name, repeats, quick) for name in names}
    results["ratios"] = {k: v for r in list(results.values()) for k, v in r["ratios"].items()}
    return results


def rows(res: dict) -> list[list]:
    """Markdown rows: one per side of each workload."""
    out = []
    for name, r in res.items():
        if name == "ratios":
            continue
        w, jx, pt = r["workload"], r["jaxnets"], r["torch"]
        unit = "tokens/s" if r["unit"] == "tokens" else "sequences/s"
        what = (f"{name} ({w['seeds']} seeds, batch {w['batch_size']} x {w['length']} steps, "
                f"{'d_model' if name == 'char_transformer' else 'hidden'} {w['hidden']})")
        note = f"one program on {jx['devices']} devices"
        if "gflops" in jx:
            note += (f"; {jx['gflops']:.1f} GFLOP/s = {100 * r['ratios']['transformer_peak_fraction']:.0f} % of "
                     f"the {r['matmul_peak_gflops']:.0f} GFLOP/s matmul peak")
        out.append([f"{what}: jaxnets", f"{1e3 * jx['member_step_seconds']:.2f}",
                    f"{jx['examples_per_second']:,.0f} {unit}", note])
        if pt is None:
            out.append([f"{what}: PyTorch-CPU", "–", "–", "torch not installed"])
        else:
            ratio = next(v for k, v in r["ratios"].items() if k.endswith("_vs_torch"))
            out.append([f"{what}: PyTorch-CPU", f"{1e3 * pt['member_step_seconds']:.2f}",
                        f"{pt['examples_per_second']:,.0f} {unit}",
                        f"seeds one after another, {pt['threads']} threads; jaxnets / PyTorch: {ratio:.2f}x"])
    return out


HEADERS = ["workload", "ms per member-step", "throughput", "notes"]


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m experiments.bench_sequences", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--quick", action="store_true", help="2 seeds, 2 batches, 1 repeat (smoke test)")
    ap.add_argument("--only", choices=list(WORKLOADS), nargs="+", default=list(WORKLOADS))
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    setup_cpu()
    out = bench_folder("bench_sequences", args.out)
    res = measure_all(1 if args.quick else args.repeats, args.quick, args.only)
    results = write_bench("bench_sequences", out, res, HEADERS, rows(res))
    return results


if __name__ == "__main__":
    main()


run = main
