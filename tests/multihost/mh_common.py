"""What both sides of the multi-host test train: the same data, model, seeds and config."""
import numpy as np

from jaxnets.models import MLP
from jaxnets.train import FitConfig, make_optimizer

SEEDS = [0, 1, 2, 3]
# 3 epochs per call: the checkpoint is written mid-run too; patience exercises the replicated logs.
CONFIG = FitConfig(epochs=9, batch_size=10, patience=4, checkpoint_every=3, progress=False)


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, 6)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 3] > 0).astype(np.int32)
    return {"x": x[:70], "y": y[:70]}, {"x": x[70:], "y": y[70:]}


def model_and_optimizer():
    return MLP((16, 1)), make_optimizer("adam", 1e-2)


def flat(name: str, params, history) -> dict:
    """params and val losses as {"name/path": array} (what the result file holds)."""
    import jax

    out = {f"{name}/{jax.tree_util.keystr(path)}": np.asarray(leaf)
           for path, leaf in jax.tree_util.tree_leaves_with_path(params)}
    out[f"{name}/val_loss"] = np.asarray(history["val_loss"])
    return out
