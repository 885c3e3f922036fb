"""Evaluation on the host: the seed's `comprehensive_model_evaluation`, made exact and testable.

Counts come from one confusion matrix (computed on device); every score derives from it, with
sklearn's conventions (zero_division=0, "weighted" = support-weighted mean), so the numbers equal
`sklearn.metrics` on the same predictions (tests check it).
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np


def probabilities(logits) -> np.ndarray:
    """Logits [..., k] -> class probabilities [..., max(k, 2)]: a single logit is a binary σ."""
    logits = np.asarray(logits, dtype=np.float32)
    if logits.shape[-1] == 1:
        p1 = 1 / (1 + np.exp(-logits))
        return np.concatenate([1 - p1, p1], axis=-1)
    z = logits - logits.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


@jax.jit
def _confusion(y_true, y_pred, eye):
    return jnp.einsum("ni,nj->ij", eye[y_true], eye[y_pred])


def confusion_matrix(y_true, y_pred, num_classes: int) -> np.ndarray:
    """[num_classes, num_classes] counts; rows = true class, columns = predicted (sklearn's layout)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"y_true and y_pred must be 1-D of equal length, got {y_true.shape} and {y_pred.shape}")
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if y.size and (y.min() < 0 or y.max() >= num_classes):
            raise ValueError(f"{name} has labels outside [0, {num_classes})")
    eye = jnp.eye(num_classes, dtype=jnp.float32)
    return np.asarray(_confusion(jnp.asarray(y_true), jnp.asarray(y_pred), eye)).round().astype(np.int64)


def _div(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.divide(a, b, out=np.zeros_like(a), where=b > 0)


def classification_metrics(y_true, y_pred, num_classes: int) -> dict:
    """accuracy; per-class precision/recall/f1/support; macro and weighted averages; confusion."""
    cm = confusion_matrix(y_true, y_pred, num_classes)
    tp = np.diag(cm).astype(float)
    support = cm.sum(axis=1)
    precision = _div(tp, cm.sum(axis=0))
    recall = _div(tp, support)
    f1 = _div(2 * precision * recall, precision + recall)
    weights = _div(support, support.sum())
    scores = (("precision", precision), ("recall", recall), ("f1", f1))
    return {
        "accuracy": float(tp.sum() / max(cm.sum(), 1)),
        "per_class": {"precision": precision, "recall": recall, "f1": f1, "support": support},
        "macro": {k: float(v.mean()) for k, v in scores},
        "weighted": {k: float((v * weights).sum()) for k, v in scores},
        "confusion_matrix": cm,
    }


def classification_report(m: dict, class_names: Sequence[str], digits: int = 2) -> str:
    """Text table in the layout of `sklearn.metrics.classification_report`."""
    pc = m["per_class"]
    width = max(len("weighted avg"), *(len(c) for c in class_names), digits)
    head = " " * (width + 1) + "".join(f"{h:>{10}}" for h in ("precision", "recall", "f1-score", "support"))
    rows = [head, ""]
    for i, name in enumerate(class_names):
        vals = (pc["precision"][i], pc["recall"][i], pc["f1"][i])
        rows.append(f"{name:>{width}} " + "".join(f"{v:>10.{digits}f}" for v in vals) + f"{pc['support'][i]:>10}")
    total = int(pc["support"].sum())
    rows += ["", f"{'accuracy':>{width}} " + " " * 20 + f"{m['accuracy']:>10.{digits}f}{total:>10}"]
    for avg in ("macro", "weighted"):
        vals = (m[avg]["precision"], m[avg]["recall"], m[avg]["f1"])
        rows.append(f"{avg + ' avg':>{width}} " + "".join(f"{v:>10.{digits}f}" for v in vals) + f"{total:>10}")
    return "\n".join(rows) + "\n"


def confidence_analysis(proba, y_true) -> dict:
    """The seed's confidence analysis: confidence = max class probability (for a binary σ output this
    equals |p - 0.5| + 0.5); statistics, and accuracy in the bands >0.8, (0.6, 0.8], ≤0.6."""
    proba, y_true = np.asarray(proba), np.asarray(y_true)
    conf = proba.max(axis=-1)
    correct = proba.argmax(axis=-1) == y_true
    bands = {"high (>0.8)": conf > 0.8, "medium (0.6-0.8]": (conf > 0.6) & (conf <= 0.8), "low (<=0.6)": conf <= 0.6}
    return {
        "mean": float(conf.mean()), "std": float(conf.std()), "min": float(conf.min()), "max": float(conf.max()),
        "bands": {
            k: {"count": int(v.sum()), "accuracy": float(correct[v].mean()) if v.any() else None}
            for k, v in bands.items()
        },
    }


def roc_auc(y_true, scores) -> float:
    """Binary ROC-AUC as the Mann-Whitney statistic with tied scores counted 1/2 (= sklearn's)."""
    y_true, scores = np.asarray(y_true), np.asarray(scores, dtype=np.float64)
    pos, neg = scores[y_true == 1], scores[y_true == 0]
    if pos.size == 0 or neg.size == 0:
        raise ValueError("roc_auc needs both classes present in y_true")
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(scores.size)
    sorted_s = scores[order]
    # average ranks over ties
    _, start, counts = np.unique(sorted_s, return_index=True, return_counts=True)
    avg = start + (counts + 1) / 2.0
    ranks[order] = np.repeat(avg, counts)
    r_pos = ranks[y_true == 1].sum()
    return float((r_pos - pos.size * (pos.size + 1) / 2) / (pos.size * neg.size))


def throughput(predict: Callable[[np.ndarray], object], x, min_seconds: float = 0.2) -> float:
    """Predictions per second of `predict(x)` (already compiled: one warm-up call is made first)."""
    jax.block_until_ready(predict(x))
    n, t0 = 0, time.perf_counter()
    while True:
        jax.block_until_ready(predict(x))
        n += 1
        dt = time.perf_counter() - t0
        if dt >= min_seconds:
            return n * len(x) / dt


def evaluate_classifier(proba, y_true, class_names: Sequence[str]) -> dict:
    """Everything the seed's evaluation prints, for one model: proba [n, k], y_true [n]."""
    proba, y_true = np.asarray(proba), np.asarray(y_true)
    k = len(class_names)
    m = classification_metrics(y_true, proba.argmax(-1), k)
    out = {
        "accuracy": m["accuracy"],
        "precision": m["weighted"]["precision"], "recall": m["weighted"]["recall"], "f1": m["weighted"]["f1"],
        "macro": m["macro"],
        "per_class": {c: {key: float(v[i]) for key, v in m["per_class"].items()} for i, c in enumerate(class_names)},
        "confusion_matrix": m["confusion_matrix"].tolist(),
        "report": classification_report(m, class_names),
        "confidence": confidence_analysis(proba, y_true),
    }
    if k == 2:
        out["roc_auc"] = roc_auc(y_true, proba[:, 1])
    return out


def evaluate_regressor(y_true, y_pred) -> dict:
    """MSE, RMSE, MAE and R² (1 - SS_res / SS_tot, averaged uniformly over outputs) of predictions
    y_pred [n] or [n, k] against y_true of the same shape, in float64."""
    y_true, y_pred = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    if y_true.shape != y_pred.shape or y_true.ndim not in (1, 2) or len(y_true) < 2:
        raise ValueError(f"evaluate_regressor: y_true {y_true.shape} and y_pred {y_pred.shape} must have the same "
                         f"shape [n >= 2] or [n >= 2, k]")
    t, p = y_true.reshape(len(y_true), -1), y_pred.reshape(len(y_pred), -1)
    err = p - t
    ss_res, ss_tot = (err**2).sum(0), ((t - t.mean(0)) ** 2).sum(0)
    # A constant target: R² is 1 for a perfect fit, else 0 (scikit-learn's convention).
    r2 = np.where(ss_tot > 0, 1 - ss_res / np.where(ss_tot > 0, ss_tot, 1), np.where(ss_res == 0, 1.0, 0.0))
    mse = float((err**2).mean())
    return {"mse": mse, "rmse": float(np.sqrt(mse)), "mae": float(np.abs(err).mean()), "r2": float(r2.mean())}


def forward_flops(model, sample_x) -> float:
    """FLOPs of one example's forward pass (inference mode), from XLA's cost analysis of the
    lowered, uncompiled program: nothing is compiled or run. sample_x: [batch, ...] (row 0 is used).
    A cost proxy for scheduling and reports (a 2-stage ResNet on 8x8 digits: ~2.3 MFLOPs vs
    0.03 for the text's MLP, where parameter counts would rank them the other way round)."""
    x1 = jax.ShapeDtypeStruct((1, *np.shape(sample_x)[1:]), jnp.asarray(sample_x[:1]).dtype)
    variables = jax.eval_shape(model.init, jax.random.key(0), x1)
    # Lowered for the CPU where JAX has one: accelerator plugins (CUDA, TPU) analyse only compiled programs.
    try:
        cpu = jax.sharding.SingleDeviceSharding(jax.devices("cpu")[0])
    except RuntimeError:  # JAX_PLATFORMS without cpu
        cpu = None
    lowered = jax.jit(model.apply, in_shardings=cpu).lower(variables, x1)
    cost = lowered.cost_analysis()
    if cost is None:
        cost = lowered.compile().cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost  # older jax: one dict per program
    return float(cost.get("flops", 0.0))
