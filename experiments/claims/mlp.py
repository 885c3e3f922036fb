"""The text's claims on fundamentals, MLPs, activations, initialisation, regularisation and schedules.

Each check reads one experiment's results.json (see `experiments/<experiment>.py` for what it
measures) and judges like the experiments do: a difference counts only when it exceeds both seed
spreads (`beyond`). Missing fields raise KeyError/TypeError from the indexing itself, so the report
says "not yet measured" instead of judging on a made-up default.

The text's NumPy code prints its conclusions ("Key Insights", "Technical Observations") at the end of
its "Implementation from Scratch" part, which has no heading of its own in the body; the sections
below name them after that table-of-contents entry. The text makes no claim about particular
optimizers (it only names SGD), so the `optimizers` experiment decides nothing here.
"""
from __future__ import annotations

from experiments.claims.base import Claim, Finding, beyond, fmt, get, tally

ACTIVATIONS_SECTION = "Activation Functions: The Non-Linear Magic"
MLP_SECTION = "Feedforward Neural Networks (Multilayer Perceptrons)"
INSIGHTS = "Implementation from Scratch: Key Insights"
OBSERVATIONS = "Implementation from Scratch: Technical Observations"

# A timing ratio has no seed spread (all seeds train as one program): below this it "does not
# grow" (depth_and_time's own threshold); at least a doubling counts as "significant".
NO_GROWTH, SIGNIFICANT_GROWTH = 1.1, 2.0


class _Reader:
    """get() that remembers the dotted paths it read, for Finding.fields."""

    def __init__(self, results: dict):
        self.results = results
        self.paths: list[str] = []

    def __call__(self, path: str):
        self.paths.append(path)
        return get(self.results, path)

    def keys(self, path: str) -> list[str]:
        """The names under path (which models were run), not itself a field judged on; none at all
        is a missing measurement too (KeyError), not something to take a max over."""
        names = list(get(self.results, path))
        if not names:
            raise KeyError(f"{path}: empty")
        return names

    def finding(self, verdict: str, evidence: str) -> Finding:
        return Finding(verdict, evidence, tuple(dict.fromkeys(self.paths)))


def _sig(s: dict) -> str:
    """mean ± std in significant digits, for ratios and norms that span many decades."""
    return f"{s['mean']:.3g} ± {s['std']:.2g}"




def _no_guarantee(big: dict, smaller: dict[str, dict]) -> str:
    """"More (depth, parameters) is not always better": refuted only when the big model is beyond
    every smaller one; supported when some smaller one is at least as good on the mean; mixed when
    the big one leads on the mean but within the spreads of some smaller one."""
    if all(beyond(big, s) for s in smaller.values()):
        return "not supported"
    if any(s["mean"] >= big["mean"] for s in smaller.values()):
        return "supported"
    return "mixed"


# --- vanishing_and_dying: a deep (10-layer) MLP per activation, plain SGD ------------------------


def sigmoid_tanh_vanish(results: dict) -> Finding:
    """Vanishing: epoch-1 gradient norm of layer 1 over the last hidden layer below 1 beyond its
    spread, and below ReLU's beyond both spreads (ReLU is the text's remedy)."""
    read = _Reader(results)
    depth = read("preset_config.depth")
    ratio = {a: read(f"models.{a}.first_over_last_grad") for a in ("sigmoid", "tanh", "relu")}
    vanish = [a for a in ("sigmoid", "tanh") if ratio[a]["mean"] + ratio[a]["std"] < 1.0
              and beyond(ratio["relu"], ratio[a])]
    return read.finding(tally(len(vanish), 2), (
        f"In a {depth}-layer MLP the first layer's gradient norm over the last hidden layer's (epoch 1; < 1: it "
        f"shrinks on its way back) is sigmoid {_sig(ratio['sigmoid'])}, tanh {_sig(ratio['tanh'])}, relu "
        f"{_sig(ratio['relu'])}: vanishing beyond the spreads for {', '.join(vanish) or 'neither'}."))


def tanh_stronger_gradients(results: dict) -> Finding:
    """"Stronger gradients than sigmoid": the first layer's gradient norm in epoch 1, both with Xavier init."""
    read = _Reader(results)
    g = {a: read(f"models.{a}.grad_norm_first_epoch.1") for a in ("tanh", "sigmoid")}
    verdict = "supported" if beyond(g["tanh"], g["sigmoid"]) else "not supported"
    return read.finding(verdict, (
        f"First-layer gradient norm in epoch 1 of the deep MLP: tanh {_sig(g['tanh'])} against sigmoid "
        f"{_sig(g['sigmoid'])}" + (" (larger beyond both spreads)." if verdict == "supported" else
                                    " (not larger beyond both spreads).")))


