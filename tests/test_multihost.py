"""Multi-host for real: 2 processes x 2 CPU devices on localhost (gloo collectives) train the same
members as this process does on 4 devices, and end with the same numbers; the checkpoint they
wrote together restores here. Plus the coordinator time-out."""
import os
import socket
import subprocess
import sys
from pathlib import Path

import chex
import jax
import numpy as np
import pytest

HERE = Path(__file__).parent / "multihost"
sys.path.insert(0, str(HERE))

from helpers import on_fake_cpu_devices  # noqa: E402
from mh_common import CONFIG, SEEDS, data, flat, model_and_optimizer  # noqa: E402

from jaxnets import distributed  # noqa: E402
from jaxnets.checkpoint import Checkpointer  # noqa: E402
from jaxnets.train import Classification, create_states, fit  # noqa: E402
from jaxnets.train.epoch import init_carry  # noqa: E402

pytestmark = on_fake_cpu_devices


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("JAXNETS_")}
    env["JAX_PLATFORMS"] = "cpu"
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    return env


def test_two_processes_equal_one_process_with_four_devices(tmp_path):
    port = _free_port()
    procs = [subprocess.Popen([sys.executable, str(HERE / "worker.py"), str(i), str(port), str(tmp_path)],
                              env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for i in range(2)]
    try:
        logs = [p.communicate(timeout=400)[0] for p in procs]
    finally:
        for p in procs:
            p.kill()
    assert all(p.returncode == 0 for p in procs), "\n\n".join(log[-3000:] for log in logs)
    got = dict(np.load(tmp_path / "result.npz"))

    train, val = data()
    for name, shape in (("members", (4, 1)), ("members_x_data", (2, 2))):
        mesh = distributed.make_mesh(*shape, devices=jax.devices()[:4])
        model, tx = model_and_optimizer()
        r = fit(create_states(model, tx, SEEDS, train["x"], mesh=mesh), Classification(2), train, val, CONFIG,
                mesh=mesh)
        want = flat(name, jax.device_get(r.state.params), r.history)
        assert set(want) <= set(got)
        for k, v in want.items():
            np.testing.assert_allclose(got[k], v, rtol=1e-5, atol=1e-6, err_msg=k)

    # The checkpoint both processes wrote restores in this single process.
    ck = Checkpointer(tmp_path / "ckpt_members")
    template = init_carry(create_states(*model_and_optimizer(), SEEDS, train["x"]))
    carry, _, epoch = ck.restore(template)
    assert epoch == int(r.epochs_run.max())
    chex.assert_tree_all_finite(carry.state.params)
    ck.close()


PROBE = """
import sys
from jaxnets import distributed
try:
    distributed.initialize("127.0.0.1:{port}", 2, 1, timeout_s=3)
except TimeoutError as e:
    print("TimeoutError:", e)
"""


def test_unreachable_coordinator_times_out_with_a_clear_message():
    out = subprocess.run([sys.executable, "-c", PROBE.format(port=_free_port())], env=_env(), capture_output=True,
                         text=True, timeout=120)
    assert "TimeoutError: initialize: no answer from the coordinator" in out.stdout, out.stdout + out.stderr[-2000:]


@pytest.mark.parametrize("kw, match", [
    (dict(coordinator_address="localhost", num_processes=2, process_id=0), "host:port"),
    (dict(coordinator_address="localhost:1", num_processes=2, process_id=2), r"process_id must be in \[0, 2\)"),
    (dict(coordinator_address="localhost:1", num_processes=0, process_id=0), "num_processes must be >= 1"),
    (dict(coordinator_address="localhost:1", num_processes="two", process_id=0), "num_processes must be an int"),
])
def test_bad_multihost_settings_are_clear_errors(kw, match):
    with pytest.raises(ValueError, match=match):
        distributed.initialize(**kw)
