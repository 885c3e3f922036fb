"""Pure Flax linen architectures. Each returns logits (or raw outputs) only; losses live in objectives."""
from jaxnets.models.attention import MultiHeadAttention, scaled_dot_product_attention
from jaxnets.models.autoencoder import VAE, Autoencoder, active_units, interpolate, reparameterize
from jaxnets.models.cnn import VGG, ConvBlock, LeNet5, ResidualBlock, ResNet, conv_kernels, feature_maps
from jaxnets.models.gan import GAN
from jaxnets.models.mlp import INITIALIZERS, MLP, count_params
from jaxnets.models.transformer import (
    Seq2SeqTransformer,
    TransformerClassifier,
    TransformerLM,
    generate,
    greedy_decode,
)

__all__ = [
    "MLP", "INITIALIZERS", "count_params",
    "ConvBlock", "LeNet5", "VGG", "ResidualBlock", "ResNet", "conv_kernels", "feature_maps",
    "Autoencoder", "VAE", "active_units", "interpolate", "reparameterize", "GAN",
    "MultiHeadAttention", "scaled_dot_product_attention",
    "TransformerClassifier", "TransformerLM", "Seq2SeqTransformer", "generate", "greedy_decode",
]
