"""Activations and losses, looked up by the seed's names."""
from jaxnets.nn.activations import ACTIVATIONS, get_activation, leaky_relu, relu, sigmoid, softmax, tanh
from jaxnets.nn.losses import (
    LOSSES,
    binary_cross_entropy,
    categorical_cross_entropy,
    get_loss,
    mse,
)

__all__ = [
    "ACTIVATIONS", "get_activation", "sigmoid", "tanh", "relu", "leaky_relu", "softmax",
    "LOSSES", "get_loss", "mse", "binary_cross_entropy", "categorical_cross_entropy",
]
