"""English text already on the machine: the documentation topics that ship with CPython
(`pydoc_data.topics`, ~465k characters of the language reference), as character sequences."""
from __future__ import annotations

import dataclasses

import numpy as np


def load_python_docs() -> str:
    """The text of every `pydoc_data.topics` entry (CPython's own help() pages), in sorted key order."""
    from pydoc_data.topics import topics

    return "\n".join(topics[k] for k in sorted(topics))


@dataclasses.dataclass(frozen=True)
class CharVocab:
    """Characters <-> ids; characters outside the vocabulary map to `unknown` ('?')."""

    chars: str

    @classmethod
    def build(cls, text: str) -> CharVocab:
        printable = {c for c in text if 32 <= ord(c) < 127 or c == "\n"} | {"?"}
        return cls("".join(sorted(printable)))

    @property
    def size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        table = {c: i for i, c in enumerate(self.chars)}
        unknown = table["?"]
        return np.array([table.get(c, unknown) for c in text], np.int32)

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)


def char_sequences(ids: np.ndarray, length: int) -> dict:
    """Non-overlapping next-character examples: x [n, length] ids, y [n, length] = x shifted by one."""
    if length < 1:
        raise ValueError(f"length must be >= 1, got {length}")
    n = (len(ids) - 1) // length
    if n < 1:
        raise ValueError(f"text of {len(ids)} characters is too short for sequences of {length}")
    x = ids[: n * length].reshape(n, length)
    y = ids[1: n * length + 1].reshape(n, length)
    return {"x": x, "y": y}
