"""The sequence benchmark's FLOP count against the model's own jaxpr, and its quick run end to end."""
import math

import jax
import jax.extend
import jax.numpy as jnp
import numpy as np

from experiments import bench_sequences
from jaxnets.models.transformer import TransformerLM


def _dot_flops(jaxpr) -> int:
    """2 x multiply-adds of every dot_general in a jaxpr, sub-jaxprs included."""
    total = 0
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "dot_general":
            (contract, _), _ = eqn.params["dimension_numbers"]
            lhs = eqn.invars[0].aval.shape
            total += 2 * math.prod(eqn.outvars[0].aval.shape) * math.prod(lhs[d] for d in contract)
    return total + sum(_dot_flops(sub) for sub in jax.extend.core.subjaxprs(jaxpr))


def test_transformer_train_flops_is_three_forward_passes_of_the_models_own_matmuls():
    vocab, d, heads, layers, ff, length, batch = 23, 16, 2, 3, 40, 12, 2
    model = TransformerLM(vocab, d_model=d, num_heads=heads, num_layers=layers, ff_dim=ff, max_len=length)
    x = jnp.zeros((batch, length), jnp.int32)
    params = model.init(jax.random.key(0), x)
    forward = _dot_flops(jax.make_jaxpr(model.apply)(params, x).jaxpr)
    per_token = bench_sequences.transformer_train_flops(vocab, d, layers, ff, length)
    assert per_token * batch * length == 3 * forward


def test_quick_run_writes_every_ratio(tmp_path):
    names = ["char_transformer", "lstm", "char_lstm"]  # one per kind of model and data (gru is lstm's twin)
    r = bench_sequences.main(["--quick", "--out", str(tmp_path), "--only", *names])
    ratios = r["ratios"]
    assert 0 < ratios["transformer_peak_fraction"] < 1
    for name in ("transformer", "lstm", "char_lstm"):
        vs_torch = ratios[f"{name}_vs_torch"]
        assert vs_torch is None or vs_torch > 0  # None where torch is not installed
    for name in names:
        jx = r[name]["jaxnets"]
        assert np.isclose(jx["examples_per_second"], r[name]["examples_per_step"] / jx["member_step_seconds"])
    assert (tmp_path / "results.json").stat().st_size > 0 and "tokens/s" in (tmp_path / "results.md").read_text()
