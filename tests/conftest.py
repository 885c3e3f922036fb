"""Strict JAX settings for every test (as equinox does): implicit rank promotion is a bug here."""
import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

from jaxnets.runtime import set_cpu_xla_flags  # noqa: E402

set_cpu_xla_flags()  # the settings the experiments run with (explicit, before JAX starts)

import jax  # noqa: E402
import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_num_cpu_devices", int(os.environ.get("JAXNETS_TEST_CPU_DEVICES", "8")))
jax.devices()  # start JAX now: a later setup_cpu() (the experiments call it) then keeps these devices
settings.register_profile("ci", max_examples=25, deadline=None)
settings.load_profile("ci")


@pytest.fixture(scope="session")
def breast_cancer_splits():
    from jaxnets.data import load_embedded, prepare

    return prepare(load_embedded("breast_cancer"), val_size=0.5, val_from="test")