def relu_dies_trains_faster(results: dict) -> Finding:
    """Two parts: ReLU has dead units at the end (beyond zero), and its training loss after the first
    epochs is below sigmoid's and tanh's beyond the spreads; each part that holds counts."""
    read = _Reader(results)
    early = read("preset_config.early")
    dead = read("models.relu.dead_fraction")
    loss = {a: read(f"models.{a}.train_loss_early") for a in ("relu", "sigmoid", "tanh")}
    dies = dead["mean"] - dead["std"] > 0.0
    faster_than = [a for a in ("sigmoid", "tanh") if beyond(loss[a], loss["relu"])]
    return read.finding(tally(int(dies) + len(faster_than), 3), (
        f"ReLU's dead units at the end: {fmt(dead)} ({'dying' if dies else 'no dying'} beyond the spread); "
        f"training loss after {early} epochs: relu {fmt(loss['relu'])}, sigmoid {fmt(loss['sigmoid'])}, tanh "
        f"{fmt(loss['tanh'])}, so ReLU trains faster than {' and '.join(faster_than) or 'neither'}."))


def leaky_relu_dying(results: dict) -> Finding:
    """Fewer dead units than ReLU beyond both spreads. When ReLU lost none there was no problem to
    help with: the measurement does not support the claim (not the same as refuting it)."""
    read = _Reader(results)
    dead = {a: read(f"models.{a}.dead_fraction") for a in ("relu", "leaky_relu")}
    if beyond(dead["relu"], dead["leaky_relu"]):
        verdict, why = "supported", "fewer beyond both spreads"
    elif dead["leaky_relu"]["mean"] >= dead["relu"]["mean"]:
        verdict = "not supported"
        why = "no dying-ReLU problem to help with" if dead["relu"]["mean"] == 0 else "not fewer"
    else:
        verdict, why = "mixed", "fewer on the mean, within the spreads"
    return read.finding(verdict, (
        f"Dead units at the end of training (mean over layers): leaky_relu {fmt(dead['leaky_relu'])} against "
        f"relu {fmt(dead['relu'])} ({why})."))


def relu_deeper(results: dict) -> Finding:
    """Test accuracy of the deep MLP: ReLU beyond sigmoid's and beyond tanh's spreads, each a part."""
    read = _Reader(results)
    depth = read("preset_config.depth")
    acc = {a: read(f"models.{a}.test_accuracy") for a in ("relu", "sigmoid", "tanh")}
    wins = [a for a in ("sigmoid", "tanh") if beyond(acc["relu"], acc[a])]
    return read.finding(tally(len(wins), 2), (
        f"Test accuracy of the {depth}-layer MLP: relu {fmt(acc['relu'])}, sigmoid {fmt(acc['sigmoid'])}, tanh "
        f"{fmt(acc['tanh'])}: ReLU is ahead beyond both spreads of {' and '.join(wins) or 'neither'}."))


def activation_convergence(results: dict) -> Finding:
    """Different convergence: some pair of activations whose training loss after the first epochs
    differs beyond both spreads (same network, initialisation family, optimizer and seeds)."""
    read = _Reader(results)
    early = read("preset_config.early")
    names = ("sigmoid", "tanh", "relu", "leaky_relu")
    loss = {a: read(f"models.{a}.train_loss_early") for a in names}
    apart = [f"{a}/{b}" for i, a in enumerate(names) for b in names[i + 1:]
             if beyond(loss[a], loss[b]) or beyond(loss[b], loss[a])]
    return read.finding("supported" if apart else "not supported", (
        f"Training loss after {early} epochs: " + ", ".join(f"{a} {fmt(loss[a])}" for a in names)
        + f"; pairs apart beyond both spreads: {', '.join(apart) or 'none'}."))


# --- activation_comparison: the text's 2-hidden-layer digits MLP ----------------------------------


