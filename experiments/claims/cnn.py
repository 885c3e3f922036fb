"""The text's CNN claims: its "Convolutional Neural Networks (CNNs)" architecture section and the chapter
"CNNs: Spatial Processing and Feature Detection", each decided by cnn_vs_mlp, translation_invariance,
filters_and_feature_maps or depth_and_skips (or not yet measured).

Every check reads only results.json fields and judges a seeded difference only when it exceeds both
spreads (`beyond`), as the experiments do.
"""
from __future__ import annotations

import math

from experiments.claims.base import Claim, Finding, beyond, fmt, get

ARCH = "Convolutional Neural Networks (CNNs)"
CONCEPTS = "Key CNN Concepts Explained"
RECEPTIVE = 'Receptive Field: How Much Can Each Neuron "See"?'
FILTERS = "Different Types of Filters"
ARCHITECTURES = "Common CNN Architectures"
LIMITS = "Limitations of CNNs"

# Timings are single measurements on a shared host whose speed varies by ~25 % between runs
# (docs/results.md), so a cost difference counts only at a factor of 2.
COST_FACTOR = 2.0
# The photo is greyscale in [0, 1]: half an 8-bit grey level is below anything the eye (or the text) calls a change.
BRIGHTNESS_TOLERANCE = 0.5 / 255


def _fmt(s: dict) -> str:
    """fmt with enough decimals for two significant digits of small means (gradient norms, losses)."""
    mean = abs(s["mean"])
    return fmt(s, max(3, 2 - math.floor(math.log10(mean))) if mean > 0 else 3)


def _acc(results: dict, name: str) -> dict:
    return get(results, f"models.{name}.test_accuracy")


def _cnns(results: dict, *, augmented: bool | None = None) -> list[str]:
    """Model names that are not MLPs (the experiments' own split: "mlp" in the name), optionally only the
    (un)augmented ones; a KeyError when there is none, so that an empty set never decides a claim."""
    names = [n for n, m in results["models"].items()
             if "mlp" not in n and (augmented is None or bool(m["augment_shift"]) == augmented)]
    if not names:
        raise KeyError("no CNN in results['models']")
    return names


# --- cnn_vs_mlp ---------------------------------------------------------------------------------------

def check_images_better(results: dict) -> Finding:
    """The best CNN against the best MLP (both picked by the experiment's own claims), test accuracy."""
    c = results["claims"]
    cnn, mlp = c["best_cnn"], c["best_mlp"]
    a_cnn, a_mlp = _acc(results, cnn), _acc(results, mlp)
    if beyond(a_cnn, a_mlp):
        verdict, how = "supported", "ahead beyond both spreads"
    elif beyond(a_mlp, a_cnn):
        verdict, how = "not supported", "the MLP ahead beyond both spreads"
    else:
        # A tie is no evidence that CNNs suit images better.
        verdict, how = "not supported", "within the spreads"
    return Finding(verdict,
                   f"Test accuracy on 8×8 digits: best CNN {cnn} {fmt(a_cnn)} vs best MLP {mlp} {fmt(a_mlp)}, {how}.",
                   ("claims.best_cnn", "claims.best_mlp", f"models.{cnn}.test_accuracy",
                    f"models.{mlp}.test_accuracy"))


