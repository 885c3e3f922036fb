"""Predict with an exported model from the shell: CSV or .npy in, CSV or JSON out.

    python -m jaxnets.predict --model runs/model --input data.csv            # CSV to stdout
    python -m jaxnets.predict --model runs/model --input - --format json < data.csv
    python -m jaxnets.predict --model runs/model --input x.npy --output predictions.csv
    python -m jaxnets.predict --model runs/model --input data.csv --benchmark

CSV input: one row per example, numbers only, with an optional header row (checked against the
spec's column names when it has them). Every bad input (wrong column count, a non-number, NaN or
inf, nothing to predict, a broken model folder) is one line on stderr naming the row and column,
and exit status 2. Needs jax + orbax only (`jaxnets.artifact`), not the training code.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
from pathlib import Path

import numpy as np

NPY_MAGIC = b"\x93NUMPY"


def read_input(data: bytes, spec: dict, source: str):
    """Bytes of a .npy file or a CSV table -> validated array [n, *input shape]."""
    from jaxnets.artifact import check_input, rows_to_array

    if data.startswith(NPY_MAGIC):
        try:
            x = np.load(io.BytesIO(data), allow_pickle=False)  # never unpickle: arrays only
        except ValueError as e:
            raise ValueError(f"{source}: not a numeric .npy array ({e})") from None
        return check_input(x, spec, source)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError(f"{source}: neither a .npy file nor UTF-8 CSV text") from None
    # (line number, cells) of the non-blank lines: errors name the line as an editor shows it
    lines = [(i + 1, r) for i, r in enumerate(csv.reader(io.StringIO(text))) if r and any(c.strip() for c in r)]
    if lines and not _numeric(lines[0][1]):
        header = [c.strip() for c in lines[0][1]]
        lines = lines[1:]
        columns = spec["input"].get("columns")
        if columns and header != columns:
            i = next((i for i, (a, b) in enumerate(zip(header, columns)) if a != b), min(len(header), len(columns)))
            got = header[i] if i < len(header) else "missing"
            want = columns[i] if i < len(columns) else "no more columns"
            raise ValueError(f"{source}: header column {i} is {got!r}, the model expects {want!r} "
                             f"(columns: {', '.join(columns)})")
    if not lines:
        raise ValueError(f"{source} is empty: no rows to predict")
    if any(n != lines[0][0] + k for k, (n, _) in enumerate(lines)):  # blank lines inside: number each
        rows = [r for _, r in lines]
        try:
            return rows_to_array(rows, spec, source, "data row", 1)
        except (TypeError, ValueError) as e:
            raise type(e)(f"{e} (blank lines are skipped)") from None
    rows = [r for _, r in lines]
    fast = _all_numbers(rows, spec)
    return fast if fast is not None else rows_to_array(rows, spec, source, "line", lines[0][0])


def _all_numbers(rows: list[list[str]], spec: dict) -> np.ndarray | None:
    """The common case in one NumPy conversion (100× faster than cell by cell): a complete, finite
    table of the right width. Anything else goes cell by cell, for an error that names the cell."""
    shape = spec["input"]["shape"][1:]
    try:
        x = np.array(rows, dtype=np.float64)
    except (ValueError, TypeError):
        return None
    if x.ndim != 2 or len(shape) != 1 or x.shape[1] != shape[0] or not np.all(np.isfinite(x)):
        return None
    return x


def _numeric(row: list[str]) -> bool:
    try:
        [float(c) for c in row]
    except ValueError:
        return False
    return True


def records(result: dict, spec: dict) -> list[dict]:
    """Per-row JSON records: {"prediction", "probabilities": {class: p}} or {"output": [...]}."""
    if "probabilities" in result:
        names = spec.get("class_names") or [str(i) for i in range(result["probabilities"].shape[1])]
        return [{"prediction": p.item() if hasattr(p, "item") else p,
                 "probabilities": {n: float(v) for n, v in zip(names, row)}}
                for p, row in zip(result["prediction"], result["probabilities"])]
    out = result["output"]
    if isinstance(out, (list, tuple)):  # several outputs (e.g. a VAE encoder's mean and log-variance)
        return [{"output": [np.asarray(o[i]).tolist() for o in out]} for i in range(len(out[0]))]
    return [{"output": np.asarray(row).tolist()} for row in out]


def write_csv(result: dict, spec: dict, stream) -> None:
    w = csv.writer(stream, lineterminator="\n")
    if "probabilities" in result:
        names = spec.get("class_names") or [str(i) for i in range(result["probabilities"].shape[1])]
        w.writerow(["prediction", *[f"p_{n}" for n in names]])
        for p, row in zip(result["prediction"], result["probabilities"]):
            w.writerow([p, *[f"{v:.9g}" for v in row]])
        return
    out = result["output"]
    if isinstance(out, (list, tuple)):
        raise ValueError("this model has several outputs; use --format json")
    flat = np.asarray(out).reshape(len(out), -1)
    w.writerow([f"output_{j}" for j in range(flat.shape[1])])
    for row in flat:
        w.writerow([f"{v:.9g}" for v in row])


def benchmark(art, x: np.ndarray, batch_sizes, repeats: int) -> list[dict]:
    """Per batch size: rows/s, p50 and p99 latency (ms) of `predict` on batches cut from x
    (tiled when x has fewer rows), after one warm-up call (the compile)."""
    rows = []
    for bs in batch_sizes:
        batch = np.resize(x, (bs, *x.shape[1:]))
        art.predict(batch)
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            art.predict(batch)
            times.append(time.perf_counter() - t)
        t50, t99 = np.percentile(times, 50), np.percentile(times, 99)
        rows.append({"batch_size": bs, "rows_per_second": bs / t50, "p50_ms": 1e3 * t50, "p99_ms": 1e3 * t99})
    return rows


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m jaxnets.predict", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="an exported model folder (jaxnets.export.export)")
    p.add_argument("--input", required=True, help="a CSV or .npy file, or - for stdin")
    p.add_argument("--output", default="-", help="where to write predictions (default: stdout)")
    p.add_argument("--format", choices=("csv", "json"), default="csv")
    p.add_argument("--benchmark", action="store_true", help="report throughput and p50/p99 latency instead")
    p.add_argument("--batch-sizes", default="1,8,64,512", help="batch sizes for --benchmark")
    p.add_argument("--repeats", type=int, default=50, help="timed calls per batch size for --benchmark")
    return p


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    from jaxnets.artifact import load

    try:
        art = load(args.model)
        if args.input == "-":
            data, source = sys.stdin.buffer.read(), "stdin"
        else:
            source = args.input
            if not Path(source).is_file():
                raise ValueError(f"input file {source} does not exist")
            data = Path(source).read_bytes()
        x = read_input(data, art.spec, source)
        if args.benchmark:
            sizes = [int(b) for b in args.batch_sizes.split(",")]
            if any(b < 1 for b in sizes) or args.repeats < 1:
                raise ValueError("--batch-sizes and --repeats must be positive")
            table = benchmark(art, x, sizes, args.repeats)
            text = (json.dumps(table, indent=2) if args.format == "json" else
                    "batch_size,rows_per_second,p50_ms,p99_ms\n"
                    + "".join(f"{r['batch_size']},{r['rows_per_second']:.1f},{r['p50_ms']:.3f},{r['p99_ms']:.3f}\n"
                              for r in table))
        else:
            result = art.predict(x)
            if args.format == "json":
                text = json.dumps(records(result, art.spec)) + "\n"
            else:
                buf = io.StringIO()
                write_csv(result, art.spec, buf)
                text = buf.getvalue()
    except (ValueError, TypeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
