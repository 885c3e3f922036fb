"""Stratified train/val/test splits and a standardiser fitted on the training split only."""
from __future__ import annotations

import dataclasses

import numpy as np
from sklearn.model_selection import train_test_split

from jaxnets.data.datasets import Dataset


@dataclasses.dataclass(frozen=True)
class Standardizer:
    """z = (x - mean) / std with statistics of the training split (constant features keep std 1)."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> Standardizer:
        std = x.std(axis=0)
        return cls(x.mean(axis=0), np.where(std > 0, std, 1.0))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.std).astype(np.float32)

    def inverse(self, z: np.ndarray) -> np.ndarray:
        """x = z * std + mean (float64): e.g. standardised regression predictions in target units."""
        return np.asarray(z, np.float64) * self.std + self.mean


@dataclasses.dataclass(frozen=True)
class Splits:
    """Arrays per split as dicts {"x": [n, f], "y": [n]}; `val` may be None."""

    train: dict
    val: dict | None
    test: dict
    class_names: tuple[str, ...]
    scaler: Standardizer | None
    y_scaler: Standardizer | None = None  # regression targets, with `prepare(standardize_y=True)`


def stratified_split(x, y, test_size: float, seed: int, stratify: bool = True):
    """One stratified split (sklearn's, so `seed=42` reproduces the seed text's split exactly)."""
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be in (0, 1), got {test_size}")
    return train_test_split(x, y, test_size=test_size, random_state=seed, stratify=y if stratify else None)


def one_hot(y: np.ndarray, num_classes: int) -> np.ndarray:
    """Integer labels [n] -> one-hot [n, num_classes] float32; out-of-range labels raise."""
    y = np.asarray(y)
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes}), got range [{y.min()}, {y.max()}]")
    return np.eye(num_classes, dtype=np.float32)[y]


def prepare(
    ds: Dataset,
    *,
    test_size: float = 0.2,
    val_size: float = 0.0,
    val_from: str = "train",
    seed: int = 42,
    standardize: bool = True,
    standardize_y: bool = False,
) -> Splits:
    """Split a dataset and standardise it with training statistics.

    standardize_y (regression): targets standardised too, with `splits.y_scaler.inverse(pred)`
    mapping predictions back (an MLP fits unit-scale targets far better: diabetes' y spans 25-346).

    val_from="test" reproduces the seed's breast-cancer recipe (80/20, then the 20 % halved into
    val/test); "train" carves the validation split out of the training portion instead.
    """
    if val_from not in ("train", "test"):
        raise ValueError(f"val_from must be 'train' or 'test', got {val_from!r}")
    if standardize_y and ds.task == "classification":
        raise ValueError(f"prepare(standardize_y=True) is for regression targets; {ds.name!r} is a classification "
                         f"dataset")
    stratify = ds.task == "classification"
    x_tr, x_te, y_tr, y_te = stratified_split(ds.x, ds.y, test_size, seed, stratify)
    x_va = y_va = None
    if val_size > 0 and val_from == "train":
        x_tr, x_va, y_tr, y_va = stratified_split(x_tr, y_tr, val_size, seed, stratify)
    scaler = Standardizer.fit(x_tr) if standardize else None
    f = scaler if scaler is not None else (lambda a: a.astype(np.float32))
    x_tr, x_te = f(x_tr), f(x_te)
    x_va = f(x_va) if x_va is not None else None
    if val_size > 0 and val_from == "test":
        x_va, x_te, y_va, y_te = stratified_split(x_te, y_te, val_size, seed, stratify)
    y_scaler = Standardizer.fit(np.asarray(y_tr, np.float64)) if standardize_y else None
    if y_scaler is not None:
        y_tr, y_te = y_scaler(y_tr), y_scaler(y_te)
        y_va = y_scaler(y_va) if y_va is not None else None
    val = {"x": x_va, "y": y_va} if x_va is not None else None
    return Splits({"x": x_tr, "y": y_tr}, val, {"x": x_te, "y": y_te}, ds.class_names, scaler, y_scaler)
