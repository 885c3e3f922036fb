"""Export and reload without the training code: a fresh process gives the training process's very
outputs (MLP, CNN with BatchNorm, LSTM, autoencoder decoder, GAN generator); the spec, the hash
check and every refusal (missing files, tampered parameters, a program too old for this jax)."""
import json
import subprocess
import sys
import textwrap

import jax
import numpy as np
import optax
import pytest

from jaxnets.artifact import ArtifactError, load, params_hash
from jaxnets.export import export
from jaxnets.models import GAN, MLP, VGG, Autoencoder
from jaxnets.models.rnn import SequenceModel
from jaxnets.train import Classification, FitConfig, create_state, create_states, fit, member, predict

QUIET = FitConfig(epochs=2, batch_size=16, progress=False)


def _trained(model, x, y, num_classes):
    """A few epochs, so BatchNorm's running statistics are not their initial values."""
    st = create_state(model, optax.adam(1e-2), jax.random.PRNGKey(0), x)
    return fit(st, Classification(num_classes), {"x": x, "y": y}, None, QUIET).state


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """(name, state, raw input, folder) for an MLP with a scaler, a BatchNorm CNN and an LSTM."""
    from jaxnets.data import load_embedded, prepare

    root = tmp_path_factory.mktemp("export")
    rng = np.random.default_rng(0)
    ds = load_embedded("breast_cancer")
    s = prepare(ds)
    mlp = _trained(MLP((16, 1), norm="batch"), s.train["x"], s.train["y"], 2)
    images = rng.normal(size=(32, 8, 8, 1)).astype(np.float32)
    cnn = _trained(VGG(stages=((4,),), num_classes=3, batch_norm=True), images, rng.integers(0, 3, 32), 3)
    seqs = rng.normal(size=(32, 12, 3)).astype(np.float32)
    lstm = _trained(SequenceModel("lstm", hidden=8, outputs=2), seqs, rng.integers(0, 2, 32), 2)
    out = []
    for name, st, x, kw in (("mlp", mlp, ds.x[:40], dict(scaler=s.scaler, columns=ds.feature_names,
                                                         class_names=s.class_names)),
                            ("cnn", cnn, images, dict(class_names=["a", "b", "c"])),
                            ("lstm", lstm, seqs, {})):
        folder = export(st, root / name, task="classification", **kw)
        out.append((name, st, x, folder, s.scaler if name == "mlp" else None))
    return out