def tanh_shallow(results: dict) -> Finding:
    """"Best for hidden layers in shallow networks": no activation beyond tanh's test accuracy, and
    tanh on top by the mean (mixed: another leads on the mean within the spreads)."""
    read = _Reader(results)
    names = ("tanh", "sigmoid", "relu", "leaky_relu")
    acc = {a: read(f"models.{a}.test_accuracy") for a in names}
    hidden = read("models.tanh.features")[:-1]
    above = [a for a in names[1:] if beyond(acc[a], acc["tanh"])]
    top = max(names, key=lambda a: acc[a]["mean"])
    verdict = "not supported" if above else "supported" if top == "tanh" else "mixed"
    return read.finding(verdict, (
        f"Test accuracy of the MLP with hidden layers {hidden}: " + ", ".join(f"{a} {fmt(acc[a])}" for a in names)
        + (f"; beyond tanh: {', '.join(above)}." if above else f"; none beyond tanh, top mean: {top}.")))


# --- initialisation: a 10-layer MLP from zeros, N(0, 0.01²), Xavier and He -------------------------


def init_crucial(results: dict) -> Finding:
    """Crucial: per activation, the better proper init (Xavier/He) beyond both improper ones (zeros,
    N(0, 0.01²)) on test accuracy; each activation is a part. Seeds reaching the training-accuracy
    target are quoted, not judged: in short runs no initialisation reaches it."""
    read = _Reader(results)
    seeds, target = read("seeds"), read("preset_config.target")
    parts, crucial = [], 0
    for act in ("relu", "tanh"):
        acc = {i: read(f"models.{act}/{i}.test_accuracy") for i in ("zeros", "small_normal", "xavier", "he")}
        hit = {i: read(f"models.{act}/{i}.reached_target") for i in acc}
        proper = max(("xavier", "he"), key=lambda i: acc[i]["mean"])
        crucial += all(beyond(acc[proper], acc[bad]) for bad in ("zeros", "small_normal"))
        parts.append(f"{act} " + ", ".join(f"{i} {fmt(acc[i])} ({hit[i]}/{seeds})" for i in acc))
    return read.finding(tally(crucial, 2), (
        f"Test accuracy (seeds reaching {target:.0%} training accuracy): " + "; ".join(parts) + "."))


# --- regularization: digits with ~120 training examples -------------------------------------------


def batchnorm_crucial(results: dict) -> Finding:
    """BatchNorm against none: test accuracy higher beyond the spreads (supported); only the
    train/validation gap narrower beyond the spreads (mixed); neither (not supported)."""
    read = _Reader(results)
    bn, none = ({k: read(f"models.{v}.{k}") for k in ("test_accuracy", "gap")} for v in ("batch_norm", "none"))
    better = beyond(bn["test_accuracy"], none["test_accuracy"])
    narrower = beyond(none["gap"], bn["gap"])
    verdict = "supported" if better else "mixed" if narrower else "not supported"
    return read.finding(verdict, (
        f"MLP on {read('n_train')} digits: test accuracy batch_norm {fmt(bn['test_accuracy'])} against none "
        f"{fmt(none['test_accuracy'])}, train−validation gap {fmt(bn['gap'])} against {fmt(none['gap'])}."))


def l2_overfitting(results: dict) -> Finding:
    """L2 against none: narrower train/validation gap beyond the spreads, and higher test accuracy
    beyond them (the gap alone is biased: L2's weight was chosen on that validation split)."""
    read = _Reader(results)
    l2, none = ({k: read(f"models.{v}.{k}") for k in ("gap", "test_accuracy")} for v in ("l2", "none"))
    narrower = beyond(none["gap"], l2["gap"])
    better = beyond(l2["test_accuracy"], none["test_accuracy"])
    return read.finding(tally(int(narrower) + int(better), 2), (
        f"{read('n_train')} training examples, L2 weight {read('chosen.l2'):g} against none: train−validation gap "
        f"{fmt(l2['gap'])} vs {fmt(none['gap'])}, test accuracy {fmt(l2['test_accuracy'])} vs "
        f"{fmt(none['test_accuracy'])}."))


def validation_detects_overfitting(results: dict) -> Finding:
    """Unregularised: a train−validation gap beyond zero (the overfit is visible only off the training
    set), with validation accuracy within the spreads of test accuracy (it stands in for held-out data)."""
    read = _Reader(results)
    tr, va, te, gap = (read(f"models.none.{k}") for k in ("train_accuracy", "val_accuracy", "test_accuracy", "gap"))
    overfit = gap["mean"] - gap["std"] > 0.0
    faithful = not (beyond(va, te) or beyond(te, va))
    verdict = "supported" if overfit and faithful else "mixed" if overfit else "not supported"
    return read.finding(verdict, (
        f"Without regularisation on {read('n_train')} examples: train accuracy {fmt(tr)}, validation {fmt(va)} "
        f"(gap {fmt(gap)}), test {fmt(te)}."))


