"""The text's claims about recurrent networks and attention, and how the sequence experiments decide them.

Sections: "Recurrent Neural Networks (RNNs)" and "Transformer Networks" of the architecture overview,
and the chapters "RNN Memory and Sequence Processing" and "Attention Mechanisms". Each check reads
one experiment's results.json; a difference between two measured numbers counts only when it
exceeds both spreads (`beyond`), as the experiments judge themselves. Where an experiment reports
one number per condition (timings, exponents) the rule asks for consistency across its lengths
instead, since there is no spread to compare against.
"""
from __future__ import annotations

from experiments.claims.base import Claim, Finding, beyond, fmt, get, tally

RNN = "Recurrent Neural Networks (RNNs)"
TRANSFORMER = "Transformer Networks"
MEMORY = "RNN Memory and Sequence Processing"
ATTENTION = "Attention Mechanisms"
CELLS = ("rnn", "lstm", "gru")
NAMES = {"rnn": "vanilla RNN", "lstm": "LSTM", "gru": "GRU", "transformer": "Transformer"}




def _sci(s: dict) -> str:
    """fmt for ratios spanning orders of magnitude (gradient ratios reach 1e-7, where fmt prints 0.000)."""
    return f"{s['mean']:.2e} ± {s['std']:.2e}"


def _lengths(results: dict, model: str) -> list[int]:
    return sorted(int(t) for t in get(results, f"models.{model}.per_length"))


def _reaches(results: dict, model: str, steps: int) -> bool:
    """Whether `model` solves the adding problem at `steps` or more. When it solved every length the run
    tried and all of them are shorter than `steps`, the run never tested that far: indexing the missing
    length raises KeyError (the claim is then not yet measured), rather than guessing."""
    longest = get(results, f"models.{model}.longest_solved_length")
    if longest >= steps:
        return True
    if longest == max(_lengths(results, model)):
        get(results, f"models.{model}.per_length.{steps}")
    return False


# --- Recurrent Neural Networks (RNNs) -------------------------------------------------------------


def vanishing_cause(results: dict) -> Finding:
    """vanishing_gradients: the vanilla RNN retains less (test MSE at T = 50 beyond both gated cells') and
    its gradient reaching step 1 is weaker than theirs (‖g_1‖/‖g_T‖ beyond below) at init and trained."""
    m = {c: get(results, f"models.{c}") for c in CELLS}
    retains_less = all(beyond(m["rnn"]["test_mse"], m[c]["test_mse"]) for c in ("lstm", "gru"))
    vanishes_more = all(beyond(m[c][f"first_to_last_{w}"], m["rnn"][f"first_to_last_{w}"])
                        for c in ("lstm", "gru") for w in ("init", "trained"))
    ratios = "; ".join(f"{NAMES[c]} {_sci(m[c]['first_to_last_init'])} / {_sci(m[c]['first_to_last_trained'])}"
                       for c in CELLS)
    mse = ", ".join(f"{NAMES[c]} {fmt(m[c]['test_mse'], 4)}" for c in CELLS)
    evidence = (f"At T = {results['length']} the test MSE is {mse}"
                f" (vanilla RNN retains less: {'yes' if retains_less else 'no'}), and ‖g_1‖/‖g_T‖ at init / trained "
                f"is {ratios} (vanilla RNN's gradient vanishes most: {'yes' if vanishes_more else 'no'}).")
    fields = ("length", *(f"models.{c}.{k}" for c in CELLS
                          for k in ("test_mse", "first_to_last_init", "first_to_last_trained")))
    return Finding(tally(retains_less + vanishes_more, 2), evidence, fields)


def time_series(results: dict) -> Finding:
    """forecasting: every recurrent cell's MAE beyond below the better naive baseline, one step and 11 ahead."""
    horizons = {"one_step_mae": "one step", "multi_step_mae": f"1–{results['horizon']} steps"}
    base = {h: min((get(results, f"models.{b}.{h}") for b in ("naive", "seasonal_naive")), key=lambda s: s["mean"])
            for h in horizons}
    wins = {c: [beyond(base[h], get(results, f"models.{c}.{h}")) for h in horizons] for c in CELLS}
    hits = sum(all(w) for w in wins.values())
    # Cells that win at one horizon only make the verdict mixed, not "not supported".
    verdict = "mixed" if hits == 0 and any(any(w) for w in wins.values()) else tally(hits, len(CELLS))
    parts = "; ".join(f"{label}: " + ", ".join(f"{NAMES[c]} {fmt(get(results, f'models.{c}.{h}'), 1)}" for c in CELLS)
                      + f" vs best baseline {base[h]['mean']:.1f}" for h, label in horizons.items())
    evidence = (f"Sunspot MAE ({parts}); {hits} of {len(CELLS)} cells beat the better of naive and seasonal-naive "
                f"at both horizons.")
    fields = ("horizon", *(f"models.{m}.{h}" for m in (*CELLS, "naive", "seasonal_naive") for h in horizons))
    return Finding(verdict, evidence, fields)


