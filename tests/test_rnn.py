"""Recurrent cells from the seed's equations: parity with Flax's cells (and PyTorch's where
installed), scan wrapper, masking, bidirectional heads, overfit-a-batch, bad input."""
import chex
import flax.linen as nn
import hypothesis.strategies as st
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings

from jaxnets.data.synthetic import ADDING_BASELINE_MSE, adding_problem
from jaxnets.models.rnn import GRUCell, LSTMCell, Recurrent, SequenceModel, SimpleRNNCell, make_cell, reverse_sequences
from jaxnets.train import FitConfig, Regression, create_states, fit, make_optimizer

KEY = jax.random.PRNGKey(0)


def _run(cell, params, x, carry):
    """Reference unroll: a Python loop over time of a bare cell (what nn.scan must reproduce)."""
    ys = []
    for t in range(x.shape[1]):
        carry, y = cell.apply({"params": params}, carry, x[:, t])
        ys.append(y)
    return jnp.stack(ys, 1), carry


def _flax_to_ours(kind, fp):
    cat = lambda h, i: jnp.concatenate([fp[h]["kernel"], fp[i]["kernel"]], axis=0)  # [h, x] order
    if kind == "lstm":  # Flax: i,f,g,o as ii/if/ig/io (no bias) + hi/hf/hg/ho (bias)
        names = {"input_gate": "i", "forget_gate": "f", "candidate": "g", "output_gate": "o"}
        return {ours: {"kernel": cat("h" + g, "i" + g), "bias": fp["h" + g]["bias"]} for ours, g in names.items()}
    if kind == "gru":  # Flax: ir/iz/in (bias) + hr/hz (no bias) + hn (bias)
        return {"reset_gate": {"kernel": cat("hr", "ir"), "bias": fp["ir"]["bias"]},
                "update_gate": {"kernel": cat("hz", "iz"), "bias": fp["iz"]["bias"]},
                "candidate_x": fp["in"], "candidate_h": fp["hn"]}
    return {"input": fp["i"], "recurrent": fp["h"]}


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_cells_equal_flax_cells_with_mapped_weights(kind):
    b, t, f, h = 3, 7, 4, 5
    x = jax.random.normal(KEY, (b, t, f))
    ref = {"rnn": nn.SimpleCell(h), "lstm": nn.LSTMCell(h), "gru": nn.GRUCell(h)}[kind]
    carry = ref.initialize_carry(KEY, x[:, 0].shape)
    fp = ref.init(jax.random.PRNGKey(1), carry, x[:, 0])["params"]
    fp = jax.tree_util.tree_map(lambda a: a + 0.1 * jax.random.normal(KEY, a.shape), fp)  # non-zero biases
    want, want_carry = _run(ref, fp, x, carry)
    ours = make_cell(kind, h)
    got, got_carry = _run(ours, _flax_to_ours(kind, fp), x, carry)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    chex.assert_trees_all_close(got_carry, want_carry, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_cells_equal_torch_with_mapped_weights(kind):
    torch = pytest.importorskip("torch")
    b, t, f, h = 3, 6, 4, 5
    torch.manual_seed(0)
    ref = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind](f, h, batch_first=True)
    w = {k: v.detach().numpy() for k, v in ref.named_parameters()}
    wi, wh, bi, bh = w["weight_ih_l0"], w["weight_hh_l0"], w["bias_ih_l0"], w["bias_hh_l0"]
    blk = lambda a, k: a[k * h:(k + 1) * h]
    dense = lambda k, bias: {"kernel": np.concatenate([blk(wh, k).T, blk(wi, k).T]), "bias": bias}
    if kind == "lstm":  # torch gate order i, f, g, o
        names = ["input_gate", "forget_gate", "candidate", "output_gate"]
        params = {n: dense(k, blk(bi, k) + blk(bh, k)) for k, n in enumerate(names)}
    elif kind == "gru":  # torch order r, z, n; n = tanh(W_in x + b_in + r (W_hn h + b_hn))
        params = {"reset_gate": dense(0, blk(bi, 0) + blk(bh, 0)), "update_gate": dense(1, blk(bi, 1) + blk(bh, 1)),
                  "candidate_x": {"kernel": blk(wi, 2).T, "bias": blk(bi, 2)},
                  "candidate_h": {"kernel": blk(wh, 2).T, "bias": blk(bh, 2)}}
    else:
        params = {"input": {"kernel": wi.T, "bias": bi + bh}, "recurrent": {"kernel": wh.T}}
    x = np.random.default_rng(0).normal(size=(b, t, f)).astype(np.float32)
    want = ref(torch.from_numpy(x))[0].detach().numpy()
    ours = make_cell(kind, h)
    got, _ = _run(ours, jax.tree_util.tree_map(jnp.asarray, params), jnp.asarray(x), ours.initial_carry(b))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@settings(max_examples=15, deadline=None)  # each example runs op by op: 100 took 79 s, 30 took 38 s
