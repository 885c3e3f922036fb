"""`make bench`'s production rows: the prediction CLI's throughput and the HTTP endpoint under load.

    python -m experiments.bench_serving [--out DIR] [--quick]

Model: the text's breast-cancer MLP (30 → 16 → 8 → 1, ReLU), trained 30 epochs and exported with its
standardisation and class names (`jaxnets.export`).
  * `predict_cli_rows_per_second`: `python -m jaxnets.predict` on a CSV of 100 000 rows (tiled from
    the data set) to a CSV of predictions, timed in-process from loading the model folder to the
    written file (parsing, validation, preprocessing, compile, inference); median of 3 runs.
  * `serve_*`: `python -m jaxnets.serve` in its own process; 16 concurrent clients (threads, one
    keep-alive connection each) send 2 000 requests of 1–8 rows: requests/s over the whole load,
    p50/p99 latency per request, and errors (a non-200 answer or a wrong number of predictions).
    Then one request of each malformed kind (bad JSON, wrong column count, a non-number, NaN, empty,
    too many rows, too many bytes, not JSON): `serve_malformed_4xx` counts the 4xx answers among them
    (all, wanted), and the server must still answer /health afterwards.
"""
from __future__ import annotations

import argparse
import http.client
import json
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from experiments.standalone import bench_folder, write_bench
from jaxnets import setup_cpu


def exported_model(folder: Path) -> tuple[Path, np.ndarray]:
    """Train the text's MLP briefly and export it; -> (folder, raw feature rows)."""
    import jax
    import optax

    from jaxnets.data import load_embedded, prepare
    from jaxnets.export import export
    from jaxnets.models import MLP
    from jaxnets.train import Classification, FitConfig, create_state, fit

    ds = load_embedded("breast_cancer")
    s = prepare(ds)
    st = create_state(MLP((16, 8, 1)), optax.adam(1e-3), jax.random.PRNGKey(0), s.train["x"])
    st = fit(st, Classification(2), s.train, None, FitConfig(epochs=30, batch_size=32, progress=False)).state
    return export(st, folder, task="classification", class_names=s.class_names, scaler=s.scaler,
                  columns=ds.feature_names, overwrite=True), ds.x


def cli_throughput(folder: Path, x: np.ndarray, rows: int, work: Path, repeats: int = 3) -> dict:
    from jaxnets import predict as cli

    data = np.resize(x, (rows, x.shape[1]))
    src, dst = work / "rows.csv", work / "predictions.csv"
    np.savetxt(src, data, delimiter=",", fmt="%.9g")
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        if cli.main(["--model", str(folder), "--input", str(src), "--output", str(dst)]) != 0:
            raise RuntimeError("the prediction CLI failed on the benchmark's own data")
        times.append(time.perf_counter() - t)
    assert sum(1 for _ in dst.open()) == rows + 1
    return {"rows": rows, "seconds": float(np.median(times)), "all_seconds": times,
            "rows_per_second": rows / float(np.median(times))}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(conn: http.client.HTTPConnection, body: bytes, ctype: str = "application/json") -> tuple[int, bytes]:
    conn.request("POST", "/predict", body=body, headers={"content-type": ctype})
    r = conn.getresponse()
    return r.status, r.read()


def _malformed(width: int) -> dict[str, tuple[bytes, str]]:
    row = ",".join(["1.0"] * width)
    return {"bad JSON": (b"{not json", "application/json"),
            "wrong column count": (json.dumps({"inputs": [[1.0] * (width - 1)]}).encode(), "application/json"),
            "a non-number": (('{"inputs": [[' + row[:-3] + '"x"]]}').encode(), "application/json"),
            "NaN": (('{"inputs": [[' + row[:-3] + "NaN]]}").encode(), "application/json"),
            "empty": (b'{"inputs": []}', "application/json"),
            "too many rows": (json.dumps({"inputs": [[1.0] * width] * 20_000}).encode(), "application/json"),
            "too many bytes": (b"[" * (9 << 20), "application/json"),
            "not JSON": (row.encode(), "text/csv")}


