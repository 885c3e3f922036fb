"""Embedded datasets (shipped with scikit-learn: no downloads), splits and standardisation."""
from jaxnets.data.datasets import DATASETS, Dataset, load_embedded
from jaxnets.data.images import (
    SAMPLE_IMAGES,
    load_digit_images,
    load_sample_photo,
    random_shift,
    ring_shifts,
    shift_images,
)
from jaxnets.data.split import Splits, Standardizer, one_hot, prepare, stratified_split
from jaxnets.data.synthetic import gaussian_ring, ring_centers

__all__ = [
    "DATASETS", "Dataset", "load_embedded",
    "SAMPLE_IMAGES", "load_digit_images", "load_sample_photo", "random_shift", "ring_shifts", "shift_images",
    "gaussian_ring", "ring_centers",
    "Splits", "Standardizer", "one_hot", "prepare", "stratified_split",
]