def check_fewer_parameters(results: dict) -> Finding:
    """The experiment's claim: a CNN with fewer parameters than the best MLP that is at least as accurate
    (mean); failing that, a smaller CNN within the spreads of the best MLP is a mixed result."""
    c = results["claims"]
    mlp, mlp_params = c["best_mlp"], c["best_mlp_parameters"]
    a_mlp = _acc(results, mlp)
    fields = ["claims.fewer_parameters_than_best_mlp", "claims.smallest_cnn_as_accurate_as_best_mlp",
              "claims.its_parameters", "claims.best_mlp", "claims.best_mlp_parameters", f"models.{mlp}.test_accuracy"]
    base = f"the best MLP {mlp} ({mlp_params:,} parameters, {fmt(a_mlp)})"
    if c["fewer_parameters_than_best_mlp"]:
        cnn, params = c["smallest_cnn_as_accurate_as_best_mlp"], c["its_parameters"]
        fields.append(f"models.{cnn}.test_accuracy")
        return Finding("supported",
                       f"{cnn} ({params:,} parameters, {fmt(_acc(results, cnn))}) is at least as accurate (mean) as "
                       f"{base} with {mlp_params / params:.1f}× fewer parameters.", tuple(fields))
    smaller = [n for n in _cnns(results) if get(results, f"models.{n}.parameters") < mlp_params]
    fields += [f"models.{n}.{k}" for n in smaller for k in ("parameters", "test_accuracy")]
    tied = [n for n in smaller if not beyond(a_mlp, _acc(results, n))]
    if tied:
        n = min(tied, key=lambda n: get(results, f"models.{n}.parameters"))
        return Finding("mixed",
                       f"No smaller CNN reaches {base} in mean, but {n} "
                       f"({get(results, f'models.{n}.parameters'):,} parameters, {fmt(_acc(results, n))}) is within "
                       f"the spreads.", tuple(fields))
    return Finding("not supported",
                   f"Every CNN with fewer parameters than {base} is less accurate beyond both spreads "
                   f"({', '.join(f'{n} {fmt(_acc(results, n))}' for n in smaller) or 'none is smaller'}).",
                   tuple(fields))


def check_compute_cost(results: dict) -> Finding:
    """The cheapest CNN against the most expensive MLP: predictions/s, and training seconds per epoch."""
    models = results["models"]
    cnns = _cnns(results)
    mlps = [n for n in models if "mlp" in n]
    if not mlps:
        raise KeyError("no MLP in results['models']")
    pps = {n: models[n]["predictions_per_second"] for n in cnns + mlps}
    # Early stopping ends models at different epochs: compare the time per epoch, not the total.
    spe = {n: models[n]["train_seconds"] / models[n]["epochs_run"]["mean"] for n in cnns + mlps}
    fast_cnn, slow_mlp = max(cnns, key=pps.get), min(mlps, key=pps.get)
    cheap_cnn, dear_mlp = min(cnns, key=spe.get), max(mlps, key=spe.get)
    predict_ratio, train_ratio = pps[slow_mlp] / pps[fast_cnn], spe[cheap_cnn] / spe[dear_mlp]
    hits = (predict_ratio >= COST_FACTOR) + (train_ratio >= COST_FACTOR)
    verdict = {2: "supported", 1: "mixed", 0: "not supported"}[hits]
    return Finding(verdict,
                   f"The fastest CNN {fast_cnn} makes {pps[fast_cnn]:,.0f} predictions/s vs {pps[slow_mlp]:,.0f} for "
                   f"the slowest MLP {slow_mlp} ({predict_ratio:.1f}× fewer), and the cheapest CNN to train "
                   f"{cheap_cnn} takes {spe[cheap_cnn]:.3f} s/epoch vs {spe[dear_mlp]:.3f} for {dear_mlp} "
                   f"({train_ratio:.1f}×; a factor of {COST_FACTOR:g} counts).",
                   tuple(f"models.{n}.{k}" for n in cnns + mlps
                         for k in ("predictions_per_second", "train_seconds", "epochs_run.mean")))


# --- translation_invariance ---------------------------------------------------------------------------

def _shifted(results: dict, name: str, d: int) -> dict:
    return get(results, f"models.{name}.accuracy_by_shift.{d}")


def check_translation_invariance(results: dict) -> Finding:
    """CNNs trained on centred digits (no augmentation: the text credits the architecture, "same filters
    detect the cat in all positions"), tested unshifted and shifted: does accuracy hold at every shift?"""
    cnns = _cnns(results, augmented=False)
    top = max(results["shifts"])
    shifts = [d for d in results["shifts"] if d > 0]
    drops = {n: [d for d in shifts if beyond(_shifted(results, n, 0), _shifted(results, n, d))] for n in cnns}
    if not any(drops.values()):
        verdict = "supported"
    elif all(top in v for v in drops.values()):
        verdict = "not supported"
    else:
        verdict = "mixed"
    parts = ", ".join(f"{n} {fmt(_shifted(results, n, 0))} → {fmt(_shifted(results, n, top))}" for n in cnns)
    return Finding(verdict,
                   f"Test accuracy of CNNs trained on centred digits, unshifted → shifted by {top} px: {parts} "
                   f"(a drop counts beyond both spreads).",
                   ("shifts", *(f"models.{n}.{k}" for n in cnns
                                for k in ("augment_shift", "accuracy_by_shift.0", f"accuracy_by_shift.{top}"))))