def very_long(results: dict) -> Finding:
    """memory_capacity: a cell has difficulty when it fails at the longest length tested (mean test MSE above
    the threshold) with an error beyond its error at the shortest."""
    threshold = results["threshold_test_mse"]
    lengths = _lengths(results, "rnn")
    short, long_ = str(lengths[0]), str(lengths[-1])
    per = {c: get(results, f"models.{c}.per_length") for c in CELLS}
    hard = [c for c in CELLS if per[c][long_]["mean"] > threshold and beyond(per[c][long_], per[c][short])]
    evidence = (f"Adding-problem test MSE at T = {short} → {long_}: "
                + ", ".join(f"{NAMES[c]} {fmt(per[c][short], 4)} → {fmt(per[c][long_], 4)}" for c in CELLS)
                + f" (solved ≤ {threshold}); {len(hard)} of {len(CELLS)} cells fail at T = {long_} with an error "
                f"beyond their T = {short} one.")
    return Finding(tally(len(hard), len(CELLS)), evidence,
                   ("threshold_test_mse", *(f"models.{c}.per_length" for c in CELLS)))


# --- Transformer Networks -------------------------------------------------------------------------


def long_range_better(results: dict) -> Finding:
    """long_range: the Transformer's test MSE at the longest length beyond below each recurrent cell's."""
    rnns = ("lstm", "gru")
    long_ = str(max(_lengths(results, "transformer")))
    at = {m: get(results, f"models.{m}.per_length.{long_}") for m in ("transformer", *rnns)}
    solved = {m: get(results, f"models.{m}.longest_solved_length") for m in at}
    hits = sum(beyond(at[c], at["transformer"]) for c in rnns)
    evidence = (f"Adding-problem test MSE at T = {long_}: " + ", ".join(f"{NAMES[m]} {fmt(at[m], 4)}" for m in at)
                + " (longest solved T: " + ", ".join(f"{NAMES[m]} {solved[m]}" for m in at) + ").")
    fields = tuple(f"models.{m}.{k}" for m in at for k in (f"per_length.{long_}", "longest_solved_length"))
    return Finding(tally(hits, len(rnns)), evidence, fields)


def parallel_faster(results: dict) -> Finding:
    """attention_cost: at each length, attention is faster when its slowest of the repeated runs beats the
    LSTM's fastest (slower in the opposite case, reported too); faster at every length supports the claim."""
    att, lstm = get(results, "models.attention.per_length"), get(results, "models.lstm.per_length")
    lengths = sorted(int(t) for t in att)
    faster = [t for t in lengths if att[str(t)]["time_max"] < lstm[str(t)]["time_min"]]
    slower = [t for t in lengths if att[str(t)]["time_min"] > lstm[str(t)]["time_max"]]
    verdict = tally(len(faster), len(lengths))  # a tie is not "faster"
    ms = lambda t: f"{att[str(t)]['time_seconds'] * 1e3:.1f} vs {lstm[str(t)]['time_seconds'] * 1e3:.1f} ms"
    evidence = (f"One layer's forward + backward step, attention vs LSTM: {ms(lengths[0])} at T = {lengths[0]}, "
                f"{ms(lengths[-1])} at T = {lengths[-1]}; attention is faster at T = {faster or 'none'} and slower "
                f"at T = {slower or 'none'} (median of {results['repeats']}, min–max apart).")
    return Finding(verdict, evidence, ("repeats", "models.attention.per_length", "models.lstm.per_length"))


def quadratic(results: dict) -> Finding:
    """attention_cost: attention's time and memory exponents (slope of log cost over log T) round to 2."""
    m = {n: get(results, f"models.{n}") for n in ("attention", "lstm", "attention_chunked")}
    keys = ("time_exponent", "memory_exponent")
    hits = sum(round(m["attention"][k]) == 2 for k in keys)
    exps = lambda n: f"T^{m[n]['time_exponent']:.2f} / T^{m[n]['memory_exponent']:.2f}"
    evidence = (f"Time / memory of a training step grow as {exps('attention')} for attention, {exps('lstm')} for the "
                f"LSTM and {exps('attention_chunked')} for chunked attention (fit over the {results['fit_points']} "
                f"longest lengths).")
    return Finding(tally(hits, len(keys)), evidence,
                   ("fit_points", *(f"models.{n}.{k}" for n in m for k in keys)))


