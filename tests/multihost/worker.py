"""One process of the 2-process test (tests/test_multihost.py): 2 CPU devices here, 4 in all.

    python tests/multihost/worker.py PROCESS_ID PORT OUT_DIR
"""
import sys

import jax

jax.config.update("jax_num_cpu_devices", 2)

import numpy as np  # noqa: E402
from jax.experimental import multihost_utils  # noqa: E402
from mh_common import CONFIG, SEEDS, data, flat, model_and_optimizer  # noqa: E402

from jaxnets import distributed  # noqa: E402
from jaxnets.checkpoint import Checkpointer  # noqa: E402
from jaxnets.train import Classification, create_states, fit  # noqa: E402

pid, port, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
distributed.initialize(f"127.0.0.1:{port}", 2, pid, timeout_s=120)
assert jax.process_count() == 2 and jax.device_count() == 4 and jax.local_device_count() == 2

train, val = data()
results = {}
for name, shape in (("members", (4, 1)), ("members_x_data", (2, 2))):
    mesh = distributed.make_mesh(*shape)
    model, tx = model_and_optimizer()
    state = create_states(model, tx, SEEDS, train["x"], mesh=mesh)
    ckpt = Checkpointer(f"{out}/ckpt_{name}")  # every process writes its own shards
    r = fit(state, Classification(2), train, val, CONFIG, mesh=mesh, checkpointer=ckpt)
    ckpt.close()
    results.update(flat(name, multihost_utils.process_allgather(r.state.params, tiled=True), r.history))
if distributed.is_main_process():
    np.savez(f"{out}/result.npz", **results)
jax.distributed.shutdown()
