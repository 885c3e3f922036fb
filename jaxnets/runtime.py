"""Explicit, opt-in process settings. Nothing here runs at import: experiments, notebooks and
scripts call these before their first JAX computation (NumPyro's `set_host_device_count` pattern).

* `use_cpu_devices(n)`: split the host CPU into n JAX devices, so the one sharded training program
  keeps every core busy (8 seeds of the text's Wide MLP: 2.1x on 2 cores, see docs).
* `set_cpu_xla_flags()`: XLA:CPU settings measured to pay on jaxnets' small programs: the newer
  fusion emitters off (the text's four MLPs compiled 1.6x slower with them, no run-time gain),
  LLVM's loop unroller off (compile 20-30 % faster, training within 1.5 %), one Eigen thread
  per device (with a device per core, Eigen's threads oversubscribed the cores: conv nets 1.1-1.4x)
  and one LLVM module per program (programs already compile side by side).
* `enable_compile_cache()`: JAX's persistent compilation cache, so a rerun compiles (almost) nothing.
"""
from __future__ import annotations

import contextlib
import gc
import os
import pkgutil
import sys
import threading
from pathlib import Path

# option name -> the flag set when XLA_FLAGS does not mention that option (the user's own wins).
CPU_XLA_FLAGS = {
    "xla_cpu_use_fusion_emitters": "--xla_cpu_use_fusion_emitters=false",
    # A backend-option map: XLA rejects it per program (compiler_options), so it is process-wide.
    "xla_backend_extra_options": "--xla_backend_extra_options=xla_cpu_disable_loop_unrolling",
    # One Eigen thread per device: with the CPU split into one device per core, Eigen's own
    # threads only oversubscribe the cores (a 5-seed ResNet on digits, 10 epochs on 2 devices:
    # 16.5 -> 11.6 s; two conv nets side by side, one device each: 16.5-17.5 -> 14.6-14.9 s).
    "xla_cpu_multi_thread_eigen": "--xla_cpu_multi_thread_eigen=false",
    # One LLVM module per program: experiments compile several programs at once from their build
    # threads, and splitting each module over the cores then costs more CPU than it saves (the text's
    # four MLPs, cold end to end, median of 6 runs: 6.29 -> 5.92 s).
    "xla_cpu_parallel_codegen_split_count": "--xla_cpu_parallel_codegen_split_count=1",
}


# Options XLA has since removed, with the last jaxlib (major, minor) that knows them: XLA aborts
# the process on an unknown XLA_FLAGS option (jaxlib 0.11.2 on xla_cpu_use_fusion_emitters).
_LAST_JAXLIB = {"xla_cpu_use_fusion_emitters": (0, 10)}


def cpu_xla_flags() -> dict[str, str]:
    """The entries of CPU_XLA_FLAGS that the installed jaxlib accepts (read without starting JAX)."""
    from importlib import metadata

    version = tuple(int(p) for p in metadata.version("jaxlib").split(".")[:2])
    return {k: v for k, v in CPU_XLA_FLAGS.items() if version <= _LAST_JAXLIB.get(k, version)}


def _backends_started() -> bool:
    from jax._src import xla_bridge

    return xla_bridge.backends_are_initialized()


def _requested_platforms() -> list[str]:
    """The platforms JAX was asked for (its `jax_platforms` setting, else $JAX_PLATFORMS); [] = all found."""
    value = sys.modules["jax"].config.jax_platforms if "jax" in sys.modules else None
    value = value or os.environ.get("JAX_PLATFORMS", "")
    return [p.strip() for p in value.split(",") if p.strip()]


def _accelerator_plugins() -> list[str]:
    """The accelerator plugins (CUDA, ROCm, TPU) JAX would find, looked up without starting JAX."""
    from importlib import metadata, util

    names = [ep.name for ep in metadata.entry_points(group="jax_plugins")]
    if util.find_spec("jax_plugins") is not None:
        import jax_plugins

        names += [m.name for m in pkgutil.iter_modules(jax_plugins.__path__)]
    return names + (["libtpu"] if util.find_spec("libtpu") is not None else [])


def cpu_only() -> bool:
    """Whether JAX will start no backend but the CPU: JAX_PLATFORMS names only `cpu`, or none is
    named and no accelerator plugin is installed."""
    platforms = _requested_platforms()
    return set(platforms) == {"cpu"} if platforms else not _accelerator_plugins()


def set_cpu_xla_flags() -> list[str]:
    """Add jaxnets' XLA:CPU flags to $XLA_FLAGS (skipping options already set there); returns the
    flags added. Adds nothing where an accelerator backend will start: its XLA client aborts the
    process on XLA:CPU flags ("Unknown flag in XLA_FLAGS"). Must run before JAX starts its backends;
    later it raises RuntimeError."""
    if _backends_started():
        raise RuntimeError("set_cpu_xla_flags() must be called before the first JAX computation "
                           "(XLA reads XLA_FLAGS once, when its backends start)")
    if not cpu_only():
        return []
    flags = os.environ.get("XLA_FLAGS", "")
    added = [flag for option, flag in cpu_xla_flags().items() if option not in flags]
    if added:
        os.environ["XLA_FLAGS"] = " ".join([flags, *added]).strip()
    return added


def use_cpu_devices(n: int | None = None) -> int:
    """Split the host CPU into `n` JAX devices (default: os.cpu_count()); returns n. A no-op for
    accelerator backends' own devices. Call before the first JAX computation: afterwards the count
    cannot change, and asking for a different one raises RuntimeError."""
    import jax

    n = (os.cpu_count() or 1) if n is None else n
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise ValueError(f"use_cpu_devices: n must be a positive int, got {n!r}")
    if _backends_started():
        have = len(jax.devices("cpu"))
        if have != n:
            raise RuntimeError(f"use_cpu_devices({n}): JAX already started with {have} CPU device(s); call it "
                               f"before the first JAX computation (e.g. at the top of the script or notebook)")
        return n
    jax.config.update("jax_num_cpu_devices", n)
    return n


def setup_cpu(devices: int | None = None) -> int:
    """What experiments call first: the CPU split into `devices` JAX devices (default one per core)
    and the XLA:CPU flags (on a CPU-only JAX; with an accelerator, its devices are used as they are);
    returns the device count of the default backend. In a process whose JAX has already started (a
    notebook, a test session) it changes nothing and returns the devices JAX has."""
    if _backends_started() or not cpu_only():
        import jax

        return jax.device_count()
    set_cpu_xla_flags()
    return use_cpu_devices(devices)


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


_TRACING = threading.Lock()


@contextlib.contextmanager
def tracing():
    """Trace and lower one program at a time, with Python's cyclic garbage collector paused.
    Tracing holds the GIL, so two threads tracing at once each run at half speed and then compile
    at the same moment; one at a time, one thread's XLA compile (which releases the GIL) overlaps
    the next one's tracing. The collector: tracing makes many short-lived objects, which trigger full
    collections of the whole JAX/Flax heap; reference counting still frees everything."""
    with _TRACING, paused_gc():
        yield


@contextlib.contextmanager
def paused_gc():
    """Pause Python's cyclic garbage collector while tracing and lowering a program: tracing makes
    many short-lived objects, which trigger full collections of the whole JAX/Flax heap (measured in
    docs/speed.md). Reference counting still frees everything; the collector resumes afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
