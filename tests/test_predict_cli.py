"""`python -m jaxnets.predict`: CSV / .npy / stdin in, CSV / JSON out, the spec's validation with
errors naming the line and column, and the benchmark table."""
import json
import subprocess
import sys

import jax
import numpy as np
import optax
import pytest

from jaxnets import predict as cli
from jaxnets.export import export
from jaxnets.models import MLP
from jaxnets.train import create_state, predict


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from jaxnets.data import load_embedded, prepare

    ds = load_embedded("breast_cancer")
    s = prepare(ds)
    st = create_state(MLP((8, 1)), optax.sgd(0.1), jax.random.PRNGKey(3), s.train["x"])
    folder = export(st, tmp_path_factory.mktemp("cli") / "model", task="classification", class_names=s.class_names,
                    scaler=s.scaler, columns=ds.feature_names)
    return folder, st, s.scaler, ds


def _csv(ds, rows, header=True) -> str:
    lines = [",".join(ds.feature_names)] if header else []
    lines += [",".join(repr(float(v)) for v in row) for row in ds.x[rows]]
    return "\n".join(lines) + "\n"


def _run(argv, capsys):
    rc = cli.main(argv)
    out, err = capsys.readouterr()
    return rc, out, err


def test_csv_and_npy_give_the_training_process_predictions(exported, tmp_path, capsys):
    folder, st, scaler, ds = exported
    want = predict(st, scaler(ds.x[:12]), output="probabilities")
    (tmp_path / "x.csv").write_text(_csv(ds, slice(0, 12)))
    rc, out, err = _run(["--model", str(folder), "--input", str(tmp_path / "x.csv")], capsys)
    assert rc == 0, err
    lines = out.strip().splitlines()
    assert lines[0] == "prediction,p_malignant,p_benign" and len(lines) == 13
    got = np.array([[float(v) for v in line.split(",")[1:]] for line in lines[1:]])
    np.testing.assert_allclose(got, want, rtol=1e-7)
    assert [line.split(",")[0] for line in lines[1:]] == [("malignant", "benign")[i] for i in want.argmax(1)]
    np.save(tmp_path / "x.npy", ds.x[:12])
    rc, out, _ = _run(["--model", str(folder), "--input", str(tmp_path / "x.npy"), "--format", "json",
                       "--output", str(tmp_path / "p.json")], capsys)
    records = json.loads((tmp_path / "p.json").read_text())
    assert rc == 0 and len(records) == 12
    np.testing.assert_array_equal([r["probabilities"]["benign"] for r in records], want[:, 1])


def test_stdin_in_a_real_process(exported):
    folder, st, scaler, ds = exported
    done = subprocess.run([sys.executable, "-m", "jaxnets.predict", "--model", str(folder), "--input", "-",
                           "--format", "json"], input=_csv(ds, slice(3, 6), header=False), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    got = [r["prediction"] for r in json.loads(done.stdout)]
    assert got == [("malignant", "benign")[i] for i in predict(st, scaler(ds.x[3:6]), output="classes")]
    bad = subprocess.run([sys.executable, "-m", "jaxnets.predict", "--model", str(folder), "--input", "-"],
                         input="1,2,3\n", capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.strip() == ("error: stdin: line 1 has 3 columns; the model expects 30 ("
                                                          + ", ".join(ds.feature_names) + ")")


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace(t.splitlines()[2].split(",")[4], "abc", 1),
     r"line 3, column 4 \('mean smoothness'\): 'abc' is not a number"),
    (lambda t: t.replace(t.splitlines()[1].split(",")[0], "nan", 1),
     r"line 2, column 0 \('mean radius'\) is nan \(NaN and inf are not accepted\)"),
    (lambda t: t.replace(t.splitlines()[3].split(",")[7], "inf", 1), r"line 4, column 7 .* is inf"),
    (lambda t: t.splitlines()[0] + "\n", r"is empty: no rows to predict"),
    (lambda t: "", r"is empty: no rows to predict"),
    (lambda t: t.replace("mean texture", "texture", 1),
     r"header column 1 is 'texture', the model expects 'mean texture'"),
    (lambda t: t.replace(t.splitlines()[2], t.splitlines()[2] + ",1.0", 1),
     r"line 3 has 31 columns; the model expects 30"),
])
def test_bad_input_names_the_line_and_column(exported, tmp_path, capsys, edit, message):
    folder, _, _, ds = exported
    (tmp_path / "bad.csv").write_text(edit(_csv(ds, slice(0, 4))))
    rc, out, err = _run(["--model", str(folder), "--input", str(tmp_path / "bad.csv")], capsys)
    assert rc == 2 and out == ""
    assert err.startswith("error: ") and "Traceback" not in err
    assert __import__("re").search(message, err), err


def test_bad_npy_and_missing_files(exported, tmp_path, capsys):
    folder, _, _, ds = exported
    for name, arr, message in (("short", ds.x[:3, :10], r"each row must have shape \[30\], got \[10\]"),
                               ("strings", np.array([["a"] * 30]), "must hold numbers"),
                               ("nan", np.where(np.eye(3, 30) > 0, np.nan, ds.x[:3]), r"row 0, column 0 .* is nan")):
        np.save(tmp_path / f"{name}.npy", arr)
        rc, _, err = _run(["--model", str(folder), "--input", str(tmp_path / f"{name}.npy")], capsys)
        assert rc == 2 and __import__("re").search(message, err), err
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    rc, _, err = _run(["--model", str(folder), "--input", str(tmp_path / "objects.npy")], capsys)
    assert rc == 2 and "not a numeric .npy array" in err  # pickled arrays are never loaded
    rc, _, err = _run(["--model", str(folder), "--input", str(tmp_path / "none.csv")], capsys)
    assert rc == 2 and "does not exist" in err
    rc, _, err = _run(["--model", str(tmp_path), "--input", str(tmp_path / "nan.npy")], capsys)
    assert rc == 2 and "has no spec.json" in err


def test_benchmark_reports_throughput_and_latency(exported, tmp_path, capsys):
    folder, _, _, ds = exported
    (tmp_path / "x.csv").write_text(_csv(ds, slice(0, 5)))
    rc, out, _ = _run(["--model", str(folder), "--input", str(tmp_path / "x.csv"), "--benchmark",
                       "--batch-sizes", "1,16", "--repeats", "5", "--format", "json"], capsys)
    table = json.loads(out)
    assert rc == 0 and [r["batch_size"] for r in table] == [1, 16]
    for r in table:
        assert r["rows_per_second"] > 0 and 0 < r["p50_ms"] <= r["p99_ms"]
