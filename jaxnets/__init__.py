"""jaxnets: pure Flax-linen models + objectives + one generic, jitted, vmapped train engine.

    from jaxnets import data, models, train, metrics
"""
from jaxnets.runtime import enable_compile_cache, set_default_xla_flags

set_default_xla_flags()  # before any JAX backend exists; a user's own XLA_FLAGS setting wins

__version__ = "0.1.0"
__all__ = ["enable_compile_cache", "__version__"]
