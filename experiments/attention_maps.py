"""What attention attends to, measured on two tasks whose answer needs one particular position.

    python -m experiments.attention_maps [--seeds N] [--quick]

1. `match`: a sequence of distinct tokens ends with a query token that occurred once before; the
   answer is the position of that earlier occurrence ("which earlier token matches the query"). A
   one-layer encoder reads the answer off the last position. Reported: test accuracy, and per head
   the mean weight the query puts on the matching position (uniform attention would give 1/len).
2. `agreement`: sentences "the <subject> <verb> on the <object>" labelled grammatical when the verb
   belongs to the subject (cat sat, dog ran, bird flew, fish swam) and not when it belongs to
   another one; the verb must be checked against the subject. Reported: test accuracy, and the text's
   example: the weight "sat" puts on "cat" in "the cat sat on the mat" (per head, layer 1).
Heatmaps of one example of each are written for seed 0. The text's claim: attention "focuses on
relevant parts" — here, the position that decides the answer.
"""
from __future__ import annotations

import dataclasses
import time

import numpy as np

from experiments.standalone import checkpointed_fit, finish, header, start
from jaxnets.models.transformer import TransformerClassifier
from jaxnets.plots import heatmaps
from jaxnets.report import fmt_stat, markdown_table
from jaxnets.train import Classification, FitConfig, create_states, make_optimizer, member, predict, summarize

SUBJECTS = {"cat": "sat", "dog": "ran", "bird": "flew", "fish": "swam"}
OBJECTS = ("mat", "rug", "log", "box")
WORDS = ("<pad>", "the", "on", *SUBJECTS, *SUBJECTS.values(), *OBJECTS)
EXAMPLE = "the cat sat on the mat".split()


@dataclasses.dataclass(frozen=True)
class Preset:
    length: int = 12
    vocab: int = 24
    n_train: int = 4000
    n_test: int = 1000
    d_model: int = 32
    heads: int = 2
    epochs: int = 60
    patience: int = 15
    batch_size: int = 64
    learning_rate: float = 3e-3
    seeds: int = 5

    def quick(self) -> Preset:
        return dataclasses.replace(self, n_train=256, n_test=128, epochs=3, seeds=2)


def match_task(n: int, length: int, vocab: int, seed: int) -> dict:
    """x [n, length]: length-1 distinct tokens (1..vocab-1) then a query equal to one of them; y: its position."""
    r = np.random.default_rng(seed)
    x = np.stack([r.choice(np.arange(1, vocab), size=length - 1, replace=False) for _ in range(n)])
    y = r.integers(0, length - 1, size=n)
    return {"x": np.concatenate([x, x[np.arange(n), y][:, None]], 1).astype(np.int32), "y": y.astype(np.int32)}


def agreement_task(n: int, seed: int) -> dict:
    """Half grammatical (the verb of the subject), half with another subject's verb; x: word ids [n, 6]."""
    r = np.random.default_rng(seed)
    subjects, verbs = list(SUBJECTS), list(SUBJECTS.values())
    s = r.integers(0, 4, n)
    ok = r.random(n) < 0.5
    v = np.where(ok, s, (s + r.integers(1, 4, n)) % 4)
    o = r.integers(0, 4, n)
    idx = WORDS.index
    x = np.array([[idx("the"), idx(subjects[a]), idx(verbs[b]), idx("on"), idx("the"), idx(OBJECTS[c])]
                  for a, b, c in zip(s, v, o)], np.int32)
    return {"x": x, "y": ok.astype(np.int32)}


def _train(name, model, train, val, preset, args):
    tx = make_optimizer("adam", preset.learning_rate)
    state = create_states(model, tx, range(preset.seeds), train["x"])
    config = FitConfig(epochs=preset.epochs, batch_size=preset.batch_size, patience=preset.patience,
                       progress=not args.no_progress)
    return checkpointed_fit(args.checkpoints, state, Classification(model.outputs), train, val, config, name)


def _weights(model, fr, x) -> np.ndarray:
    """Layer-1 attention weights of every member: [seeds, batch, heads, q, k]."""
    return np.stack([np.asarray(model.apply({"params": member(fr.state, i).params}, x, method="attention_weights")[0])
                     for i in range(fr.state.num_members)])


def _accuracy(fr, data) -> dict:
    return summarize((predict(fr.state, data["x"], output="classes") == data["y"]).mean(axis=1))


