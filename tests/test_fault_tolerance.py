"""Nothing is lost: a training run SIGKILLed at random points resumes to the uninterrupted run's
numbers; a save that fails for lack of disk space leaves the previous checkpoint intact; restoring
a checkpoint or an exported model never executes code planted in its files."""
import errno
import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time

import chex
import jax
import numpy as np
import pytest

from jaxnets.checkpoint import Checkpointer
from jaxnets.models import MLP
from jaxnets.train import Classification, FitConfig, create_states, fit, make_optimizer
from jaxnets.train.epoch import init_carry

EPOCHS = 12
TRAIN = textwrap.dedent(f"""
    import sys
    import numpy as np
    from jaxnets.checkpoint import Checkpointer
    from jaxnets.models import MLP
    from jaxnets.train import Classification, FitConfig, create_states, fit, make_optimizer

    directory, out = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 10)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int32)
    ck = Checkpointer(directory)
    start = ck.latest_epoch() or 0
    print("start", start, flush=True)
    state = create_states(MLP((32, 1), dropout_rate=0.1), make_optimizer("adam", 1e-2), [0, 1], x)
    cfg = FitConfig(epochs={EPOCHS}, batch_size=16, checkpoint_every=1, progress=False)
    r = fit(state, Classification(2), {{"x": x, "y": y}}, {{"x": x[:64], "y": y[:64]}}, cfg, checkpointer=ck,
            resume=start > 0)
    np.savez(out, kernel=np.asarray(r.state.params["output"]["kernel"]),
             hidden=np.asarray(r.state.params["hidden_0"]["kernel"]), val_loss=r.history["val_loss"])
    print("done", flush=True)
""")


def _start(tmp_path, directory, out):
    env = {**os.environ, "JAXNETS_NO_PROGRESS": "1"}
    env.pop("XLA_FLAGS", None)  # the child's own defaults, the same for every run of the chain
    proc = subprocess.Popen([sys.executable, "-c", TRAIN, str(directory), str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env)
    line = proc.stdout.readline()
    assert line.startswith("start"), f"the training script failed to start: {line!r}"
    return proc, int(line.split()[1])


def _complete_epochs(directory) -> list[int]:
    """Epochs with a complete checkpoint: Orbax renames a finished one to its bare step number."""
    last = directory / "last"
    return [int(p.name) for p in last.iterdir() if p.name.isdigit()] if last.is_dir() else []


def test_sigkill_at_random_points_then_resume_gives_identical_numbers(tmp_path):
    ref_proc, _ = _start(tmp_path, tmp_path / "ref", tmp_path / "ref.npz")
    assert ref_proc.wait(timeout=300) == 0
    rng = np.random.default_rng(0)
    run, resumed_from = tmp_path / "run", []
    for target in sorted(rng.choice(np.arange(1, EPOCHS - 1), 3, replace=False)):
        proc, start = _start(tmp_path, run, tmp_path / "run.npz")
        resumed_from.append(start)
        # Kill once epoch `target` is on disk, a random moment later: mid-epoch or mid-save.
        while max(_complete_epochs(run), default=0) < target and proc.poll() is None:
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.05))
        assert proc.poll() is None, "the run ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    proc, start = _start(tmp_path, run, tmp_path / "run.npz")
    resumed_from.append(start)
    assert proc.wait(timeout=300) == 0
    assert all(0 < e < EPOCHS for e in resumed_from[1:]), resumed_from
    ref, got = np.load(tmp_path / "ref.npz"), np.load(tmp_path / "run.npz")
    for k in ("kernel", "hidden", "val_loss"):
        np.testing.assert_array_equal(got[k], ref[k], err_msg=k)


def _data():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(48, 6)).astype(np.float32)
    return {"x": x, "y": (x[:, 0] > 0).astype(np.int32)}


def test_a_full_disk_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    """Epoch 3's save runs out of space half way through: fit raises a clear OSError, epoch 2 stays
    restorable, and resuming once there is space again gives the uninterrupted run's numbers."""
    from orbax.checkpoint._src.handlers import json_checkpoint_handler as jh

    d = _data()
    cfg = FitConfig(epochs=6, batch_size=16, checkpoint_every=1, progress=False)
    fresh = lambda: create_states(MLP((8, 1)), make_optimizer("adam", 1e-2), [0, 1], d["x"])
    full = fit(fresh(), Classification(2), d, d, cfg)
    original = jh.JsonCheckpointHandler._save_fn

    def disk_full(self, item, directory):
        if f"{os.sep}last{os.sep}3." in str(directory):  # epoch 3's temporary folder
            (directory / self._filename).write_text(json.dumps(item)[:7])  # a torn write, then the error
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return original(self, item, directory)

    monkeypatch.setattr(jh.JsonCheckpointHandler, "_save_fn", disk_full)
    ck = Checkpointer(tmp_path / "ck")
    with pytest.raises(OSError, match=r"saving the checkpoint of epoch 3 .* failed \(No space left on device\); "
                                      r"the previous checkpoint \(epoch 2\) is intact") as err:
        fit(fresh(), Classification(2), d, d, cfg, checkpointer=ck)
    assert err.value.errno == errno.ENOSPC
    monkeypatch.setattr(jh.JsonCheckpointHandler, "_save_fn", original)
    assert ck.latest_epoch() == 2
    _, _, epoch = ck.restore(init_carry(fresh()))
    assert epoch == 2
    resumed = fit(fresh(), Classification(2), d, d, cfg, checkpointer=ck, resume=True)
    chex.assert_trees_all_equal(resumed.state.params, full.state.params)


class _Bomb:
    """Unpickling this creates a marker file: proof that a loader executed planted code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _plant(folder, marker) -> int:
    payload = pickle.dumps(_Bomb(marker))
    files = [p for p in folder.rglob("*") if p.is_file()]
    for p in files:
        p.write_bytes(payload)
    return len(files)


def test_restoring_never_executes_planted_code(tmp_path):
    """Every file of the newest checkpoint replaced by a pickle that would create a file when
    unpickled: restore falls back to the older checkpoint, and nothing ran. The same for every
    checkpoint (a clear error) and for an exported model's parameters."""
    from jaxnets.artifact import ArtifactError, load
    from jaxnets.export import export
    from jaxnets.train import member

    d = _data()
    marker = tmp_path / "code_ran"
    st = create_states(MLP((8, 1)), make_optimizer("adam", 1e-2), [0, 1], d["x"])
    ck = Checkpointer(tmp_path / "ck")
    fit(st, Classification(2), d, d, FitConfig(epochs=2, batch_size=16, checkpoint_every=1, progress=False),
        checkpointer=ck)
    assert _plant(tmp_path / "ck" / "last" / "2", marker) > 3
    template = jax.eval_shape(init_carry, st)
    with pytest.warns(UserWarning, match="is damaged"):
        assert ck.restore(template)[2] == 1
    _plant(tmp_path / "ck" / "last", marker)  # (restore removed the unreadable epoch 2: epoch 1 is left)
    with pytest.raises(ValueError, match="cannot be read .* no older complete checkpoint"):
        ck.restore(template)
    folder = export(member(st, 0), tmp_path / "model")
    _plant(folder / "params", marker)
    with pytest.raises(ArtifactError, match="cannot be read|SHA-256"):
        load(folder)
    assert not marker.exists()
