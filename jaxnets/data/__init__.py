"""Embedded datasets (shipped with scikit-learn: no downloads), splits and standardisation."""
from jaxnets.data.datasets import DATASETS, Dataset, load_embedded
from jaxnets.data.split import Splits, Standardizer, one_hot, prepare, stratified_split

__all__ = [
    "DATASETS", "Dataset", "load_embedded",
    "Splits", "Standardizer", "one_hot", "prepare", "stratified_split",
]