# --- schedules: SGD + momentum, each schedule at its own best peak rate ---------------------------


def lr_schedule(results: dict) -> Finding:
    """A schedule improves convergence when it ends better beyond the spreads (test accuracy or final
    validation loss), or settles in at most half the constant rate's epochs without ending worse
    beyond them. settled_epoch comes from the seed-mean curve (no spread), hence the factor of two.
    Mixed: only schedules that settle sooner but end worse."""
    read = _Reader(results)
    names = read.keys("models")
    m = {s: {k: read(f"models.{s}.{k}") for k in ("test_accuracy", "val_loss", "settled_epoch")} for s in names}
    base = m["constant"]
    improved, tradeoff, worse_end = [], [], []
    for s in names:
        if s == "constant":
            continue
        better = beyond(m[s]["test_accuracy"], base["test_accuracy"]) or beyond(base["val_loss"], m[s]["val_loss"])
        worse = beyond(base["test_accuracy"], m[s]["test_accuracy"])
        worse_end += [s] if worse else []
        sooner = 2 * m[s]["settled_epoch"] <= base["settled_epoch"]
        if better or (sooner and not worse):
            improved.append(s)
        elif sooner:
            tradeoff.append(s)
    verdict = "supported" if improved else "mixed" if tradeoff else "not supported"
    return read.finding(verdict, (
        "Validation loss within 5 % of its final value from epoch " + ", ".join(
            f"{s} {m[s]['settled_epoch']}" for s in names) + "; test accuracy " + ", ".join(
            f"{s} {fmt(m[s]['test_accuracy'], 4)}" for s in names) + f"; improved: {', '.join(improved) or 'none'}, "
        f"worse at the end beyond the spreads: {', '.join(worse_end) or 'none'}."))


# --- depth_and_time: ReLU MLPs of depth 1…8 on breast cancer --------------------------------------


def deeper_not_better(results: dict) -> Finding:
    """The deepest network against every shallower one on test accuracy (see _no_guarantee)."""
    read = _Reader(results)
    depths = sorted(read.keys("by_depth"), key=int)
    acc = {d: read(f"by_depth.{d}.test_accuracy") for d in depths}
    deepest = depths[-1]
    best = max(depths, key=lambda d: acc[d]["mean"])
    return read.finding(_no_guarantee(acc[deepest], {d: acc[d] for d in depths[:-1]}), (
        "Test accuracy by number of hidden layers: " + ", ".join(f"{d}: {fmt(acc[d])}" for d in depths)
        + f"; the most accurate has {best}; the deepest ({deepest}) is ahead beyond both spreads of: "
        + (", ".join(d for d in depths[:-1] if beyond(acc[deepest], acc[d])) or "none") + "."))


def time_grows_with_depth(results: dict) -> Finding:
    """Time per epoch of the deepest over the shallowest network (compile excluded): below 1.1× it
    does not grow (the experiment's threshold), from 2× it grows significantly, in between: mixed."""
    read = _Reader(results)
    depths = sorted(read.keys("by_depth"), key=int)
    sec = {d: read(f"by_depth.{d}.epoch_seconds") for d in depths}
    ratio = sec[depths[-1]] / sec[depths[0]]
    verdict = ("not supported" if ratio < NO_GROWTH else "supported" if ratio >= SIGNIFICANT_GROWTH else "mixed")
    return read.finding(verdict, (
        "Milliseconds per epoch by number of hidden layers: " + ", ".join(f"{d}: {1e3 * sec[d]:.2f}" for d in depths)
        + f"; {depths[-1]} layers take {ratio:.2f}× the time of {depths[0]} for "
          f"{int(depths[-1]) / int(depths[0]):g}× the depth."))


# --- architecture_comparison: the text's four breast-cancer MLPs ---------------------------------


def params_no_guarantee(results: dict) -> Finding:
    """The model with the most parameters against every smaller one on test accuracy (_no_guarantee)."""
    read = _Reader(results)
    names = read.keys("models")
    params = {n: read(f"models.{n}.parameters") for n in names}
    acc = {n: read(f"models.{n}.test_accuracy") for n in names}
    big = max(names, key=lambda n: params[n])
    best = max(names, key=lambda n: acc[n]["mean"])
    return read.finding(_no_guarantee(acc[big], {n: acc[n] for n in names if n != big}), (
        "Test accuracy (parameters): " + ", ".join(f"{n} {fmt(acc[n])} ({params[n]:,})" for n in names)
        + f"; the largest is {big}, the most accurate {best}; {big} is ahead beyond both spreads of: "
        + (", ".join(n for n in names if n != big and beyond(acc[big], acc[n])) or "none") + "."))


