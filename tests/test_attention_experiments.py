"""--quick runs of the attention experiments: schema, the quantities each claims, files on disk."""
from experiments import attention_cost, long_range

COMMON = ["--quick", "--no-progress", "--no-compile-cache"]


def test_attention_cost_quick(tmp_path):
    r = attention_cost.run([*COMMON, "--out", str(tmp_path)])
    assert set(r["models"]) == {"attention", "attention_chunked", "lstm"}
    for m in r["models"].values():
        assert set(m["per_length"]) == {"128", "256", "512"}
        assert all(p["time_seconds"] > 0 and p["temp_bytes"] > 0 for p in m["per_length"].values())
    # XLA's byte counts are exact: the explicit path's memory grows faster than the chunked one's.
    assert r["models"]["attention"]["memory_exponent"] > r["models"]["attention_chunked"]["memory_exponent"] + 0.5
    assert "T^" in r["verdict"]
    for f in ("results.json", "results.md", "time_vs_length.png", "memory_vs_length.png"):
        assert (tmp_path / f).stat().st_size > 0


def test_long_range_quick(tmp_path):
    r = long_range.run([*COMMON, "--out", str(tmp_path)])
    assert set(r["models"]) == {"transformer", "lstm", "gru"}
    for m in r["models"].values():
        assert isinstance(m["longest_solved_length"], int) and set(m["per_length"]) == {"5", "20"}
        assert len(m["per_length"]["20"]["per_seed"]) == 2 and m["parameters"] > 0
    assert (tmp_path / "mse_vs_length.png").stat().st_size > 0


def test_char_transformer_quick(tmp_path):
    from experiments import char_transformer

    r = char_transformer.run([*COMMON, "--out", str(tmp_path)])
    assert set(r["models"]) == {"transformer", "gru"}
    for m in r["models"].values():
        assert m["epochs"] >= 1 and len(m["test_bits_per_char"]["per_seed"]) == 2
        assert 0 < m["test_bits_per_char"]["mean"] < r["uniform_bits_per_char"] + 1
        assert all(s.startswith(char_transformer.PROMPT) for s in m["samples_seed0"].values())
    assert "equal training budget" in r["verdict"]
    assert (tmp_path / "learning_curves.png").stat().st_size > 0
