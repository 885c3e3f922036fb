"""A claim of the source text and how an experiment's results.json decides it."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable

VERDICTS = ("supported", "not supported", "mixed")


@dataclasses.dataclass(frozen=True)
class Finding:
    """verdict: one of VERDICTS; evidence: one sentence with the numbers behind it (mean ± std over
    seeds where the experiment has seeds); fields: dotted paths into results.json it read."""

    verdict: str
    evidence: str
    fields: tuple[str, ...]

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"Finding.verdict must be one of {VERDICTS}, got {self.verdict!r}")


@dataclasses.dataclass(frozen=True)
class Claim:
    """id: a short slug; section: the text's section; statement: the text's words, quoted;
    experiment: whose newest results.json decides it (None: no experiment measures it yet);
    check: results -> Finding (a KeyError or TypeError when the fields are missing: the report then
    says "not yet measured")."""

    id: str
    section: str
    statement: str
    experiment: str | None
    check: Callable[[dict], Finding] | None


def get(results: dict, path: str):
    """results["a"]["b"][0] for path "a.b.0"."""
    node = results
    for part in path.split("."):
        node = node[int(part)] if isinstance(node, list) else node[part]
    return node


def beyond(a: dict, b: dict) -> bool:
    """Summary a's mean above b's by more than both spreads (a["mean"] - a["std"] > b["mean"] + b["std"])."""
    return a["mean"] - a["std"] > b["mean"] + b["std"]


def fmt(s: dict, digits: int = 3) -> str:
    """{"mean", "std"} -> "0.973 ± 0.007"."""
    return f"{s['mean']:.{digits}f} ± {s['std']:.{digits}f}"


def tally(hits: int, total: int) -> str:
    """A claim of several parts: all hold -> supported, none -> not supported, some -> mixed."""
    return "supported" if hits == total else "not supported" if hits == 0 else "mixed"