@given(b=st.integers(1, 4), t=st.integers(1, 9), f=st.integers(1, 5), h=st.integers(1, 6),
       kind=st.sampled_from(["rnn", "lstm", "gru"]), reverse=st.booleans())
def test_scan_wrapper_equals_python_unroll(b, t, f, h, kind, reverse):
    x = jax.random.normal(KEY, (b, t, f))
    layer = Recurrent(make_cell(kind, h), reverse=reverse)
    v = layer.init(KEY, x)
    ys, carry = layer.apply(v, x)
    chex.assert_shape(ys, (b, t, h))
    cell = make_cell(kind, h)
    ref_ys, ref_carry = _run(cell, v["params"]["cell"], x[:, ::-1] if reverse else x, cell.initial_carry(b))
    np.testing.assert_allclose(ys, ref_ys[:, ::-1] if reverse else ref_ys, rtol=1e-5, atol=1e-6)
    chex.assert_trees_all_close(carry, ref_carry, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("reverse", [False, True])
def test_padding_leaves_the_carry_unchanged(kind, reverse):
    lengths = np.array([5, 2, 7])
    x = np.asarray(jax.random.normal(KEY, (3, 7, 2)))
    padded = x.copy()
    for i, n in enumerate(lengths):
        padded[i, n:] = 99.0  # garbage after the end must not matter
    layer = Recurrent(make_cell(kind, 4), reverse=reverse)
    v = layer.init(KEY, x)
    ys, carry = layer.apply(v, jnp.asarray(padded), jnp.asarray(lengths))
    for i, n in enumerate(lengths):
        ys_i, carry_i = layer.apply(v, jnp.asarray(x[i:i + 1, :n]))
        chex.assert_trees_all_close(jax.tree_util.tree_map(lambda a, i=i: a[i:i + 1], carry), carry_i, atol=1e-6)
        np.testing.assert_allclose(ys[i, :n], ys_i[0], atol=1e-6)
        assert float(jnp.abs(ys[i, n:]).max(initial=0.0)) == 0.0


def test_reverse_sequences_within_lengths():
    x = jnp.arange(8.0).reshape(2, 4, 1)
    r = reverse_sequences(x, jnp.array([4, 2]))
    np.testing.assert_array_equal(r[..., 0], [[3, 2, 1, 0], [5, 4, 6, 7]])


class TestSequenceModel(chex.TestCase):
    @chex.variants(with_jit=True, without_jit=True)
    def test_heads_and_jit_agree(self):
        x = jax.random.normal(KEY, (2, 6, 3))
        for kw, shape in [({}, (2, 1)), ({"bidirectional": True, "layers": 2}, (2, 1)),
                          ({"many_to_many": True, "outputs": 4}, (2, 6, 4))]:
            model = SequenceModel("gru", hidden=5, **kw)
            v = model.init(KEY, x)
            out = self.variant(lambda v, x, m=model: m.apply(v, x))(v, x)
            chex.assert_shape(out, shape)
            np.testing.assert_allclose(out, model.apply(v, x), rtol=1e-5, atol=1e-6)


def test_many_to_one_reads_the_last_valid_step():
    model = SequenceModel("lstm", hidden=4)
    x = jax.random.normal(KEY, (2, 6, 3))
    v = model.init(KEY, x)
    full = model.apply(v, x[:, :4])
    padded = model.apply(v, x.at[:, 4:].set(50.0), lengths=jnp.array([4, 4]))
    np.testing.assert_allclose(padded, full, atol=1e-6)


def test_token_inputs_are_embedded():
    model = SequenceModel("lstm", hidden=8, outputs=11, vocab_size=11, many_to_many=True)
    tokens = jnp.array([[1, 2, 3], [4, 5, 6]])
    v = model.init(KEY, tokens)
    chex.assert_shape(model.apply(v, tokens), (2, 3, 11))


def test_scan_compiles_one_step_not_one_per_time_step():
    model = SequenceModel("lstm", hidden=8)
    sizes = []
    for t in (10, 200):
        x = jnp.zeros((2, t, 2))
        v = jax.eval_shape(model.init, KEY, x)
        jaxpr = jax.make_jaxpr(lambda v, x: model.apply(v, x))(v, x)
        assert "scan" in str(jaxpr)
        sizes.append(len(str(jaxpr)))
    assert abs(sizes[0] - sizes[1]) < 50  # the program does not grow with T


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_overfits_a_small_adding_batch(kind):
    d = adding_problem(32, 8, seed=0)
    model = SequenceModel(kind, hidden=32)
    st = create_states(model, make_optimizer("adam", 1e-2), [0], d["x"])
    fr = fit(st, Regression(), d, None, FitConfig(epochs=150, batch_size=32, progress=False))
    assert fr.history["train_loss"][0, -1] < 0.05 * ADDING_BASELINE_MSE


@pytest.mark.parametrize("bad, match", [
    (lambda: SimpleRNNCell(0), "hidden must be a positive int"),
    (lambda: LSTMCell(0), "hidden must be a positive int"),
    (lambda: GRUCell(-3), "hidden must be a positive int"),
    (lambda: SequenceModel("lstm", hidden=0), "hidden must be a positive int"),
    (lambda: SequenceModel("transformer"), "unknown cell"),
    (lambda: SimpleRNNCell(4, activation="sigmoid"), "'tanh' or 'relu'"),
])
def test_bad_configs(bad, match):
    with pytest.raises(ValueError, match=match):
        bad()


def test_bad_inputs():
    model = SequenceModel("lstm", hidden=4)
    x = jnp.zeros((2, 5, 3))
    v = model.init(KEY, x)
    with pytest.raises(ValueError, match=r"\[batch, time, features\]"):
        model.apply(v, jnp.zeros((2, 5)))
    with pytest.raises(ValueError, match="longer than the sequence"):
        model.apply(v, x, lengths=jnp.array([5, 6]))
    with pytest.raises(ValueError, match="shape"):
        model.apply(v, x, lengths=jnp.array([5]))
    st = create_states(model, make_optimizer("adam", 1e-3), [0], x)
    data = {"x": np.zeros((2, 5, 3), np.float32), "y": np.zeros(2, np.float32), "lengths": np.array([5, 9])}
    with pytest.raises(ValueError, match=r"lengths'\] must be"):
        fit(st, Regression(), data, None, FitConfig(epochs=1, progress=False))


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_hidden_gradient_norms_match_direct_derivatives(kind):
    from jaxnets.models.rnn import hidden_gradient_norms
    from jaxnets.nn.losses import mse

    d = adding_problem(8, 6, seed=1)
    x, y = jnp.asarray(d["x"]), jnp.asarray(d["y"])
    model = SequenceModel(kind, hidden=5)
    params = model.init(KEY, x)["params"]
    g = hidden_gradient_norms(model, params, x, y)
    chex.assert_shape(g, (6,))
    # Last step: the loss depends on h_T only through the linear head.
    ys, _ = Recurrent(make_cell(kind, 5)).apply({"params": {"cell": params["layer_0"]}}, x)
    head = lambda h: jnp.mean(mse(nn.Dense(1).apply({"params": params["output"]}, h), y[:, None]))
    np.testing.assert_allclose(g[-1], jnp.linalg.norm(jax.grad(head)(ys[:, -1])), rtol=1e-5)
    # An earlier step, by a finite difference along the gradient direction of h_2.
    cell = make_cell(kind, 5)

    def step(c, inp):
        c, _ = cell.apply({"params": params["layer_0"]}, c, inp[0])
        return ((c[0], c[1] + inp[1]) if isinstance(c, tuple) else c + inp[1]), None

    def loss_with(eps2):
        eps = jnp.zeros((6, 8, 5)).at[2].set(eps2)
        c, _ = jax.lax.scan(step, cell.initial_carry(8), (jnp.swapaxes(x, 0, 1), eps))
        return head(c[1] if isinstance(c, tuple) else c)

    direction = jax.grad(loss_with)(jnp.zeros((8, 5)))
    u = direction / jnp.linalg.norm(direction)
    fd = (loss_with(1e-3 * u) - loss_with(-1e-3 * u)) / 2e-3
    np.testing.assert_allclose(fd, g[2], rtol=2e-2)


def test_memory_and_vanishing_quick_runs(tmp_path):
    from experiments import memory_capacity, vanishing_gradients

    r = memory_capacity.run(["--quick", "--no-progress", "--no-compile-cache", "--out", str(tmp_path / "m")])
    assert set(r["models"]) == {"rnn", "lstm", "gru"}
    for m in r["models"].values():
        assert isinstance(m["longest_solved_length"], int)
        assert set(m["per_length"]) == {"5", "20"} and len(m["per_length"]["5"]["per_seed"]) == 2
    assert (tmp_path / "m" / "mse_vs_length.png").stat().st_size > 0
    v = vanishing_gradients.run(["--quick", "--no-progress", "--no-compile-cache", "--out", str(tmp_path / "v")])
    g = v["models"]["rnn"]["grad_norm_init"]
    assert len(g) == vanishing_gradients.LENGTH and all(s["mean"] >= 0 for s in g.values())
    assert (tmp_path / "v" / "gradient_vs_time.png").stat().st_size > 0


def test_windows_and_sunspots():
    from jaxnets.data.timeseries import load_sunspots, make_windows

    x, y = make_windows(np.arange(6, dtype=np.float32), 3)
    np.testing.assert_array_equal(x[..., 0], [[0, 1, 2], [1, 2, 3], [2, 3, 4]])
    np.testing.assert_array_equal(y, [3, 4, 5])
    years, values = load_sunspots()
    assert years[0] == 1700 and years[-1] == 2008 and len(values) == 309
    with pytest.raises(ValueError, match="window"):
        make_windows(values, 0)


def test_forecasting_quick(tmp_path):
    from experiments import forecasting

    r = forecasting.run(["--quick", "--no-progress", "--no-compile-cache", "--out", str(tmp_path)])
    assert set(r["models"]) == {"rnn", "lstm", "gru", "naive", "seasonal_naive"}
    assert r["test_years"] == 2008 - forecasting.SPLIT_YEAR
    for m in r["models"].values():
        assert m["one_step_mae"]["mean"] > 0 and m["multi_step_rmse"]["mean"] >= m["multi_step_mae"]["mean"]
    assert (tmp_path / "one_step_forecasts.png").stat().st_size > 0


def test_char_vocab_and_sequences():
    from jaxnets.data.text import CharVocab, char_sequences, load_python_docs

    text = load_python_docs()
    assert len(text) > 100_000 and "statement" in text  # real English, shipped with CPython
    vocab = CharVocab.build(text)
    assert vocab.decode(vocab.encode("The weather today is")) == "The weather today is"
    assert vocab.decode(vocab.encode("naïve")) == "na?ve"  # outside the vocabulary -> '?'
    d = char_sequences(np.arange(11, dtype=np.int32), 5)
    np.testing.assert_array_equal(d["x"], [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]])
    np.testing.assert_array_equal(d["y"], d["x"] + 1)