def serve_load(folder: Path, x: np.ndarray, clients: int, requests: int, server_args: tuple[str, ...] = ()) -> dict:
    """The load test against `python -m jaxnets.serve --model folder *server_args` in its own process."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "jaxnets.serve", "--model", str(folder), "--port", str(port),
                             *server_args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        start = time.perf_counter()
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                if proc.poll() is not None or time.perf_counter() - start > 120:
                    raise RuntimeError(f"the server did not start: {proc.stdout.read()[-2000:]}") from None
                time.sleep(0.1)
        startup = time.perf_counter() - start
        rng = np.random.default_rng(0)
        sizes = rng.integers(1, 9, requests)
        bodies = [json.dumps({"inputs": np.resize(np.roll(x, -i, axis=0), (n, x.shape[1])).tolist()}).encode()
                  for i, n in enumerate(sizes)]

        def client(k: int) -> list[tuple[float, bool]]:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            out = []
            for i in range(k, requests, clients):
                t = time.perf_counter()
                try:
                    status, raw = _post(conn, bodies[i])
                    ok = status == 200 and len(json.loads(raw)["predictions"]) == sizes[i]
                except (OSError, ValueError, KeyError, http.client.HTTPException):
                    ok, conn = False, http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                out.append((time.perf_counter() - t, ok))
            conn.close()
            return out

        t0 = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            results = [r for part in pool.map(client, range(clients)) for r in part]
        wall = time.perf_counter() - t0
        lat = np.array([t for t, _ in results])
        malformed = {}
        for name, (body, ctype) in _malformed(x.shape[1]).items():
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            try:
                malformed[name] = _post(conn, body, ctype)[0]
            except (OSError, http.client.HTTPException) as e:  # a dropped connection is no answer
                malformed[name] = f"{type(e).__name__}"
            conn.close()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/health")
        healthy = conn.getresponse().status == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {"clients": clients, "requests": requests, "rows": int(sizes.sum()), "startup_seconds": startup,
            "wall_seconds": wall, "requests_per_second": requests / wall, "p50_ms": 1e3 * float(np.percentile(lat, 50)),
            "p99_ms": 1e3 * float(np.percentile(lat, 99)), "errors": int(sum(not ok for _, ok in results)),
            "malformed": malformed,
            "malformed_4xx": sum(isinstance(s, int) and 400 <= s < 500 for s in malformed.values()),
            "healthy_after": healthy}


def measure(quick: bool = False) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        folder, x = exported_model(work / "model")
        cli = cli_throughput(folder, x, 5_000 if quick else 100_000, work, 1 if quick else 3)
        serve = serve_load(folder, x, 4 if quick else 16, 200 if quick else 2_000)
    return {"cli": cli, "serve": serve,
            "ratios": {"predict_cli_rows_per_second": cli["rows_per_second"],
                       "serve_requests_per_second": serve["requests_per_second"], "serve_p99_ms": serve["p99_ms"],
                       "serve_errors": serve["errors"], "serve_malformed_4xx": serve["malformed_4xx"]}}


HEADERS = ["row", "figure", "notes"]


def rows(res: dict) -> list[list]:
    cli, s = res["cli"], res["serve"]
    bad = ", ".join(f"{k} {v}" for k, v in s["malformed"].items())
    return [[f"predict CLI, {cli['rows']} CSV rows", f"{cli['rows_per_second']:,.0f} rows/s",
             f"{cli['seconds']:.2f} s from model folder to written CSV (median)"],
            [f"serve, {s['clients']} clients × {s['requests']} requests of 1–8 rows",
             f"{s['requests_per_second']:,.0f} requests/s",
             f"p50 {s['p50_ms']:.1f} ms, p99 {s['p99_ms']:.1f} ms, errors {s['errors']}"],
            [f"serve, {len(s['malformed'])} malformed requests", f"{s['malformed_4xx']} answered 4xx",
             f"{bad}; /health afterwards: {'ok' if s['healthy_after'] else 'FAILED'}"]]


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m experiments.bench_serving", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--quick", action="store_true", help="5 000 CSV rows, 200 requests from 4 clients")
    args = ap.parse_args(argv)
    setup_cpu()
    out = bench_folder("bench_serving", args.out)
    res = measure(args.quick)
    write_bench("bench_serving", out, res, HEADERS, rows(res))
    return res


if __name__ == "__main__":
    main()