def check_pooling_invariance(results: dict) -> Finding:
    """Un-augmented conv + pool nets against the un-augmented MLP on shifted digits. The CNNs differ from
    the MLP in convolution as well as pooling: this measures the pair, not pooling alone."""
    cnns = _cnns(results, augmented=False)
    shifts = [d for d in results["shifts"] if d > 0]
    wins = [(n, d) for n in cnns for d in shifts if beyond(_shifted(results, n, d), _shifted(results, "mlp", d))]
    verdict = ("supported" if len(wins) == len(cnns) * len(shifts) else "mixed" if wins else "not supported")
    top = max(shifts)
    parts = ", ".join(f"{n} {fmt(_shifted(results, n, top))}" for n in cnns)
    return Finding(verdict,
                   f"At {top} px shift the conv + pool nets score {parts} vs the MLP's "
                   f"{fmt(_shifted(results, 'mlp', top))}; {len(wins)} of {len(cnns) * len(shifts)} "
                   f"(CNN, shift > 0) pairs ahead beyond both spreads.",
                   ("shifts", *(f"models.{n}.accuracy_by_shift.{d}" for n in [*cnns, "mlp"] for d in shifts)))


# --- filters_and_feature_maps -------------------------------------------------------------------------

def check_receptive_field(results: dict) -> Finding:
    """The LeNet's receptive field per layer (closed form) must grow with depth, and the field measured
    from gradients on the trained model must match the closed form's last layer."""
    rf = results["receptive_field"]
    layers = [(name, size) for name, size, _jump in rf["layers"]]
    sizes = [s for _, s in layers]
    grows = all(b > a for a, b in zip(sizes, sizes[1:]))
    measured, closed = rf["measured_from_gradients"], rf["closed_form"]
    matches = all(m == closed for m in measured)
    verdict = "supported" if grows and matches else "mixed" if grows or matches else "not supported"
    path = " → ".join(f"{n} {s}×{s}" for n, s in layers)
    return Finding(verdict,
                   f"LeNet's receptive field {'grows' if grows else 'does not grow'} layer by layer ({path}); "
                   f"measured from gradients on the trained model {measured[0]}×{measured[1]} vs closed form "
                   f"{closed}×{closed}.",
                   ("receptive_field.layers", "receptive_field.closed_form", "receptive_field.measured_from_gradients"))


def check_blur_brightness(results: dict) -> Finding:
    """Mean brightness of the greyscale photo before and after the ÷16 Gaussian blur (deterministic:
    one photo, no seeds)."""
    b = results["photo_filters"]["mean_brightness"]
    before, after = b["original"], b["gaussian_blur"]
    kept = abs(after - before) <= BRIGHTNESS_TOLERANCE
    return Finding("supported" if kept else "not supported",
                   f"On {results['photo_filters']['photo']} the Gaussian blur moves the mean brightness "
                   f"{before:.4f} → {after:.4f} ({abs(after - before):.1e}; tolerance half a grey level, "
                   f"{BRIGHTNESS_TOLERANCE:.1e}).",
                   ("photo_filters.photo", "photo_filters.mean_brightness.original",
                    "photo_filters.mean_brightness.gaussian_blur"))


# --- depth_and_skips ----------------------------------------------------------------------------------

