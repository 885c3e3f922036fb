"""Character-level language models on English already on the machine: CPython's documentation
topics (`pydoc_data.topics`, the text of help() pages). RNN vs LSTM vs GRU by validation bits per
character, and samples with temperature from the seed's prompt.

    python -m experiments.text_generation [--seeds N] [--quick]
"""
from __future__ import annotations

import dataclasses
import math
import time
from concurrent.futures import ThreadPoolExecutor

import jax
import jax.numpy as jnp
import numpy as np

from experiments.standalone import checkpointed_fit, finish, header, start
from jaxnets.data.text import CharVocab, char_sequences, load_python_docs
from jaxnets.models import count_params
from jaxnets.models.rnn import CELLS, SequenceModel
from jaxnets.plots import learning_curves
from jaxnets.report import fmt_stat, markdown_table
from jaxnets.train import FitConfig, TokenClassification, create_states, make_optimizer, member, summarize

PROMPT = "The weather today is"
TEMPERATURES = (0.5, 1.0)


@dataclasses.dataclass(frozen=True)
class Preset:
    train_chars: int = 150_000
    val_chars: int = 30_000
    length: int = 100
    hidden: int = 64
    embed: int = 32
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 3e-3
    seeds: int = 3
    sample_chars: int = 200

    def quick(self) -> Preset:
        return dataclasses.replace(self, train_chars=12_000, val_chars=3_000, epochs=2, seeds=2, sample_chars=40)


def sample(state, vocab: CharVocab, prompt: str, n: int, temperature: float, key: jax.Array) -> str:
    """Autoregressive sampling from a single state: one compiled forward over a fixed buffer (a
    causal RNN's output at step t ignores later positions), reading the logits at the last filled step."""
    ids = list(vocab.encode(prompt))
    size = len(ids) + n
    forward = jax.jit(lambda p, v, buf: state.apply_fn({"params": p, **v}, buf, train=False)[0])
    for i in range(n):
        buf = jnp.asarray(np.pad(ids, (0, size - len(ids)))[None])
        logits = forward(state.params, state.variables, buf)[len(ids) - 1]
        nxt = jax.random.categorical(jax.random.fold_in(key, i), logits / temperature)
        ids.append(int(nxt))
    return vocab.decode(ids)


def run(argv=None) -> dict:
    args, preset, out = start("text_generation", Preset(), argv, __doc__)

    text = load_python_docs()
    vocab = CharVocab.build(text)
    ids = vocab.encode(text)
    cut = int(0.9 * len(ids))  # validation = the last 10 % of the corpus, never seen in training
    train = char_sequences(ids[:cut][: preset.train_chars + 1], preset.length)
    val = char_sequences(ids[cut:][: preset.val_chars + 1], preset.length)

    def train_cell(cell: str):
        model = SequenceModel(cell, hidden=preset.hidden, outputs=vocab.size, vocab_size=vocab.size,
                              embed=preset.embed, many_to_many=True)
        tx = make_optimizer("adam", preset.learning_rate, clip_norm=1.0)
        state = create_states(model, tx, range(preset.seeds), train["x"])
        config = FitConfig(epochs=preset.epochs, batch_size=preset.batch_size, progress=not args.no_progress)
        fr = checkpointed_fit(args.checkpoints, state, TokenClassification(vocab.size), train, val, config, cell)
        best_val = np.nanmin(fr.history["val_loss"], axis=1)  # nats per character, per seed
        one = member(fr.state, 0)
        samples = {str(t): sample(one, vocab, PROMPT, preset.sample_chars, t, jax.random.PRNGKey(1))
                   for t in TEMPERATURES}
        return fr, {
            "val_bits_per_char": summarize(best_val / math.log(2)),
            "val_char_accuracy": summarize(np.nanmax(fr.history["val_accuracy"], axis=1)),
            "parameters": count_params(one.params), "train_seconds": fr.train_seconds,
            "compile_seconds": fr.compile_seconds, "samples_seed0": samples,
        }

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        done = dict(zip(CELLS, pool.map(train_cell, CELLS)))
    wall = time.perf_counter() - t0
    models = {c: r for c, (_, r) in done.items()}
    results = {**header("text_generation", args, preset), "corpus": "pydoc_data.topics (CPython documentation topics)",
               "corpus_chars": len(text), "vocab_size": vocab.size, "train_sequences": len(train["y"]),
               "val_sequences": len(val["y"]), "uniform_bits_per_char": math.log2(vocab.size), "prompt": PROMPT,
               "models": models, "training_wall_seconds": wall}
    learning_curves({c: fr.history for c, (fr, _) in done.items()}, out / "learning_curves.png",
                    f"character LM on pydoc topics, {preset.seeds} seeds")
    rows = [[c, f"{m['parameters']:,}", fmt_stat(m["val_bits_per_char"], 3), fmt_stat(m["val_char_accuracy"], 3),
             f"{m['train_seconds']:.0f}"] for c, m in models.items()]
    table = (f"**text_generation** · {len(train['y'])} × {preset.length} training characters · vocab {vocab.size} "
             f"(uniform: {math.log2(vocab.size):.2f} bits) · {preset.seeds} seeds · wall {wall:.0f} s\n\n"
             + markdown_table(["cell", "parameters", "val bits/char", "val char accuracy", "train s"], rows))
    for c, m in models.items():
        for t, s in m["samples_seed0"].items():
            table += f"\n{c}, temperature {t}:\n\n    " + s.replace("\n", "\n    ") + "\n"
    return finish(out, results, table)


if __name__ == "__main__":
    run()
