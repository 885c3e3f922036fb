"""jaxnets: pure Flax-linen models + objectives + one generic, jitted, sharded train engine.

    from jaxnets import data, models, train, metrics

Importing changes no process state; settings are explicit calls (`jaxnets.runtime`).
"""
from jaxnets.runtime import enable_compile_cache, set_cpu_xla_flags, setup_cpu, use_cpu_devices

__version__ = "0.1.0"
__all__ = ["enable_compile_cache", "set_cpu_xla_flags", "setup_cpu", "use_cpu_devices", "__version__"]