def check_shortcuts_gradients(results: dict) -> Finding:
    """Plain vs residual (both without BatchNorm, so the shortcut is the only difference) at init: the
    first conv's gradient norm (does it vanish?) and the first/last-layer ratio (does it decay toward the
    input?). Both in the residual's favour: supported; one: mixed; none: not supported."""
    plain, res = results["models"]["plain"], results["models"]["residual"]
    first = next(iter(plain["init_gradient_norms"]))  # ordered input side first
    g_plain, g_res = plain["init_gradient_norms"][first], res["init_gradient_norms"][first]
    r_plain, r_res = plain["init_gradient_ratio_first_to_last"], res["init_gradient_ratio_first_to_last"]
    scale, profile = beyond(g_res, g_plain), beyond(r_res, r_plain)
    verdict = {2: "supported", 1: "mixed", 0: "not supported"}[scale + profile]
    return Finding(verdict,
                   f"At init ({plain['depth']} layers) the first conv's gradient norm is {_fmt(g_res)} with shortcuts "
                   f"vs {_fmt(g_plain)} plain ({'larger' if scale else 'not larger'} beyond both spreads), and the "
                   f"first/last-layer ratio {_fmt(r_res)} vs {_fmt(r_plain)} "
                   f"({'less decay' if profile else 'no less decay'} toward the input).",
                   ("models.plain.depth", f"models.plain.init_gradient_norms.{first}",
                    f"models.residual.init_gradient_norms.{first}", "models.plain.init_gradient_ratio_first_to_last",
                    "models.residual.init_gradient_ratio_first_to_last"))


def check_shortcuts_deep_training(results: dict) -> Finding:
    """Final training loss, residual vs plain, without and with BatchNorm: lower beyond both spreads in
    both pairs: supported; in one: mixed."""
    models = results["models"]
    pairs = [("residual", "plain"), ("residual_bn", "plain_bn")]
    loss = {n: models[n]["final_train_loss"] for p in pairs for n in p}
    wins = [beyond(loss[p], loss[r]) for r, p in pairs]
    verdict = {2: "supported", 1: "mixed", 0: "not supported"}[sum(wins)]
    parts = "; ".join(f"{r} {_fmt(loss[r])} vs {p} {_fmt(loss[p])}" for r, p in pairs)
    return Finding(verdict,
                   f"Final training loss of {models['plain']['depth']}-layer CNNs: {parts} "
                   f"({sum(wins)} of 2 pairs lower with shortcuts beyond both spreads).",
                   ("models.plain.depth", *(f"models.{n}.final_train_loss" for n in loss)))


CLAIMS: list[Claim] = [
    Claim("cnn_image_standard", ARCH, "CNNs are the de facto standard for image classification",
          "cnn_vs_mlp", check_images_better),
    Claim("cnn_fewer_parameters", ARCH, "Parameter sharing (fewer parameters)", "cnn_vs_mlp", check_fewer_parameters),
    Claim("cnn_compute_cost", LIMITS, "Computational Cost: Requires significant processing power",
          "cnn_vs_mlp", check_compute_cost),
    Claim("cnn_translation_invariance", CONCEPTS,
          "CNN recognizes objects regardless of where they appear in the image",
          "translation_invariance", check_translation_invariance),
    Claim("cnn_pooling_invariance", ARCH,
          "Pooling layers (e.g., max-pooling) downsample spatial dimensions to increase translation invariance",
          "translation_invariance", check_pooling_invariance),
    Claim("cnn_receptive_field_growth", RECEPTIVE,
          "Layer 1 neuron sees: 3x3 pixels … Layer 2 neuron sees: 5x5 pixels … Final layer sees: Entire image",
          "filters_and_feature_maps", check_receptive_field),
    Claim("cnn_blur_keeps_brightness", FILTERS, "Gaussian blur … ÷ 16 (normalize to prevent brightness change)",
          "filters_and_feature_maps", check_blur_brightness),
    Claim("cnn_resnet_vanishing_gradients", ARCHITECTURES, 'ResNet uses "shortcuts" to avoid vanishing gradients',
          "depth_and_skips", check_shortcuts_gradients),
    Claim("cnn_resnet_deep_training", ARCHITECTURES, "Allows training very deep networks (50-152 layers)",
          "depth_and_skips", check_shortcuts_deep_training),
    # Not measured: results.json holds no number for what learned kernels or deeper layers detect (the
    # experiment only draws them), nor a sweep over training-set size, nor a locality test.
    Claim("cnn_early_layers_edges", ARCH,
          "early layers detect edges and textures, while deeper layers capture object parts and semantics",
          None, None),
    Claim("cnn_local_connectivity", CONCEPTS, "Each neuron only looks at a small patch (much fewer connections)",
          None, None),
    Claim("cnn_large_datasets", LIMITS, "Large Dataset Requirements: Needs lots of training images", None, None),
]
