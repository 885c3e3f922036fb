"""The command line every experiment shares: its own --help, checkpoints and --resume for the
standalone experiments (sequence, autoencoder, GAN) as for the comparison ones."""
import dataclasses
import json
import shutil

import chex
import jax
import numpy as np
import pytest

from experiments import cnn_vs_mlp, common, standalone
from jaxnets.models import MLP
from jaxnets.train import Classification, FitConfig, create_states, make_optimizer


def test_help_shows_the_experiment_and_its_presets(capsys):
    with pytest.raises(SystemExit):
        common.parse_args("cnn_vs_mlp", cnn_vs_mlp.PRESETS, ["--help"])
    text = capsys.readouterr().out
    assert cnn_vs_mlp.__doc__.splitlines()[0] in text
    assert "default: dataset=digits_images, optimizer=adam" in text and "--checkpoint-every" in text


@dataclasses.dataclass(frozen=True)
class _Preset:
    seeds: int = 2
    epochs: int = 12

    def quick(self):
        return dataclasses.replace(self, epochs=4)


def _toy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 5)).astype(np.float32)
    return {"x": x, "y": (x[:, 0] > 0).astype(np.int32)}


def _train(args, preset, data):
    state = create_states(MLP((8, 1)), make_optimizer("adam", 1e-2), range(preset.seeds), data["x"])
    config = FitConfig(epochs=preset.epochs, batch_size=8, progress=False)
    return standalone.checkpointed_fit(args.checkpoints, state, Classification(2), data, None, config, "lstm T=5")


def test_standalone_runs_checkpoint_and_resume_to_the_same_numbers(tmp_path):
    data, out = _toy(), tmp_path / "run"
    argv = ["--out", str(out), "--epochs", "6", "--seeds", "3", "--checkpoint-every", "2", "--no-compile-cache"]
    args, preset, got_out = standalone.start("forecasting", _Preset(), argv)
    assert got_out == out and (preset.epochs, preset.seeds) == (6, 3)
    assert json.loads((out / "config.json").read_text())["argv"] == argv
    straight = _train(args, preset, data)
    folder = out / "checkpoints" / "lstm_T_5"
    steps = sorted(int(p.name) for p in (folder / "last").iterdir() if p.name.isdigit())
    assert steps[-1] == 6
    for step in steps[1:]:  # an interrupted run: only the epoch-2 checkpoint survives
        shutil.rmtree(folder / "last" / str(step))

    args2, preset2, out2 = standalone.start("forecasting", _Preset(), ["--resume", str(out), "--no-progress"])
    assert out2 == out and preset2 == preset and args2.checkpoint_every == 2
    resumed = _train(args2, preset2, data)
    chex.assert_trees_all_equal(jax.device_get(resumed.state.params), jax.device_get(straight.state.params))
    np.testing.assert_array_equal(resumed.history["train_loss"], straight.history["train_loss"])


def test_resume_names_a_wrong_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no config.json"):
        standalone.start("forecasting", _Preset(), ["--resume", str(tmp_path)])
    (tmp_path / "config.json").write_text(json.dumps({"experiment": "compression", "argv": []}))
    with pytest.raises(ValueError, match="run of 'compression', not 'forecasting'"):
        standalone.start("forecasting", _Preset(), ["--resume", str(tmp_path)])
