"""Results as data: results.json and markdown tables written on the host."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np


def _jsonable(o):
    if isinstance(o, dict):
        return {str(k): _jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_jsonable(v) for v in o]
    if isinstance(o, np.ndarray):
        return _jsonable(o.tolist())
    if isinstance(o, (np.floating, float)):
        f = float(o)
        return f if math.isfinite(f) else None
    if isinstance(o, (np.integer,)):
        return int(o)
    return o


def write_json(path: str | Path, obj: dict) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_jsonable(obj), indent=2, allow_nan=False) + "\n")
    return path


def fmt_stat(s: dict | None, digits: int = 4) -> str:
    """{"mean", "std"} -> "0.9737 ± 0.0071"."""
    if not s or s.get("mean") is None:
        return "–"
    return f"{s['mean']:.{digits}f} ± {s['std']:.{digits}f}"


def markdown_table(headers: list[str], rows: list[list]) -> str:
    """Rows of cells; floats are rounded (4 significant digits, whole numbers from 1,000 up)."""
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    out += ["| " + " | ".join(_cell(c) for c in r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def _cell(c) -> str:
    if isinstance(c, (float, np.floating)) and np.isfinite(c):
        return f"{c:,.0f}" if abs(c) >= 1000 else f"{c:.4g}"
    return str(c)


def models_table(results: dict) -> str:
    """The comparison table of an experiment's results.json (mean ± std over seeds)."""
    headers = ["model", "parameters", "test accuracy", "precision", "recall", "F1", "ROC-AUC",
               "epochs", "compile s", "train s", "predictions/s"]
    rows = []
    for name, m in results["models"].items():
        rows.append([
            name, f"{m['parameters']:,}", fmt_stat(m["test_accuracy"]), fmt_stat(m.get("precision")),
            fmt_stat(m.get("recall")), fmt_stat(m.get("f1")), fmt_stat(m.get("roc_auc")),
            f"{m['epochs_run']['mean']:.0f}", f"{m['compile_seconds']:.2f}", f"{m['train_seconds']:.2f}",
            f"{m['predictions_per_second']:,.0f}",
        ])
    title = (f"**{results['experiment']}** · preset `{results['preset']}` · {results['seeds']} seeds · "
             f"{results['backend']} · training wall {results['training_wall_seconds']:.2f} s\n\n")
    return title + markdown_table(headers, rows)