def translation(results: dict) -> Finding:
    """seq2seq_translation: on every task the Transformer's exact match over all lengths beyond the LSTM's."""
    tasks = get(results, "tasks")
    hits = sum(beyond(r["transformer"]["exact_match_all"], r["lstm"]["exact_match_all"]) for r in tasks.values())
    evidence = "Exact-match accuracy on held-out strings, Transformer vs LSTM encoder-decoder: " + "; ".join(
        f"{t} {fmt(r['transformer']['exact_match_all'], 2)} vs {fmt(r['lstm']['exact_match_all'], 2)}"
        for t, r in tasks.items()) + "."
    fields = tuple(f"tasks.{t}.{m}.exact_match_all" for t in tasks for m in ("transformer", "lstm"))
    return Finding(tally(hits, len(tasks)), evidence, fields)


def best_for_text(results: dict) -> Finding:
    """char_transformer: the Transformer's test bits/char beyond below every recurrent model's (its own rule);
    below some of them only: mixed."""
    models = get(results, "models")
    tr = models["transformer"]["test_bits_per_char"]
    others = {n: m["test_bits_per_char"] for n, m in models.items() if n != "transformer"}
    # As the experiment's own verdict: "best" needs mean ± std apart from every recurrent model; a tie is not best.
    verdict = tally(sum(beyond(o, tr) for o in others.values()), len(others))
    evidence = (f"At an equal training budget of {get(results, 'preset_config.budget_seconds'):g} s, test bits/char: "
                f"Transformer {fmt(tr)} vs " + ", ".join(f"{NAMES.get(n, n)} {fmt(o)}" for n, o in others.items())
                + f" (lower is better; uniform {results['uniform_bits_per_char']:.2f}).")
    return Finding(verdict, evidence, ("preset_config.budget_seconds", "uniform_bits_per_char",
                                       *(f"models.{n}.test_bits_per_char" for n in models)))


# --- RNN Memory and Sequence Processing -----------------------------------------------------------


def memory_span(results: dict) -> Finding:
    """memory_capacity: the vanilla RNN's longest solved length is 5–10, the LSTM's at least 100."""
    rnn_ok = _reaches(results, "rnn", 5) and not _reaches(results, "rnn", 11)
    lstm_ok = _reaches(results, "lstm", 100)
    longest = {c: get(results, f"models.{c}.longest_solved_length") for c in ("rnn", "lstm")}
    evidence = (f"Longest adding-problem length solved (mean test MSE ≤ {results['threshold_test_mse']}, "
                f"T ∈ {_lengths(results, 'rnn')}): vanilla RNN {longest['rnn'] or 'none'}, "
                f"LSTM {longest['lstm'] or 'none'} (text: ~5–10 and ~100+).")
    return Finding(tally(rnn_ok + lstm_ok, 2), evidence,
                   ("threshold_test_mse", "models.rnn.longest_solved_length", "models.rnn.per_length",
                    "models.lstm.longest_solved_length", "models.lstm.per_length"))


def telephone(results: dict) -> Finding:
    """vanishing_gradients: the vanilla RNN's gradient at step 1 is more than an order of magnitude below the
    one at step T (‖g_1‖/‖g_T‖ mean + std < 0.1, the docs' "within an order of magnitude of flat"), at
    initialisation and after training."""
    ratios = {w: get(results, f"models.rnn.first_to_last_{w}") for w in ("init", "trained")}
    fades = [w for w, s in ratios.items() if s["mean"] + s["std"] < 0.1]
    evidence = (f"In the vanilla RNN at T = {results['length']}, ‖∂loss/∂h_1‖/‖∂loss/∂h_T‖ is "
                f"{_sci(ratios['init'])} at initialisation and {_sci(ratios['trained'])} after training "
                f"(faded below 1/10: {', '.join(fades) or 'neither'}).")
    return Finding(tally(len(fades), len(ratios)), evidence,
                   ("length", "models.rnn.first_to_last_init", "models.rnn.first_to_last_trained"))


def _step_us(results: dict) -> tuple[list[str], dict[str, dict[str, float]]]:
    """(tested lengths as keys, cell -> length -> training µs per time step): one timing each, no spread."""
    us = {c: get(results, f"models.{c}.train_us_per_time_step") for c in CELLS}
    return [str(t) for t in sorted(int(t) for t in us["rnn"])], us


