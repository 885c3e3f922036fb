"""Reference implementations the benchmark measures jaxnets against (not used by the library)."""
