"""Strict JAX settings for every test (as equinox does): implicit rank promotion is a bug here."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")
# On a GPU, pytest-xdist's workers share the one card: each takes memory as it needs it, instead of
# JAX's default 75 % up front (which would leave the second worker none).
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

from jaxnets.runtime import set_cpu_xla_flags  # noqa: E402

set_cpu_xla_flags()  # the settings the experiments run with (explicit, before JAX starts)

import jax  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_num_cpu_devices", int(os.environ.get("JAXNETS_TEST_CPU_DEVICES", "8")))
jax.devices()  # start JAX now: a later setup_cpu() (the experiments call it) then keeps these devices
if jax.default_backend() != "cpu":
    # The reference comparisons (NumPy, PyTorch, Flax) assume float32 matmuls; GPUs default to TF32.
    # Through the environment too, so the experiments that tests run in subprocesses agree.
    os.environ["JAX_DEFAULT_MATMUL_PRECISION"] = "highest"
    jax.config.update("jax_default_matmul_precision", "highest")
settings.register_profile("ci", max_examples=25, deadline=None)
settings.load_profile("ci")


@pytest.fixture(scope="session")
def breast_cancer_splits():
    from jaxnets.data import load_embedded, prepare

    return prepare(load_embedded("breast_cancer"), val_size=0.5, val_from="test")
