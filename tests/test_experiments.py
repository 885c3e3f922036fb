import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from experiments import activation_comparison, architecture_comparison
from experiments.__main__ import main as index_main
from experiments.benchmark import mlp_train_flops
from experiments.common import Preset

ROOT = Path(__file__).resolve().parents[1]
COMMON = ["--no-progress", "--no-compile-cache"]


def _check_schema(r: dict, out: Path, seeds: int):
    assert {"experiment", "preset", "seeds", "jax_version", "backend", "models", "training_wall_seconds"} <= set(r)
    assert r["seeds"] == seeds and r["jax_version"] == jax.__version__ and r["backend"] == jax.default_backend()
    for m in r["models"].values():
        acc = m["test_accuracy"]
        assert len(acc["per_seed"]) == seeds and acc["mean"] == pytest.approx(np.mean(acc["per_seed"]))
        assert m["parameters"] > 0 and m["compile_seconds"] > 0 and m["train_seconds"] > 0
        assert m["predictions_per_second"] > 0
    on_disk = json.loads((out / "results.json").read_text())
    assert on_disk["models"].keys() == r["models"].keys()
    for f in ("results.md", "learning_curves.png", "test_accuracy.png", "config.json"):
        assert (out / f).stat().st_size > 0
    assert len(list((out / "reports").glob("*.txt"))) == len(r["models"])


def test_architecture_comparison_quick(tmp_path):
    r = architecture_comparison.run(["--quick", "--preset", "seed", "--out", str(tmp_path), *COMMON])
    _check_schema(r, tmp_path, seeds=2)
    assert set(r["models"]) == {"shallow", "deep_narrow", "wide", "very_deep"}
    assert r["models"]["shallow"]["parameters"] == 30 * 16 + 16 + 16 + 1
    assert r["dataset"]["class_names"] == ["malignant", "benign"]
    assert "roc_auc" in r["models"]["wide"]


def test_activation_comparison_quick_default_preset(tmp_path):
    r = activation_comparison.run(["--quick", "--seeds", "3", "--out", str(tmp_path), *COMMON])
    _check_schema(r, tmp_path, seeds=3)
    assert set(r["models"]) == {"sigmoid", "tanh", "relu", "leaky_relu"}
    assert r["dataset"]["val"] > 0  # the default preset validates (early stopping)


def test_index_lists_experiments(capsys):
    assert index_main(["list"]) == 0
    out = capsys.readouterr().out
    assert "architecture_comparison" in out and "activation_comparison" in out and "benchmark" in out
    assert index_main(["nope"]) == 2


def test_bad_cli_and_configs(tmp_path):
    with pytest.raises(SystemExit):
        architecture_comparison.run(["--preset", "fancy"])
    with pytest.raises(SystemExit):
        architecture_comparison.run(["--seeds", "0"])
    with pytest.raises(FileNotFoundError, match="no config.json"):
        architecture_comparison.run(["--resume", str(tmp_path), *COMMON])
    with pytest.raises(ValueError, match="needs a validation split"):
        Preset(dataset="digits", optimizer="adam", learning_rate=1e-3, epochs=5, val_size=0.0, patience=3)


def test_flop_count_matches_xla_cost_analysis():
    import jax.numpy as jnp

    from jaxnets.models import MLP

    model = MLP((128, 64, 1))
    x = jnp.zeros((100, 30))
    v = model.init(jax.random.PRNGKey(0), x)
    cost = jax.jit(lambda v, x: model.apply(v, x)).lower(v, x).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    forward = mlp_train_flops([30, 128, 64, 1], 0, 100, 1)  # n_val term = one forward pass
    assert forward == pytest.approx(cost["flops"], rel=0.05)


def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path):
    """Kill a checkpointing run with SIGKILL, resume it, and get the uninterrupted run's numbers."""
    args = ["--preset", "seed", "--seeds", "2", "--epochs", "100", "--checkpoint-every", "10", *COMMON]
    ref = architecture_comparison.run([*args, "--out", str(tmp_path / "ref")])

    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # The same device count as this process, so the resumed models run on the meshes they were saved from.
    proc = subprocess.Popen([sys.executable, "-m", "experiments.architecture_comparison", *args, "--out", str(out),
                             "--devices", str(jax.device_count())],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        steps = [p for p in out.glob("checkpoints/*/last/*") if p.name.isdigit()]
        if len(steps) >= 2:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (out / "results.json").exists()
    # a save cut off mid-write leaves a temporary folder: it must be ignored
    (out / "checkpoints" / "wide" / "last" / "90.orbax-checkpoint-tmp-1").mkdir(parents=True, exist_ok=True)

    resumed = architecture_comparison.run(["--resume", str(out), *COMMON])
    for name, m in ref["models"].items():
        assert resumed["models"][name]["test_accuracy"]["per_seed"] == m["test_accuracy"]["per_seed"]
        assert resumed["models"][name]["final_val_loss"]["per_seed"] == m["final_val_loss"]["per_seed"]


@pytest.mark.parametrize("models, seeds, devices, lane", [
    (6, 5, 2, 1),  # 5 seeds over 2 devices would pad a sixth: one device per model, two at a time
    (1, 5, 2, 2),  # one model: padding beats an idle core
    (4, 1, 2, 1),  # the seed preset's four 1-seed MLPs side by side
    (4, 8, 2, 2),  # seeds fill the devices evenly: every model spans both
    (1, 1, 2, 1),  # nothing to spread: no padding copy
    (3, 4, 8, 4),  # 3 models × 4 seeds on 8 devices: two lanes of 4 (no padding, 2 rounds)
    (6, 5, 8, 1),
    (2, 8, 1, 1),
])
def test_lane_size(models, seeds, devices, lane):
    from experiments.common import lane_size

    assert lane_size(models, seeds, devices) == lane


def test_assign_lanes_balances_longest_first():
    from experiments.common import assign_lanes

    costs = [2.3, 6.7, 21.0, 62.0, 79.0, 151.0]  # cnn_vs_mlp's measured train seconds
    plan = assign_lanes(costs, 2)
    assert sorted(i for lane in plan for i in lane) == list(range(6))
    loads = sorted(sum(costs[i] for i in lane) for lane in plan)
    assert loads[1] - loads[0] <= min(costs) * 10  # within the smallest models' sizes
    assert plan[0][0] == 5 and all(costs[a] >= costs[b] for lane in plan for a, b in zip(lane, lane[1:]))
    assert assign_lanes(costs, 1) == [[5, 4, 3, 2, 1, 0]]


def test_model_cost_of_an_mlp_is_xla_s_count():
    from experiments.common import ModelSpec, model_cost
    from jaxnets.metrics import forward_flops

    spec = ModelSpec("m", (128, 64, 10))
    x = np.zeros((4, 64), np.float32)
    assert model_cost(spec, spec.build(Preset("digits", "adam", 1e-3, 5)), x) == pytest.approx(
        forward_flops(spec.build(Preset("digits", "adam", 1e-3, 5)), x), rel=0.02)