def gru_simpler_faster(results: dict) -> Finding:
    """memory_capacity: GRU has fewer parameters than LSTM, and trains faster per time step at every length
    (slower at every length: not faster; otherwise undecided, since single timings carry no spread)."""
    lengths, us = _step_us(results)
    params = {c: get(results, f"models.{c}.parameters") for c in ("lstm", "gru")}
    simpler = params["gru"] < params["lstm"]
    n_fast = sum(us["gru"][t] < us["lstm"][t] for t in lengths)
    if simpler and n_fast == len(lengths):
        verdict = "supported"
    elif not simpler and n_fast == 0:
        verdict = "not supported"
    else:
        verdict = "mixed"
    evidence = (f"GRU {params['gru']:,} vs LSTM {params['lstm']:,} parameters; training µs per time step GRU vs LSTM "
                # Only the shortest and longest lengths: the count covers the rest.
                + ", ".join(f"{us['gru'][t]:.0f} vs {us['lstm'][t]:.0f} at T = {t}"
                            for t in dict.fromkeys((lengths[0], lengths[-1])))
                + f" (GRU faster at {n_fast} of {len(lengths)} lengths).")
    return Finding(verdict, evidence, ("models.gru.parameters", "models.lstm.parameters",
                                       "models.gru.train_us_per_time_step", "models.lstm.train_us_per_time_step"))


def vanilla_fast(results: dict) -> Finding:
    """memory_capacity: the vanilla RNN's training step per time step is the fastest of the three cells."""
    lengths, us = _step_us(results)
    fastest = [t for t in lengths if all(us["rnn"][t] < us[c][t] for c in ("lstm", "gru"))]
    evidence = (f"Training µs per time step at T = {lengths[-1]}: "
                + ", ".join(f"{NAMES[c]} {us[c][lengths[-1]]:.0f}" for c in CELLS)
                + f"; the vanilla RNN is the fastest at {len(fastest)} of {len(lengths)} lengths.")
    return Finding(tally(len(fastest), len(lengths)), evidence,
                   tuple(f"models.{c}.train_us_per_time_step" for c in CELLS))


def generation(results: dict) -> Finding:
    """text_generation: every cell's validation bits/char beyond below the uniform distribution's."""
    uniform = results["uniform_bits_per_char"]
    bits = {c: get(results, f"models.{c}.val_bits_per_char") for c in CELLS}
    hits = sum(s["mean"] + s["std"] < uniform for s in bits.values())
    evidence = ("Character language models on CPython's documentation reach validation bits/char "
                + ", ".join(f"{NAMES[c]} {fmt(s)}" for c, s in bits.items()) + f" against {uniform:.2f} for uniform "
                f"guessing, sampling from \"{results['prompt']}\".")
    return Finding(tally(hits, len(CELLS)), evidence,
                   ("uniform_bits_per_char", "prompt", *(f"models.{c}.val_bits_per_char" for c in CELLS)))


# --- Attention Mechanisms -------------------------------------------------------------------------


def any_distance(results: dict) -> Finding:
    """long_range: the Transformer solves the adding problem at every length tested."""
    threshold = results["threshold_test_mse"]
    per = get(results, "models.transformer.per_length")
    solved = [t for t, s in per.items() if s["mean"] <= threshold]
    evidence = ("Transformer adding-problem test MSE " + ", ".join(f"{fmt(s, 4)} at T = {t}" for t, s in per.items())
                + f": solved (≤ {threshold}) at {len(solved)} of {len(per)} lengths.")
    return Finding(tally(len(solved), len(per)), evidence, ("threshold_test_mse", "models.transformer.per_length"))


def forget_cat(results: dict) -> Finding:
    """seq2seq_translation: per task, the LSTM without attention decodes the longest inputs worse than
    1-digit ones, and the Transformer beats it at the longest (both beyond spreads)."""
    tasks = get(results, "tasks")
    longest = str(results["preset_config"]["max_len"])
    parts, hits = [], 0
    for task, r in tasks.items():
        lstm, tr = r["lstm"]["exact_match_by_length"], r["transformer"]["exact_match_by_length"]
        hits += beyond(lstm["1"], lstm[longest]) and beyond(tr[longest], lstm[longest])
        parts.append(f"{task}: LSTM {fmt(lstm['1'], 2)} at 1 digit → {fmt(lstm[longest], 2)} at {longest}, "
                     f"Transformer {fmt(tr[longest], 2)} at {longest}")
    evidence = "Exact match of the encoder-decoder without attention vs with cross-attention: " + "; ".join(parts) + "."
    fields = ("preset_config.max_len", *(f"tasks.{t}.{m}.exact_match_by_length" for t in tasks
                                         for m in ("lstm", "transformer")))
    return Finding(tally(hits, len(tasks)), evidence, fields)


