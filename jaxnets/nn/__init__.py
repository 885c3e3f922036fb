"""Activations and losses looked up by the seed's names; convolution, pooling, classic filters and
receptive fields."""
from jaxnets.nn.activations import ACTIVATIONS, get_activation, leaky_relu, relu, sigmoid, softmax, tanh
from jaxnets.nn.conv import avg_pool, conv2d, global_avg_pool, max_pool, output_size
from jaxnets.nn.filters import FILTERS, apply_filter, get_filter
from jaxnets.nn.losses import (
    LOSSES,
    binary_cross_entropy,
    categorical_cross_entropy,
    get_loss,
    kl_bernoulli,
    kl_normal,
    mse,
)
from jaxnets.nn.receptive_field import FieldInfo, Layer, empirical_receptive_field, receptive_field

__all__ = [
    "ACTIVATIONS", "get_activation", "sigmoid", "tanh", "relu", "leaky_relu", "softmax",
    "LOSSES", "get_loss", "mse", "binary_cross_entropy", "categorical_cross_entropy", "kl_normal", "kl_bernoulli",
    "conv2d", "max_pool", "avg_pool", "global_avg_pool", "output_size", "FILTERS", "apply_filter", "get_filter",
    "Layer", "FieldInfo", "receptive_field", "empirical_receptive_field",
]
