"""Importing jaxnets changes no process state: environment, JAX config, matplotlib backend, and no
JAX backend is started (so a later `use_cpu_devices` / XLA flag still takes effect)."""
import json
import subprocess
import sys

PROBE = r"""
import importlib, json, os, pkgutil
import matplotlib, jax
for dep in ("flax.linen", "optax", "chex", "orbax.checkpoint", "sklearn", "statsmodels.api", "tqdm.auto"):
    importlib.import_module(dep)  # dependencies' own import effects do not count
from jax._src import xla_bridge
env0, backend0, config0 = dict(os.environ), matplotlib.get_backend(), dict(jax.config.values)
import jaxnets
names = [m.name for m in pkgutil.walk_packages(jaxnets.__path__, "jaxnets.")]
for name in names:
    importlib.import_module(name)
config1 = dict(jax.config.values)
print(json.dumps({
    "modules": names,
    "env": sorted(k for k in set(env0) | set(os.environ) if env0.get(k) != os.environ.get(k)),
    "backend": [backend0, matplotlib.get_backend()],
    "config": sorted(k for k in set(config0) | set(config1) if repr(config0.get(k)) != repr(config1.get(k))),
    "jax_started": xla_bridge.backends_are_initialized(),
}))
"""


def test_importing_every_module_changes_nothing():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=300, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert {"jaxnets.plots", "jaxnets.train.fit", "jaxnets.distributed", "jaxnets.runtime"} <= set(r["modules"])
    assert r["env"] == [] and r["config"] == []
    assert r["backend"][0] == r["backend"][1]
    assert r["jax_started"] is False


def test_the_probe_sees_a_change():
    """The probe is not blind: a module that sets XLA_FLAGS at import is reported."""
    probe = PROBE.replace("import jaxnets\n", "import jaxnets\nos.environ['XLA_FLAGS'] = '--x'\n"
                                              "matplotlib.use('svg')\njax.config.update('jax_enable_x64', True)\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["env"] == ["XLA_FLAGS"] and r["config"] == ["jax_enable_x64"] and r["backend"][1] == "svg"
