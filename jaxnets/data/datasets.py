"""Loaders for datasets that ship inside scikit-learn: nothing is downloaded at run time.

Class names come from the data itself, not from memory: in sklearn's breast-cancer set target 0 is
*malignant* (212 samples) and 1 is *benign* (357). The seed text prints them the other way round.
"""
from __future__ import annotations

import dataclasses

import numpy as np
from sklearn import datasets as skd

_LOADERS = {
    "breast_cancer": (skd.load_breast_cancer, "classification"),
    "digits": (skd.load_digits, "classification"),
    "wine": (skd.load_wine, "classification"),
    "iris": (skd.load_iris, "classification"),
    "diabetes": (skd.load_diabetes, "regression"),
}
DATASETS = tuple(_LOADERS)


@dataclasses.dataclass(frozen=True)
class Dataset:
    """x: [n, features] float32; y: [n] int32 class ids (classification) or float32 targets."""

    name: str
    x: np.ndarray
    y: np.ndarray
    task: str
    class_names: tuple[str, ...]
    feature_names: tuple[str, ...]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def load_embedded(name: str) -> Dataset:
    """Load an embedded dataset by name (see `DATASETS`)."""
    if name not in _LOADERS:
        raise ValueError(f"unknown dataset {name!r}; valid names: {', '.join(DATASETS)}")
    loader, task = _LOADERS[name]
    raw = loader()
    x = np.asarray(raw.data, dtype=np.float32)
    if task == "classification":
        y = np.asarray(raw.target, dtype=np.int32)
        names = getattr(raw, "target_names", None)
        class_names = tuple(str(c) for c in names) if names is not None else tuple(map(str, np.unique(y)))
    else:
        y = np.asarray(raw.target, dtype=np.float32)
        class_names = ()
    feature_names = tuple(str(f) for f in getattr(raw, "feature_names", range(x.shape[1])))
    return Dataset(name, x, y, task, class_names, feature_names)
