"""An HTTP endpoint for an exported model: JSON in, JSON out, requests batched together.

    python -m jaxnets.serve --model runs/model [--host 127.0.0.1] [--port 8000]

    GET  /health   -> {"status": "ok", "task", "input": {...}, "class_names", "params_sha256"}
    POST /predict  {"inputs": [[...30 numbers...], ...]} -> {"predictions": [{"prediction", "probabilities"}]}

Requests are validated against the model's spec exactly as `python -m jaxnets.predict` validates a
file; a bad one gets a 4xx whose JSON names the row and column ({"error": ...}): 400 unreadable
JSON, 413 too large (bytes or rows), 415 not JSON, 422 wrong shape or values. Concurrent requests are
gathered into one batch (up to `max_batch` rows, waiting at most `max_wait_ms` for company) and run
through batch sizes that are powers of two, so the server compiles a handful of programs, all at
start-up. Needs the `serve` extra (starlette, uvicorn): pip install 'jaxnets[serve]'.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from jaxnets.artifact import Artifact, check_input, load, rows_to_array


def _buckets(max_batch: int) -> list[int]:
    """1, 2, 4, … up to max_batch (included): the batch sizes the server runs."""
    out, b = [], 1
    while b < max_batch:
        out.append(b)
        b *= 2
    return [*out, max_batch]


class Batcher:
    """Gathers concurrent requests into batches for one inference thread (JAX calls never overlap)."""

    def __init__(self, art: Artifact, max_batch: int, max_wait_ms: float):
        self.art, self.max_batch, self.max_wait = art, max_batch, max_wait_ms / 1e3
        self.sizes = _buckets(max_batch)
        self.queue: asyncio.Queue = asyncio.Queue()
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="jaxnets-infer")
        self.task: asyncio.Task | None = None

    def warm_up(self) -> None:
        """Compile every batch size now, not on the first unlucky requests."""
        x = np.zeros((1, *self.art.input_shape), self.art.spec["input"]["dtype"])
        for b in self.sizes:
            self.art.predict(np.repeat(x, b, axis=0), pad_to=b)

    async def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
        self.pool.shutdown(wait=False)

    async def predict(self, x: np.ndarray) -> dict:
        done = asyncio.get_running_loop().create_future()
        await self.queue.put((x, done))
        return await done

    def _infer(self, x: np.ndarray) -> dict:
        pad = next((b for b in self.sizes if b >= len(x)), self.max_batch)
        return self.art.predict(x, pad_to=pad)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs = [await self.queue.get()]
            rows = len(jobs[0][0])
            deadline = loop.time() + self.max_wait
            while rows < self.max_batch:
                try:
                    job = await asyncio.wait_for(self.queue.get(), max(deadline - loop.time(), 0))
                except TimeoutError:
                    break
                jobs.append(job)
                rows += len(job[0])
            # One request larger than max_batch runs in chunks of max_batch (pad_to in _infer).
            try:
                out = await loop.run_in_executor(self.pool, self._infer, np.concatenate([x for x, _ in jobs]))
            except Exception as e:  # noqa: BLE001 - hand the failure to every waiting request
                for _, done in jobs:
                    if not done.done():
                        done.set_exception(e)
                continue
            start = 0
            for x, done in jobs:
                part = {k: _rows(v, start, start + len(x)) for k, v in out.items()}
                start += len(x)
                if not done.done():
                    done.set_result(part)


def _rows(v, a: int, b: int):
    return [_rows(o, a, b) for o in v] if isinstance(v, (list, tuple)) else v[a:b]


def parse_inputs(body: bytes, spec: dict, max_rows: int) -> np.ndarray:
    """A request body -> validated array, or (status, message) raised as HTTPError."""
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise HTTPError(400, f"the body is not valid JSON ({e})") from None
    except RecursionError:
        raise HTTPError(400, "the body is not valid JSON for this server (nested too deeply)") from None
    if not isinstance(payload, dict) or "inputs" not in payload:
        raise HTTPError(422, 'the body must be a JSON object {"inputs": [[...], ...]}')
    rows = payload["inputs"]
    if not isinstance(rows, list) or not rows:
        raise HTTPError(422, "inputs is empty: no rows to predict")
    if len(rows) > max_rows:
        raise HTTPError(413, f"{len(rows)} rows in one request; this server takes at most {max_rows}")
    try:
        if len(spec["input"]["shape"]) == 2:
            return rows_to_array(rows, spec, "inputs")
        return check_input(np.asarray(rows, dtype=np.float64), spec, "inputs")
    except (TypeError, ValueError) as e:
        raise HTTPError(422, str(e)) from None


class HTTPError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def create_app(art: Artifact, *, max_batch: int = 256, max_wait_ms: float = 2.0, max_rows: int = 10_000,
               max_body_bytes: int = 8 << 20, warm_up: bool = True):
    """The ASGI application (starlette) for one loaded artifact."""
    from contextlib import asynccontextmanager

    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from jaxnets.predict import records

    if max_batch < 1 or max_rows < 1 or max_body_bytes < 1 or max_wait_ms < 0:
        raise ValueError("create_app: max_batch, max_rows and max_body_bytes must be positive, max_wait_ms >= 0")
    batcher = Batcher(art, max_batch, max_wait_ms)
    if warm_up:
        batcher.warm_up()

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    async def health(request):
        s = art.spec
        return JSONResponse({"status": "ok", "task": s["task"], "input": s["input"], "class_names": s["class_names"],
                             "params_sha256": s["params_sha256"]})

    async def predict(request):
        ctype = request.headers.get("content-type", "application/json").split(";")[0].strip()
        if ctype not in ("application/json", ""):
            return error(415, f"send JSON (content-type application/json), not {ctype}")
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_body_bytes:
            return error(413, f"the body has {declared} bytes; this server takes at most {max_body_bytes}")
        body = bytearray()
        async for chunk in request.stream():  # a missing or false content-length cannot get past the limit
            body += chunk
            if len(body) > max_body_bytes:
                return error(413, f"the body exceeds {max_body_bytes} bytes")
        try:
            x = parse_inputs(bytes(body), art.spec, max_rows)
        except HTTPError as e:
            return error(e.status, e.message)
        out = await batcher.predict(x)
        return JSONResponse({"predictions": records(out, art.spec)})

    @asynccontextmanager
    async def lifespan(app):
        await batcher.start()
        yield
        await batcher.stop()

    return Starlette(routes=[Route("/health", health), Route("/predict", predict, methods=["POST"])],
                     lifespan=lifespan)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m jaxnets.serve", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="an exported model folder (jaxnets.export.export)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--max-batch", type=int, default=256, help="rows per inference batch")
    p.add_argument("--max-wait-ms", type=float, default=2.0, help="how long a request waits for company")
    p.add_argument("--max-rows", type=int, default=10_000, help="rows per request")
    p.add_argument("--max-body-mb", type=float, default=8.0, help="request body size limit")
    args = p.parse_args(argv)
    try:
        import uvicorn
    except ImportError:
        print("error: the HTTP endpoint needs the serve extra: pip install 'jaxnets[serve]'", file=sys.stderr)
        return 2
    try:
        art = load(args.model)
        app = create_app(art, max_batch=args.max_batch, max_wait_ms=args.max_wait_ms, max_rows=args.max_rows,
                         max_body_bytes=int(args.max_body_mb * (1 << 20)))
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"serving {args.model} on http://{args.host}:{args.port} (POST /predict, GET /health)", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
