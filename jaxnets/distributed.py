"""Device meshes for the one training program, and the multi-host entry.

A mesh has two axes: `members` (seeds × hyper-parameter settings: independent models, sharded
across devices first) and `data` (each batch split across devices, for one model spanning several;
XLA reduces the gradients from the shardings). The same program runs on 1 CPU device, a CPU split
into several devices (`jaxnets.runtime.use_cpu_devices`), 8 TPU cores or a multi-host slice.

Multi-host: every process runs the same script; `initialize()` connects them (JAX's own runtime),
each process holds the full (small) dataset and places its local shards
(`jax.make_array_from_callback`), and only process 0 writes results (`is_main_process`).
"""
from __future__ import annotations

import math
import os
import socket
import time
from collections.abc import Sequence

import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

MEMBERS, DATA = "members", "data"


def _positive(name: str, v) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
        raise ValueError(f"mesh {name} must be a positive int, got {v!r}")
    return int(v)


def make_mesh(members: int | None = None, data: int | None = None, devices: Sequence | None = None) -> Mesh:
    """A ("members", "data") mesh over `devices` (default: all devices of every process).

    members × data must equal the device count; give one of them and the other is inferred; give
    neither and every device goes on `members`. Pass `devices=jax.devices()[:k]` to use fewer.
    """
    devices = list(jax.devices() if devices is None else devices)
    if not devices:
        raise ValueError("make_mesh needs at least one device, got an empty list")
    n = len(devices)
    members = None if members is None else _positive("members", members)
    data = None if data is None else _positive("data", data)
    if members is None and data is None:
        members, data = n, 1
    elif members is None or data is None:
        given, name = (data, "data") if members is None else (members, "members")
        if given > n:
            raise ValueError(f"mesh {name}={given} asks for more devices than exist ({n} {devices[0].platform} "
                             f"device(s))")
        if n % given:
            raise ValueError(f"mesh {name}={given} does not divide the {n} devices; pass devices=jax.devices()[:k] "
                             f"to use fewer")
        members, data = (n // given, given) if members is None else (given, n // given)
    if members * data > n:
        raise ValueError(f"mesh members={members} × data={data} asks for {members * data} devices, but only {n} "
                         f"exist ({devices[0].platform})")
    if members * data != n:
        raise ValueError(f"mesh members={members} × data={data} = {members * data} must equal the {n} devices "
                         f"given; pass devices=jax.devices()[:{members * data}] to use fewer")
    grid = np.asarray(devices, dtype=object).reshape(members, data)
    return Mesh(grid, (MEMBERS, DATA), axis_types=(AxisType.Auto, AxisType.Auto))


def default_mesh(num_members: int, devices: Sequence | None = None) -> Mesh:
    """Members first: the `members` axis takes the largest divisor of the device count that is at most
    the member count (all devices when there are at least as many members), `data` the rest. So 8
    seeds on 8 devices are 8 × 1, 1 seed is 1 × 8, and 2 seeds are 2 × 4 rather than 8 members of
    which 6 would be padding copies computed for nothing."""
    n = len(jax.devices() if devices is None else devices)
    members = max(d for d in range(1, n + 1) if n % d == 0 and d <= max(num_members, 1))
    return make_mesh(members=members, devices=devices)


def padded_members(n: int, mesh: Mesh) -> int:
    """n rounded up to a multiple of the mesh's members axis (padding members are never reported)."""
    size = mesh.shape[MEMBERS]
    return math.ceil(n / size) * size


def member_sharding(mesh: Mesh) -> NamedSharding:
    """Leading (member) axis split over `members`, the rest replicated."""
    return NamedSharding(mesh, P(MEMBERS))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """A batch [b, ...] of one member split over `data` (inside `vmap(spmd_axis_name="members")`)."""
    return NamedSharding(mesh, P(DATA))


def put(x, sharding: NamedSharding) -> jax.Array:
    """Place a host array (the same on every process) into `sharding`; each process writes only the
    shards of its own devices, so this works unchanged on one host or many."""
    x = np.asarray(x)
    return jax.make_array_from_callback(x.shape, sharding, lambda idx: x[idx])


def cpu_compiler_options(mesh: Mesh, **options) -> dict | None:
    """`options` (XLA compiler options) when the mesh is on CPU devices, else None: the CPU-only
    compile-time settings jaxnets uses must not reach a GPU/TPU compiler."""
    return options if mesh.devices.flat[0].platform == "cpu" else None


def mesh_of(tree) -> Mesh | None:
    """The mesh of the first leaf placed with a NamedSharding, if any."""
    for leaf in jax.tree_util.tree_leaves(tree):
        sharding = getattr(leaf, "sharding", None)
        if isinstance(sharding, NamedSharding):
            return sharding.mesh
    return None


# --- multi-host -----------------------------------------------------------------------------------

ENV = {"coordinator_address": "JAXNETS_COORDINATOR", "num_processes": "JAXNETS_NUM_PROCESSES",
       "process_id": "JAXNETS_PROCESS_ID"}


def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None, *, timeout_s: int = 300, cpu_collectives: str = "gloo") -> None:
    """Connect this process to the others (`jax.distributed.initialize`); call it first, before any
    JAX computation. Arguments default to $JAXNETS_COORDINATOR ("host:port"),
    $JAXNETS_NUM_PROCESSES and $JAXNETS_PROCESS_ID; with none of them set, JAX auto-detects the
    cluster (Cloud TPU pod slices, SLURM, Open MPI). On CPU, cross-process collectives use
    `cpu_collectives` ("gloo"). A process other than 0 whose coordinator does not answer within
    `timeout_s` seconds raises TimeoutError; process 0 waits as long for the others, then JAX
    stops it with DEADLINE_EXCEEDED.
    """
    given = {"coordinator_address": coordinator_address, "num_processes": num_processes, "process_id": process_id}
    for name, var in ENV.items():
        if given[name] is None and os.environ.get(var):
            given[name] = os.environ[var]
    for name in ("num_processes", "process_id"):
        if given[name] is not None:
            try:
                given[name] = int(given[name])
            except ValueError:
                raise ValueError(f"initialize: {name} must be an int, got {given[name]!r}") from None
    n, pid, addr = given["num_processes"], given["process_id"], given["coordinator_address"]
    if n is not None and n < 1:
        raise ValueError(f"initialize: num_processes must be >= 1, got {n}")
    if pid is not None and n is not None and not 0 <= pid < n:
        raise ValueError(f"initialize: process_id must be in [0, {n}), got {pid}")
    if addr is not None and (":" not in addr or not addr.rsplit(":", 1)[1].isdigit()):
        raise ValueError(f"initialize: coordinator_address must be 'host:port', got {addr!r}")
    if not isinstance(timeout_s, int) or timeout_s <= 0:
        raise ValueError(f"initialize: timeout_s must be a positive int, got {timeout_s!r}")
    if addr is not None and pid not in (None, 0):
        # JAX's client aborts the whole process (a fatal C++ check, not an exception) when the
        # coordinator never answers: wait for its port here first, with an error that can be caught.
        _wait_for_coordinator(addr, timeout_s, f"process {pid} of {n}")
    jax.config.update("jax_cpu_collectives_implementation", cpu_collectives)
    jax.distributed.initialize(addr, n, pid, initialization_timeout=timeout_s)


def _wait_for_coordinator(addr: str, timeout_s: float, who: str) -> None:
    host, port = addr.rsplit(":", 1)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=1.0):
                return
        except OSError:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"initialize: no answer from the coordinator at {addr} within {timeout_s} s "
                                   f"({who}); is process 0 running, and is the address reachable from here?") from None
            time.sleep(0.2)


def is_main_process() -> bool:
    """True on process 0: the one that writes results, tables and plots."""
    return jax.process_index() == 0
