"""`python -m jaxnets.serve`: a real HTTP client on localhost against the ASGI app under uvicorn —
predictions equal the artifact's, concurrent requests are batched and answered correctly, and every
malformed request gets a 4xx with a message (never a 500), after which the server still answers."""
import http.client
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import jax
import numpy as np
import optax
import pytest

pytest.importorskip("starlette")
uvicorn = pytest.importorskip("uvicorn")

from jaxnets.artifact import load  # noqa: E402
from jaxnets.export import export  # noqa: E402
from jaxnets.models import MLP  # noqa: E402
from jaxnets.serve import create_app  # noqa: E402
from jaxnets.train import create_state  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from jaxnets.data import load_embedded, prepare

    ds = load_embedded("breast_cancer")
    s = prepare(ds)
    st = create_state(MLP((8, 1)), optax.sgd(0.1), jax.random.PRNGKey(5), s.train["x"])
    folder = export(st, tmp_path_factory.mktemp("serve") / "model", task="classification",
                    class_names=s.class_names, scaler=s.scaler, columns=ds.feature_names)
    art = load(folder)
    app = create_app(art, max_batch=16, max_rows=100, max_body_bytes=64 << 10, max_wait_ms=5)
    port = free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    yield port, art, ds
    srv.should_exit = True
    thread.join(timeout=10)


def request(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    conn.request(method, path, body=data, headers={"content-type": "application/json", **(headers or {})})
    r = conn.getresponse()
    raw = r.read()
    conn.close()
    return r.status, (json.loads(raw) if raw and r.getheader("content-type", "").startswith("application/json")
                      else raw)


def test_health_and_predictions_equal_the_artifact(server):
    port, art, ds = server
    status, body = request(port, "GET", "/health")
    assert status == 200 and body["status"] == "ok" and body["class_names"] == ["malignant", "benign"]
    x = ds.x[:20]  # more rows than max_batch: run in chunks
    status, body = request(port, "POST", "/predict", {"inputs": x.tolist()})
    assert status == 200
    want = art.predict(x)
    assert [p["prediction"] for p in body["predictions"]] == list(want["prediction"])
    np.testing.assert_allclose([p["probabilities"]["benign"] for p in body["predictions"]],
                               want["probabilities"][:, 1], rtol=1e-6)


def test_concurrent_requests_are_batched_and_each_gets_its_own_rows(server):
    port, art, ds = server
    want = art.predict(ds.x[:64])["probabilities"][:, 1]

    def one(i):
        rows = slice(i % 60, i % 60 + 1 + i % 4)
        status, body = request(port, "POST", "/predict", {"inputs": ds.x[rows].tolist()})
        assert status == 200
        return rows, [p["probabilities"]["benign"] for p in body["predictions"]]

    with ThreadPoolExecutor(16) as pool:
        for rows, got in pool.map(one, range(96)):
            np.testing.assert_allclose(got, want[rows], rtol=1e-6)


@pytest.mark.parametrize("body, status, message", [
    (b"{not json", 400, "not valid JSON"),
    ([1, 2], 422, 'must be a JSON object {"inputs"'),
    ({"inputs": []}, 422, "no rows to predict"),
    ({"inputs": [[1.0] * 29]}, 422, "row 0 has 29 columns; the model expects 30"),
    ({"inputs": [[1.0] * 29 + ["x"]]}, 422, r"row 0, column 29 ('worst fractal dimension'): 'x' is not a number"),
    ({"inputs": [[1.0] * 30, [1.0] * 29 + [None]]}, 422, "row 1, column 29"),
    (b'{"inputs": [[' + b",".join([b"1"] * 29 + [b"NaN"]) + b"]]}", 422, "is nan (NaN and inf are not accepted)"),
    ({"inputs": [[1.0] * 30] * 101}, 413, "at most 100"),
    ({"inputs": "rows"}, 422, "no rows to predict"),
    ({"inputs": [3.0] * 30}, 422, "row 0 must be a list of 30 numbers"),
    (b"[" * 100_000, 413, "this server takes at most 65536"),
    (b"[" * 60_000, 400, "not valid JSON"),  # nesting deeper than the parser's recursion limit
])
def test_malformed_requests_get_a_4xx(server, body, status, message):
    port = server[0]
    got, answer = request(port, "POST", "/predict", body)
    assert got == status and message in answer["error"], answer


def test_wrong_method_type_and_route_then_still_healthy(server):
    port = server[0]
    assert request(port, "GET", "/predict")[0] == 405
    assert request(port, "POST", "/nothing", {})[0] == 404
    status, body = request(port, "POST", "/predict", b"a,b", headers={"content-type": "text/csv"})
    assert status == 415 and "send JSON" in body["error"]
    assert request(port, "GET", "/health")[0] == 200


def test_a_body_without_content_length_is_cut_at_the_limit(server):
    """Chunked transfer: no declared length to check, so the limit applies while reading."""
    port = server[0]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", "/predict", body=iter([b"[" * 10_000] * 10), encode_chunked=True,
                 headers={"content-type": "application/json"})
    r = conn.getresponse()
    assert r.status == 413 and "exceeds 65536 bytes" in json.loads(r.read())["error"]
    conn.close()


def test_bench_serving_quick_run_starts_the_real_server(tmp_path):
    """`python -m jaxnets.serve` in its own process under the bench's load: no errors, every malformed
    request a 4xx, still healthy; the CLI's throughput measured."""
    from experiments import bench_serving

    res = bench_serving.main(["--quick", "--out", str(tmp_path)])
    s = res["serve"]
    assert s["errors"] == 0 and s["healthy_after"] and s["malformed_4xx"] == len(s["malformed"]) == 8
    assert res["ratios"]["serve_requests_per_second"] > 0 and res["ratios"]["predict_cli_rows_per_second"] > 0
    assert (tmp_path / "results.json").exists()


def test_serve_refuses_a_broken_model_folder(tmp_path, capsys):
    from jaxnets import serve

    assert serve.main(["--model", str(tmp_path / "none")]) == 2
    assert "does not exist" in capsys.readouterr().err
