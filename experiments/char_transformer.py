"""A character Transformer against RNN / LSTM / GRU at an equal training-time budget.

    python -m experiments.char_transformer [--seeds N] [--quick]

The text's table ranks the Transformer "best for text". Here a causal Transformer language model and
the three recurrent cells of `text_generation` (same corpus: CPython's documentation topics; same
sequences, optimiser and batch) each train for BUDGET seconds of training time (compiles excluded):
one epoch is timed first, and each model then runs as many epochs as fit in the budget, one model
after another so that none shares the cores. The best epoch is chosen on a validation split and the
verdict is read on a held-out test split used for nothing else. Samples continue the text's prompt.
"""
from __future__ import annotations

import dataclasses
import math
import time

import jax
import jax.numpy as jnp
import numpy as np

from experiments.standalone import checkpointed_fit, finish, header, start
from experiments.text_generation import PROMPT, sample
from jaxnets.data.text import CharVocab, char_sequences, load_python_docs
from jaxnets.models import count_params
from jaxnets.models.rnn import CELLS, SequenceModel
from jaxnets.models.transformer import TransformerLM, generate
from jaxnets.plots import learning_curves
from jaxnets.report import fmt_stat, markdown_table
from jaxnets.train import (
    FitConfig,
    TokenClassification,
    create_states,
    evaluate_sums,
    finalize_metrics,
    fit,
    make_optimizer,
    member,
    summarize,
)


@dataclasses.dataclass(frozen=True)
class Preset:
    train_chars: int = 150_000
    val_chars: int = 15_000
    test_chars: int = 15_000
    length: int = 100
    width: int = 64  # RNN hidden size = Transformer d_model
    embed: int = 32
    heads: int = 4
    layers: int = 2
    budget_seconds: float = 60.0
    batch_size: int = 64
    learning_rate: float = 3e-3
    seeds: int = 3
    sample_chars: int = 200
    models: tuple[str, ...] = ("transformer", *CELLS)
    epochs: int = 0  # set per model from the budget

    def quick(self) -> Preset:
        return dataclasses.replace(self, train_chars=6_000, val_chars=2_000, test_chars=2_000, budget_seconds=1.0,
                                   seeds=2, sample_chars=20, models=("transformer", "gru"))


def build(name: str, preset: Preset, vocab_size: int):
    if name == "transformer":
        return TransformerLM(vocab_size, d_model=preset.width, num_heads=preset.heads, num_layers=preset.layers,
                             ff_dim=2 * preset.width, max_len=preset.length + preset.sample_chars + len(PROMPT))
    return SequenceModel(name, hidden=preset.width, outputs=vocab_size, vocab_size=vocab_size, embed=preset.embed,
                         many_to_many=True)