def test_round_trip_in_a_fresh_process_without_the_model_code(models, tmp_path):
    """The child imports jaxnets.artifact only: no flax, no jaxnets.models, no jaxnets.train."""
    for name, _, x, _, _ in models:
        np.save(tmp_path / f"{name}_x.npy", x)
    folders = {name: str(folder) for name, _, _, folder, _ in models}
    code = textwrap.dedent(f"""
        import sys, numpy as np
        from jaxnets.artifact import load
        root = {str(tmp_path)!r}
        for name, folder in {folders!r}.items():
            art = load(folder)
            np.save(f"{{root}}/{{name}}_out.npy", art.outputs(np.load(f"{{root}}/{{name}}_x.npy")))
        print(sorted(m for m in ("flax", "jaxnets.models", "jaxnets.train", "optax") if m in sys.modules))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
    for name, st, x, _, scaler in models:
        want = predict(st, scaler(x) if scaler is not None else x)
        np.testing.assert_array_equal(np.load(tmp_path / f"{name}_out.npy"), want, err_msg=name)


def test_spec_records_what_a_caller_needs(models):
    name, st, x, folder, scaler = models[0]
    spec = json.loads((folder / "spec.json").read_text())
    assert spec["input"]["shape"] == [None, 30] and spec["input"]["dtype"] == "float32"
    assert spec["input"]["columns"][0] == "mean radius" and spec["class_names"] == ["malignant", "benign"]
    np.testing.assert_array_equal(spec["preprocessing"]["standardize"]["mean"], scaler.mean)
    assert spec["platforms"] == ["cpu"] and spec["versions"]["jax"] == jax.__version__
    assert spec["params_sha256"] == params_hash({"params": st.params, **st.variables})
    art = load(folder)
    got = art.predict(x)
    want = predict(st, scaler(x), output="probabilities")
    np.testing.assert_array_equal(got["probabilities"], want)
    assert list(got["prediction"]) == [("malignant", "benign")[i] for i in want.argmax(1)]
    # padded batches (what a server runs) give the same predictions as exact ones
    np.testing.assert_allclose(art.outputs(x, pad_to=16), art.outputs(x), rtol=1e-6, atol=1e-6)


def test_export_for_other_platforms_and_of_model_methods(tmp_path):
    """One program lowered for cpu, cuda and tpu (listed in the spec); an autoencoder's decoder and
    a GAN's generator exported by method, equal to model.apply(..., method=...)."""
    rng = np.random.default_rng(1)
    ae = Autoencoder(input_shape=(6,), latent_dim=2, hidden=(8,))
    x = rng.normal(size=(5, 6)).astype(np.float32)
    st = create_state(ae, optax.sgd(0.1), jax.random.PRNGKey(0), x)
    folder = export(st, tmp_path / "decoder", method="decode", input_shape=(2,), platforms=("cpu", "cuda", "tpu"))
    spec = json.loads((folder / "spec.json").read_text())
    assert spec["platforms"] == ["cpu", "cuda", "tpu"] and spec["method"] == "decode"
    z = rng.normal(size=(4, 2)).astype(np.float32)
    np.testing.assert_array_equal(load(folder).outputs(z), ae.apply({"params": st.params}, z, method="decode"))
    gan = GAN(data_shape=(2,), latent_dim=3, generator_features=(8,), discriminator_features=(8,))
    st = create_state(gan, optax.sgd(0.1), jax.random.PRNGKey(0), np.zeros((2, 2), np.float32))
    folder = export(st, tmp_path / "generator", method="generate", input_shape=(3,))
    z = rng.normal(size=(7, 3)).astype(np.float32)
    np.testing.assert_array_equal(load(folder).predict(z)["output"],
                                  gan.apply({"params": st.params}, z, method="generate"))


def test_regression_outputs_in_target_units(tmp_path):
    from jaxnets.data import load_embedded, prepare

    s = prepare(load_embedded("diabetes"), standardize_y=True)
    st = create_state(MLP((8, 1)), optax.sgd(0.1), jax.random.PRNGKey(0), s.train["x"])
    folder = export(st, tmp_path / "reg", task="regression", scaler=s.scaler, y_scaler=s.y_scaler)
    raw = load_embedded("diabetes").x[:9]
    np.testing.assert_array_equal(load(folder).predict(raw)["output"], s.y_scaler.inverse(predict(st, s.scaler(raw))))


def test_export_refuses_bad_requests(models, tmp_path):
    _, st, _, folder, _ = models[0]
    with pytest.raises(FileExistsError, match="exists; pass overwrite=True"):
        export(st, folder)
    stack = create_states(MLP((4, 1)), optax.sgd(0.1), [0, 1], np.zeros((3, 5), np.float32))
    with pytest.raises(ValueError, match=r"stacks 2 members: pass jaxnets.train.member\(state, i\)"):
        export(stack, tmp_path / "s")
    one = member(stack, 0)
    with pytest.raises(ValueError, match="3 class_names for a model with 2 classes"):
        export(one, tmp_path / "c", task="classification", class_names=["a", "b", "c"])
    with pytest.raises(ValueError, match=r"columns name the 5 input features; got 2 names"):
        export(one, tmp_path / "c", columns=["a", "b"])
    with pytest.raises(ValueError, match=r"platforms must be a non-empty list"):
        export(one, tmp_path / "c", platforms=("gpu",))
    with pytest.raises(ValueError, match="task must be one of"):
        export(one, tmp_path / "c", task="ranking")
    assert not (tmp_path / "c").exists()


def _copy(folder, tmp_path, name):
    import shutil

    return shutil.copytree(folder, tmp_path / name)


def test_load_refuses_broken_folders(models, tmp_path):
    folder = models[0][3]
    with pytest.raises(ArtifactError, match="does not exist"):
        load(tmp_path / "nothing")
    f = _copy(folder, tmp_path, "no_spec")
    (f / "spec.json").unlink()
    with pytest.raises(ArtifactError, match="has no spec.json"):
        load(f)
    f = _copy(folder, tmp_path, "no_params")
    import shutil

    shutil.rmtree(f / "params")
    with pytest.raises(ArtifactError, match=r"has no params/ folder"):
        load(f)
    f = _copy(folder, tmp_path, "old")
    spec = json.loads((f / "spec.json").read_text())
    spec["calling_convention_version"], spec["versions"]["jax"] = 1, "0.4.1"
    (f / "spec.json").write_text(json.dumps(spec))
    with pytest.raises(ArtifactError, match=r"exported by jax 0.4.1 with calling convention 1; the installed jax "
                                            r".* reads versions \d+–\d+: re-export"):
        load(f)
    f = _copy(folder, tmp_path, "garbled_program")
    (f / "program.bin").write_bytes(b"not a program")
    with pytest.raises(ArtifactError, match="cannot be read as a jax.export program"):
        load(f)


def test_tampered_parameters_are_refused(models, tmp_path):
    """Change one stored number: the hash check (or the reader) refuses the folder."""
    f = _copy(models[0][3], tmp_path, "tampered")
    spec = json.loads((f / "spec.json").read_text())
    spec["params_sha256"] = "0" * 64  # as if the parameters had been swapped after export
    (f / "spec.json").write_text(json.dumps(spec))
    with pytest.raises(ArtifactError, match="does not match the SHA-256 in spec.json"):
        load(f)
    f = _copy(models[0][3], tmp_path, "tampered_bytes")
    biggest = max((p for p in (f / "params").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    data = bytearray(biggest.read_bytes())
    data[len(data) // 2] ^= 0xFF
    biggest.write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match=r"SHA-256|cannot be read"):
        load(f)


def test_export_a_transformer_on_tokens_and_a_vae_encoder(tmp_path):
    """Token ids in (dtype int32, with padding), and a method with two outputs (mean, log-variance)."""
    from jaxnets.models import VAE, TransformerClassifier
    from jaxnets.predict import records

    rng = np.random.default_rng(2)
    tokens = rng.integers(1, 20, size=(6, 9)).astype(np.int32)
    tokens[:2, 6:] = 0  # padding
    tf = TransformerClassifier(outputs=3, vocab_size=20, d_model=16, num_heads=2, num_layers=1, ff_dim=32, max_len=16)
    st = create_state(tf, optax.sgd(0.1), jax.random.PRNGKey(0), tokens)
    art = load(export(st, tmp_path / "tf", task="classification", dtype="int32"))
    assert art.spec["input"]["dtype"] == "int32"
    np.testing.assert_array_equal(art.outputs(tokens), predict(st, tokens))
    with pytest.raises(TypeError, match="takes integers"):
        art.outputs(tokens + 0.5)
    vae = VAE(input_shape=(6,), latent_dim=2, hidden=(8,))
    x = rng.random((4, 6)).astype(np.float32)
    st = create_state(vae, optax.sgd(0.1), jax.random.PRNGKey(0), x)
    out = load(export(st, tmp_path / "enc", method="encode")).predict(x)["output"]
    want = vae.apply({"params": st.params}, x, method="encode")
    for got, w in zip(out, want):
        np.testing.assert_array_equal(got, w)
    assert len(records({"output": out}, {})) == 4 and len(records({"output": out}, {})[0]["output"]) == 2
