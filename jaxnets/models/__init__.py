"""Pure Flax linen architectures. Each returns logits (or raw outputs) only; losses live in objectives."""
from jaxnets.models.mlp import INITIALIZERS, MLP, count_params

__all__ = ["MLP", "INITIALIZERS", "count_params"]
