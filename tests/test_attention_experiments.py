"""--quick runs of the attention experiments: schema, the quantities each claims, files on disk."""
import numpy as np

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


def test_attention_maps_quick(tmp_path):
    from experiments import attention_maps

    data = attention_maps.match_task(50, 8, 12, seed=0)
    assert (data["x"][np.arange(50), data["y"]] == data["x"][:, -1]).all()  # the query occurred there
    assert all(len(set(row[:-1])) == 7 for row in data["x"])  # and only there
    r = attention_maps.run([*COMMON, "--out", str(tmp_path)])
    m, a = r["models"]["match"], r["models"]["agreement"]
    assert len(m["weight_on_match_per_head"]) == 2 and 0 <= m["weight_on_match_best_head"]["mean"] <= 1
    assert 0 <= a["sat_on_cat_best_head"]["mean"] <= 1 and a["uniform_weight"] == 1 / 6
    for f in ("match_attention.png", "cat_sat_on_the_mat.png", "results.md"):
        assert (tmp_path / f).stat().st_size > 0


def test_seq2seq_translation_data_and_quick_run(tmp_path):
    from experiments import seq2seq_translation as s2s

    d = s2s.make_data("words", 20, 4, seed=0)
    for x, y in zip(d["x"], d["y"]):
        digits = "".join(s2s.CHARS[i] for i in x[:4] if i != s2s.PAD)
        words = "".join(s2s.CHARS[i] for i in y[:int(np.argmax(y == s2s.EOS))])
        assert words == " ".join(s2s.DIGIT_WORDS[int(c)] for c in digits)
        np.testing.assert_array_equal(x[4:], np.concatenate([[s2s.BOS], y[:-1]]))  # teacher forcing
    r = s2s.run([*COMMON, "--out", str(tmp_path)])  # the reverse task only, up to 3 digits
    assert set(r["tasks"]) == {"reverse"} and set(r["tasks"]["reverse"]) == {"transformer", "lstm"}
    for m in r["tasks"]["reverse"].values():
        assert set(m["exact_match_by_length"]) == {"1", "2", "3"} and 0 <= m["exact_match_all"]["mean"] <= 1
    assert (tmp_path / "alignment_reverse.png").stat().st_size > 0