def no_perfect_accuracy(results: dict) -> Finding:
    """No architecture at 100 % test accuracy: every seed below 1 (supported), some seed of some
    model at 1 (mixed), some model at 1 on every seed (not supported)."""
    read = _Reader(results)
    names = read.keys("models")
    acc = {n: read(f"models.{n}.test_accuracy") for n in names}
    best = max(names, key=lambda n: acc[n]["mean"])
    top_seed = max(acc[n]["max"] for n in names)
    verdict = ("not supported" if any(acc[n]["min"] >= 1.0 for n in names) else
               "mixed" if top_seed >= 1.0 else "supported")
    return read.finding(verdict, (
        f"Best test accuracy of the {len(names)} architectures: {best} {fmt(acc[best])}; the highest single seed "
        f"of any architecture reaches {top_seed:.4f}."))


CLAIMS: list[Claim] = [
    Claim("mlp_sigmoid_tanh_vanish", OBSERVATIONS,
          "\"Sigmoid/tanh suffer from vanishing gradients in deep networks\"", "vanishing_and_dying",
          sigmoid_tanh_vanish),
    Claim("mlp_tanh_stronger_gradients", ACTIVATIONS_SECTION,
          "tanh: \"Zero-centered, stronger gradients than sigmoid\"", "vanishing_and_dying", tanh_stronger_gradients),
    Claim("mlp_relu_dies_trains_faster", OBSERVATIONS,
          "\"ReLU can have 'dying neuron' problem but generally trains faster\"", "vanishing_and_dying",
          relu_dies_trains_faster),
    Claim("mlp_leaky_relu_dying", OBSERVATIONS,
          "\"Leaky ReLU helps with dying neuron problem\" (and \"Prevents dying ReLU\")", "vanishing_and_dying",
          leaky_relu_dying),
    Claim("mlp_relu_deeper", INSIGHTS, "\"ReLU generally outperforms sigmoid/tanh for deeper networks\"",
          "vanishing_and_dying", relu_deeper),
    Claim("mlp_activation_convergence", INSIGHTS,
          "\"Different activation functions have different convergence characteristics\"", "vanishing_and_dying",
          activation_convergence),
    Claim("mlp_tanh_shallow", ACTIVATIONS_SECTION, "tanh: \"Best for: Hidden layers in shallow networks\"",
          "activation_comparison", tanh_shallow),
    Claim("mlp_sigmoid_output", ACTIVATIONS_SECTION, "sigmoid: \"Best for: Binary classification output layers\"",
          None, None),
    Claim("mlp_init_crucial", OBSERVATIONS, "\"Batch normalization and proper initialization are crucial\" "
          "(initialisation)", "initialisation", init_crucial),
    Claim("mlp_batchnorm_crucial", OBSERVATIONS, "\"Batch normalization and proper initialization are crucial\" "
          "(batch normalisation)", "regularization", batchnorm_crucial),
    Claim("mlp_lr_schedule", OBSERVATIONS, "\"Learning rate scheduling can improve convergence\"", "schedules",
          lr_schedule),
    Claim("mlp_l2_overfitting", MLP_SECTION, "\"often with ℓ2 regularization to avoid overfitting\"",
          "regularization", l2_overfitting),
    Claim("mlp_validation_overfitting", INSIGHTS, "\"Validation is crucial to detect overfitting\"",
          "regularization", validation_detects_overfitting),
    Claim("mlp_deeper_not_better", INSIGHTS, "\"Deeper networks don't always perform better\"", "depth_and_time",
          deeper_not_better),
    Claim("mlp_time_grows_with_depth", INSIGHTS, "\"Training time increases significantly with network depth\"",
          "depth_and_time", time_grows_with_depth),
    Claim("mlp_params_no_guarantee", INSIGHTS,
          "\"Model complexity (parameters) doesn't guarantee better performance\"", "architecture_comparison",
          params_no_guarantee),
    Claim("mlp_no_perfect_accuracy", INSIGHTS, "\"No architecture achieves 100% accuracy\"",
          "architecture_comparison", no_perfect_accuracy),
]