def epochs_in_budget(state, objective, train, preset: Preset) -> tuple[int, float]:
    """(epochs that fit the budget, seconds of one training epoch): one epoch run twice through the
    same compiled program, timing the second (the first call's warm-up would shorten the budget)."""
    config = FitConfig(epochs=1, batch_size=preset.batch_size, progress=False)
    fit(state, objective, train, None, config)
    per_epoch = fit(state, objective, train, None, config).train_seconds  # the program is cached
    return max(1, int(preset.budget_seconds // per_epoch)), per_epoch


def run(argv=None) -> dict:
    args, preset, out = start("char_transformer", Preset(), argv, __doc__)
    text = load_python_docs()
    vocab = CharVocab.build(text)
    ids = vocab.encode(text)
    cut = int(0.9 * len(ids))  # the last 10 %: validation, then test
    train = char_sequences(ids[:cut][: preset.train_chars + 1], preset.length)
    val = char_sequences(ids[cut:][: preset.val_chars + 1], preset.length)
    test = char_sequences(ids[cut + preset.val_chars:][: preset.test_chars + 1], preset.length)
    objective = TokenClassification(vocab.size)

    models, fits = {}, {}
    t0 = time.perf_counter()
    for name in preset.models:
        model = build(name, preset, vocab.size)
        tx = make_optimizer("adam", preset.learning_rate, clip_norm=1.0)
        state = create_states(model, tx, range(preset.seeds), train["x"])
        epochs, epoch_s = epochs_in_budget(state, objective, train, preset)
        config = FitConfig(epochs=epochs, batch_size=preset.batch_size, progress=not args.no_progress)
        fr = fits[name] = checkpointed_fit(args.checkpoints, state, objective, train, val, config, name)
        sums = jax.device_get(jax.vmap(lambda s: evaluate_sums(objective, s, test))(fr.state))
        test_bits = finalize_metrics(sums)["loss"] / math.log(2)
        one = member(fr.state, 0)
        key = jax.random.PRNGKey(1)
        prompt = jnp.asarray([vocab.encode(PROMPT)])

        def draw(t, model=model, one=one, key=key, prompt=prompt):
            if isinstance(model, TransformerLM):  # cached generation
                return vocab.decode(np.asarray(generate(model, one.params, prompt, preset.sample_chars, t, key))[0])
            return sample(one, vocab, PROMPT, preset.sample_chars, t, key)

        models[name] = {
            "test_bits_per_char": summarize(test_bits),
            "val_bits_per_char": summarize(np.nanmin(fr.history["val_loss"], axis=1) / math.log(2)),
            "epochs": epochs, "epoch_seconds": epoch_s, "train_seconds": fr.train_seconds,
            "compile_seconds": fr.compile_seconds, "parameters": count_params(one.params),
            "samples_seed0": {str(t): draw(t) for t in (0.5, 1.0)},
        }
    wall = time.perf_counter() - t0

    best = min(models, key=lambda n: models[n]["test_bits_per_char"]["mean"])
    tr = models["transformer"]["test_bits_per_char"]
    others = {n: m["test_bits_per_char"] for n, m in models.items() if n != "transformer"}
    beats = all(tr["mean"] + tr["std"] < o["mean"] - o["std"] for o in others.values())
    verdict = (f"the Transformer {'is' if beats else 'is not'} the best model for text at an equal training budget "
               f"of {preset.budget_seconds:g} s: test {tr['mean']:.3f} ± {tr['std']:.3f} bits/char vs "
               + ", ".join(f"{n} {o['mean']:.3f} ± {o['std']:.3f}" for n, o in others.items())
               + f" (lowest: {best}; 'best' needs mean ± std apart from every RNN)")
    results = {**header("char_transformer", args, preset), "corpus": "pydoc_data.topics", "vocab_size": vocab.size,
               "uniform_bits_per_char": math.log2(vocab.size), "prompt": PROMPT, "models": models,
               "verdict": verdict, "training_wall_seconds": wall}
    learning_curves({n: fr.history for n, fr in fits.items()}, out / "learning_curves.png",
                    f"character LMs, {preset.budget_seconds:g} s of training each")
    rows = [[n, f"{m['parameters']:,}", m["epochs"], f"{m['train_seconds']:.0f}", fmt_stat(m["val_bits_per_char"], 3),
             fmt_stat(m["test_bits_per_char"], 3)] for n, m in models.items()]
    table = (f"**char_transformer** · budget {preset.budget_seconds:g} s of training per model · {preset.seeds} seeds"
             f" · vocab {vocab.size} (uniform {math.log2(vocab.size):.2f} bits) · wall {wall:.0f} s\n\n"
             + markdown_table(["model", "parameters", "epochs", "train s", "best val bits/char",
                               "test bits/char"], rows) + f"\nVerdict: {verdict}.\n")
    for n, m in models.items():
        for t, s in m["samples_seed0"].items():
            table += f"\n{n}, temperature {t}:\n\n    " + s.replace("\n", "\n    ") + "\n"
    return finish(out, results, table)


if __name__ == "__main__":
    run()
