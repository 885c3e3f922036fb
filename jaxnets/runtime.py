"""Process-level JAX settings that jaxnets chooses by default (each overridable by the user).

* XLA:CPU's newer fusion emitters made compiling the small scan-heavy programs jaxnets builds
  1.6x slower here (5.73 s vs 3.57 s for the seed's four MLPs), with no measured run-time gain
  (see README, "Speed"), so they are turned off.
* LLVM's loop unroller is turned off for XLA:CPU kernels: the four seed MLPs' training programs
  compile 20-30 % faster (1.60-1.84 -> 1.22-1.31 s), train 1.5 % slower (0.666 -> 0.677 s), and end
  with bit-identical parameters. Kernels with exp / log / tanh may round differently in the last bit
  (logged losses and RNN gradient norms moved ~1e-7 relative), so long chaotic runs (GANs) end
  differently; every run is still deterministic.
* The persistent compilation cache makes a rerun compile (almost) nothing.

An XLA flag is skipped when XLA_FLAGS already sets that option. The flags must be set before JAX
creates its CPU backend (`import jaxnets` does it).
"""
from __future__ import annotations

import contextlib
import gc
import os
from pathlib import Path

# option name -> the flag jaxnets sets when XLA_FLAGS does not mention that option.
DEFAULT_XLA_FLAGS = {
    "xla_cpu_use_fusion_emitters": "--xla_cpu_use_fusion_emitters=false",
    # A backend-option map: per program via compiler_options it is rejected, so it is process-wide.
    "xla_backend_extra_options": "--xla_backend_extra_options=xla_cpu_disable_loop_unrolling",
}


def set_default_xla_flags() -> None:
    flags = os.environ.get("XLA_FLAGS", "")
    added = [flag for option, flag in DEFAULT_XLA_FLAGS.items() if option not in flags]
    if added:
        os.environ["XLA_FLAGS"] = " ".join([flags, *added]).strip()


def default_cache_dir() -> Path:
    return Path(os.environ.get("JAXNETS_COMPILE_CACHE", Path.home() / ".cache" / "jaxnets" / "xla"))


def enable_compile_cache(path: str | Path | None = None) -> Path:
    """Turn on JAX's persistent compilation cache at `path` (default: $JAXNETS_COMPILE_CACHE or
    ~/.cache/jaxnets/xla), caching every program however fast it compiled."""
    import jax

    path = Path(path) if path is not None else default_cache_dir()
    path.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return path


@contextlib.contextmanager
def paused_gc():
    """Pause Python's cyclic garbage collector while tracing and lowering a program.

    Tracing allocates many short-lived objects, which triggers full collections that walk every
    object of the JAX/Flax heap: measured 0.47 -> 0.32 s of tracing for the seed's four MLPs.
    Reference counting still frees everything; the collector resumes (if it was on) afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