def run(argv=None) -> dict:
    args, preset, out = start("attention_maps", Preset(), argv, __doc__)
    t0 = time.perf_counter()
    L = preset.length
    train, val, test = (match_task(n, L, preset.vocab, seed) for n, seed in
                        ((preset.n_train, 0), (preset.n_test, 1), (preset.n_test, 2)))
    match_model = TransformerClassifier(outputs=L - 1, vocab_size=preset.vocab, d_model=preset.d_model,
                                        num_heads=preset.heads, num_layers=1, ff_dim=2 * preset.d_model, max_len=L,
                                        positions="learned", pool="last", pad_id=None)
    fr = _train("match", match_model, train, val, preset, args)
    w = _weights(match_model, fr, test["x"])[:, :, :, -1, :]  # the query's row: [seeds, n, heads, L]
    on_target = w[:, np.arange(len(test["y"])), :, test["y"]]  # [n, seeds, heads] (advanced indexing order)
    per_head = on_target.mean(axis=0)  # [seeds, heads]
    match = {"test_accuracy": _accuracy(fr, test), "uniform_weight": 1.0 / L,
             "weight_on_match_per_head": [summarize(per_head[:, h]) for h in range(preset.heads)],
             "weight_on_match_best_head": summarize(per_head.max(axis=1)), "epochs_run": summarize(fr.epochs_run)}
    example = test["x"][0]
    heatmaps({f"head {h}": _weights(match_model, fr, test["x"][:1])[0, 0, h] for h in range(preset.heads)},
             out / "match_attention.png", xlabels=[str(t) for t in example], ylabels=[str(t) for t in example],
             title=f"match: query {example[-1]} occurred at position {test['y'][0]} (seed 0)")

    a_train, a_val, a_test = (agreement_task(n, seed) for n, seed in
                              ((preset.n_train, 10), (preset.n_test, 11), (preset.n_test, 12)))
    agree_model = TransformerClassifier(outputs=2, vocab_size=len(WORDS), d_model=preset.d_model,
                                        num_heads=preset.heads, num_layers=1, ff_dim=2 * preset.d_model, max_len=6)
    fa = _train("agreement", agree_model, a_train, a_val, preset, args)
    sentence = np.array([[WORDS.index(t) for t in EXAMPLE]], np.int32)
    ws = _weights(agree_model, fa, sentence)[:, 0]  # [seeds, heads, 6, 6]
    sat_on_cat = ws[:, :, EXAMPLE.index("sat"), EXAMPLE.index("cat")]  # [seeds, heads]
    agreement = {"test_accuracy": _accuracy(fa, a_test), "uniform_weight": 1.0 / len(EXAMPLE),
                 "sat_on_cat_per_head": [summarize(sat_on_cat[:, h]) for h in range(preset.heads)],
                 "sat_on_cat_best_head": summarize(sat_on_cat.max(axis=1)), "epochs_run": summarize(fa.epochs_run)}
    heatmaps({f"head {h}": ws[0, h] for h in range(preset.heads)}, out / "cat_sat_on_the_mat.png",
             xlabels=EXAMPLE, ylabels=EXAMPLE, title="\"the cat sat on the mat\", layer 1 (seed 0)")
    wall = time.perf_counter() - t0

    verdict = (f"match: the best head puts {match['weight_on_match_best_head']['mean']:.2f} of the query's weight on "
               f"the matching position (uniform: {1 / L:.2f}); agreement: \"sat\" puts "
               f"{agreement['sat_on_cat_best_head']['mean']:.2f} of its weight on \"cat\" in its best head (uniform: "
               f"{1 / len(EXAMPLE):.2f})")
    results = {**header("attention_maps", args, preset), "models": {"match": match, "agreement": agreement},
               "verdict": verdict, "training_wall_seconds": wall}
    rows = [["match", fmt_stat(match["test_accuracy"], 3), fmt_stat(match["weight_on_match_best_head"], 2),
             f"{1 / L:.2f}"],
            ["agreement (sat → cat)", fmt_stat(agreement["test_accuracy"], 3),
             fmt_stat(agreement["sat_on_cat_best_head"], 2), f"{1 / len(EXAMPLE):.2f}"]]
    table = (f"**attention_maps** · {preset.seeds} seeds · one layer, {preset.heads} heads\n\n"
             + markdown_table(["task", "test accuracy", "weight on the deciding position (best head)",
                               "uniform"], rows) + f"\nVerdict: {verdict}.\n")
    return finish(out, results, table)


if __name__ == "__main__":
    run()
