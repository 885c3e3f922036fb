"""Test helpers shared by several test modules."""
import contextlib
import logging

import jax
import pytest

# The mesh tests shard over the 8 fake CPU devices of conftest. Where an accelerator is the default
# backend (JAX_PLATFORMS=cuda,cpu), jax.devices() is that accelerator: the rest of the suite runs on it.
on_fake_cpu_devices = pytest.mark.skipif(
    jax.default_backend() != "cpu", reason="shards over conftest's 8 fake CPU devices (the default backend is not CPU)")


@contextlib.contextmanager
def compile_log():
    """Collect the names of the programs XLA compiles inside the block (JAX's own compile log)."""
    names: list[str] = []

    class Handler(logging.Handler):
        def emit(self, record):
            msg = record.getMessage()
            if msg.startswith("Finished XLA compilation of "):
                names.append(msg.split(" in ")[0].removeprefix("Finished XLA compilation of "))

    handler = Handler(level=logging.DEBUG)
    loggers = [logging.getLogger("jax")]  # JAX's modules log through children of "jax"
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    try:
        with jax.log_compiles(True):
            yield names
    finally:
        for lg, level in zip(loggers, levels):
            lg.removeHandler(handler)
            lg.setLevel(level)