# A seed's best head "looks at" the deciding position when it gives it most (over half) of the query's
# weight; the experiment's mean ± std hides that seeds split between ~1 and ~0 (docs/results.md).
FOCUS = 0.5


def _focus(results: dict, task: str, key: str, what: str) -> Finding:
    m = get(results, f"models.{task}")
    seeds = m[key]["per_seed"]
    hits = sum(w > FOCUS for w in seeds)
    evidence = (f"{task} (test accuracy {fmt(m['test_accuracy'])}): the best head puts {fmt(m[key], 2)} of {what} "
                f"(uniform {m['uniform_weight']:.2f}), over half in {hits} of {len(seeds)} seeds.")
    return Finding(tally(hits, len(seeds)), evidence,
                   (f"models.{task}.{key}", f"models.{task}.test_accuracy", f"models.{task}.uniform_weight"))


def interpretable(results: dict) -> Finding:
    """attention_maps, `match`: the query's attention map points at the position that decides the answer."""
    return _focus(results, "match", "weight_on_match_best_head", "the query's weight on the matching position")


def sat_on_cat(results: dict) -> Finding:
    """attention_maps, `agreement`: "sat" attends mostly to "cat" in "the cat sat on the mat"."""
    return _focus(results, "agreement", "sat_on_cat_best_head", "\"sat\"'s weight on \"cat\"")


CLAIMS: list[Claim] = [
    Claim("seq_vanishing_cause", RNN, "Standard RNNs struggle to retain long-term information due to vanishing "
          "gradients, so advanced variants like LSTM introduce gating mechanisms", "vanishing_gradients",
          vanishing_cause),
    Claim("seq_time_series", RNN, "RNNs and their gated forms are widely used in ... time-series forecasting "
          "(Best For: Time series forecasting)", "forecasting", time_series),
    Claim("seq_very_long", RNN, "Disadvantages: Difficulty with very long sequences", "memory_capacity", very_long),
    Claim("seq_variable_length", RNN, "Advantages: Handles variable-length sequences", None, None),
    Claim("attn_long_range", TRANSFORMER, "This architecture captures long-range dependencies efficiently "
          "(Better long-range dependency modeling)", "long_range", long_range_better),
    Claim("attn_parallel", TRANSFORMER, "Parallel processing (faster than RNNs)", "attention_cost", parallel_faster),
    Claim("attn_quadratic", TRANSFORMER, "their quadratic complexity in sequence length makes them computationally "
          "intensive for very long inputs", "attention_cost", quadratic),
    Claim("attn_translation", TRANSFORMER, "Transformers ... excelling in machine translation",
          "seq2seq_translation", translation),
    Claim("attn_best_for_text", TRANSFORMER, "State-of-the-art performance on many NLP tasks (Text/Sequences, "
          "language tasks: Transformer, best performance)", "char_transformer", best_for_text),
    Claim("attn_needs_data", TRANSFORMER, "Disadvantages: Requires large amounts of data", None, None),
    Claim("seq_memory_span", MEMORY, "Vanilla RNN: remembers ~5-10 steps back; LSTM: remembers ~100+ steps back",
          "memory_capacity", memory_span),
    Claim("seq_telephone", MEMORY, "The Vanishing Gradient Problem: like playing \"telephone\" game with 100 people "
          "... (memory fades)", "vanishing_gradients", telephone),
    Claim("seq_gru_simpler_faster", MEMORY, "GRU: like LSTM's younger sibling, does similar job with fewer parts; "
          "processing speed faster than LSTM", "memory_capacity", gru_simpler_faster),
    Claim("seq_vanilla_fast", MEMORY, "Vanilla RNN: simple, fast (processing speed: very fast); LSTM slower due to "
          "complexity", "memory_capacity", vanilla_fast),
    Claim("seq_generation", MEMORY, "Sequence Generation: RNNs Creating New Content (\"The weather today is\" ...)",
          "text_generation", generation),
    Claim("attn_any_distance", ATTENTION, "\"mat\" can directly connect to \"cat\" regardless of distance",
          "long_range", any_distance),
    Claim("attn_forget_cat", ATTENTION, "Before attention (RNNs): by the time we reach \"mat\", we might forget "
          "\"cat\"", "seq2seq_translation", forget_cat),
    Claim("attn_sat_cat", ATTENTION, "When processing \"sat\": attention decides \"cat\" is very relevant "
          "(cat 0.8)", "attention_maps", sat_on_cat),
    Claim("attn_interpretable", ATTENTION, "Interpretability: we can visualize what the model is \"paying attention "
          "to\"", "attention_maps", interpretable),
]