def test_token_classification_equals_per_token_cross_entropy():
    from jaxnets.train import TokenClassification

    model = SequenceModel("gru", hidden=6, outputs=7, vocab_size=7, embed=4, many_to_many=True)
    x = jnp.array([[1, 2, 3, 4], [4, 3, 2, 1]])
    y = jnp.array([[2, 3, 4, 5], [3, 2, 1, 0]])
    params = model.init(KEY, x)["params"]
    obj = TokenClassification(7)
    loss, (m, _) = obj(model.apply, params, {}, {"x": x, "y": y, "mask": jnp.array([1.0, 0.0])}, KEY, False)
    logits = model.apply({"params": params}, x)[0]
    want = -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(4), y[0]])  # the masked row does not count
    np.testing.assert_allclose(loss, want, rtol=1e-5)
    assert float(m["count"]) == 4.0


def test_text_generation_quick(tmp_path):
    from experiments import text_generation

    r = text_generation.run(["--quick", "--no-progress", "--no-compile-cache", "--out", str(tmp_path)])
    assert set(r["models"]) == {"rnn", "lstm", "gru"}
    for m in r["models"].values():
        assert 0 < m["val_bits_per_char"]["mean"] < 2 * r["uniform_bits_per_char"]
        for s in m["samples_seed0"].values():
            assert s.startswith(text_generation.PROMPT) and len(s) == len(text_generation.PROMPT) + 40


def test_standalone_cli_rejects_bad_counts():
    from experiments import memory_capacity

    for bad in (["--seeds", "0"], ["--workers", "0"]):
        with pytest.raises(SystemExit):
            memory_capacity.run(bad)
