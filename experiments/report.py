"""One page with every experiment's newest results, the text's claims checked, and the text's
"which architecture for which data" table measured.

    python -m experiments report [--runs runs] [--out runs/report]      (also: make report)

For each experiment it takes the newest `results.json` under `--runs/<experiment>/*/` and copies its
folder's tables and figures next to the page, so that `report.md` and `report.html` are
self-contained. The claims (`experiments.claims`) are decided by rules over those results.json
files; a claim whose experiment has no results (or results without the fields the rule reads) says
"not yet measured". Every link goes to the experiment's section and to the copied results.json.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from experiments.page import slug, to_html
from jaxnets.report import markdown_table


def newest_runs(root: Path, names) -> dict[str, Path]:
    """experiment -> the run folder whose results.json is newest (modification time)."""
    out = {}
    for name in names:
        found = sorted((root / name).glob("*/results.json"), key=lambda p: p.stat().st_mtime)
        if found:
            out[name] = found[-1].parent
    return out


def _load(runs: dict[str, Path]) -> dict[str, dict]:
    results = {}
    for name, folder in runs.items():
        try:
            results[name] = json.loads((folder / "results.json").read_text())
        except (OSError, json.JSONDecodeError) as e:
            print(f"report: skipping {folder / 'results.json'}: {e}", file=sys.stderr)
    return results


def claims_table(results: dict[str, dict]) -> tuple[str, dict]:
    """The claims table (markdown) and counts per verdict."""
    from experiments.claims import CLAIMS

    rows, counts = [], {}
    for c in CLAIMS:
        verdict, evidence, where = "not yet measured", "", "–"
        if c.experiment is not None:  # a link only where the page has the experiment's section
            where = f"[{c.experiment}](#{slug(c.experiment)})" if c.experiment in results else f"`{c.experiment}`"
        if c.experiment in results and c.check is not None:
            try:
                f = c.check(results[c.experiment])
            except (KeyError, TypeError, IndexError, ValueError) as e:  # fields or cases this run lacks
                why = e.args[0] if e.args else type(e).__name__
                evidence = f"not decided by this run ({why}); see `python -m experiments.{c.experiment} --help`"
            else:
                verdict, evidence = f"**{f.verdict}**", f.evidence
                fields = ", ".join(f"`{p}`" for p in f.fields)
                where += f" · [results.json](data/{c.experiment}/results.json): {fields}"
        elif c.experiment is not None:
            evidence = f"no results yet: run `python -m experiments.{c.experiment}`"
        counts[verdict.strip("*")] = counts.get(verdict.strip("*"), 0) + 1
        rows.append([c.section, c.statement, verdict, evidence, where])
    return markdown_table(["section", "the text says", "verdict", "measured", "experiment and fields"], rows), counts


def data_type_table(results: dict[str, dict]) -> str:
    from experiments.claims.data_types import ROWS

    rows = []
    for r in ROWS:
        if r.experiment not in results:
            rows.append([r.data_type, r.task, r.text_says, "not yet measured", "–", "–", "–"])
            continue
        try:
            won, margin, cost = r.measure(results[r.experiment])
        except (KeyError, TypeError, IndexError, ValueError) as e:
            why = e.args[0] if e.args else type(e).__name__
            rows.append([r.data_type, r.task, r.text_says, f"not decided by this run ({why})", "–", "–",
                         f"[{r.experiment}](#{slug(r.experiment)})"])
            continue
        rows.append([r.data_type, r.task, r.text_says, won, margin, cost,
                     f"[{r.experiment}](#{slug(r.experiment)}) · [results.json](data/{r.experiment}/results.json)"])
    return markdown_table(["data type", "task", "the text's best", "best here", "by how much", "at what cost",
                           "experiment"], rows)


def _section(name: str, what: str, folder: Path, out: Path) -> str:
    """The experiment's tables (its .md files) and figures, copied under out/."""
    data, figs = out / "data" / name, out / "figures" / name
    data.mkdir(parents=True, exist_ok=True)
    shutil.copy2(folder / "results.json", data / "results.json")
    lines = [f"## {name}", "", what, ""]
    config = folder / "config.json"
    if config.exists():
        try:
            lines += [f"Run: `{json.loads(config.read_text())['command']}`", ""]
        except (json.JSONDecodeError, KeyError):
            pass
    for md in sorted(folder.glob("*.md"), key=lambda p: (p.name != "results.md", p.name)):
        if md.name != "results.md":
            lines += [f"**{md.stem}**", ""]
        lines += [md.read_text().rstrip(), ""]
    pngs = sorted(folder.glob("*.png"))
    if pngs:
        figs.mkdir(parents=True, exist_ok=True)
    for png in pngs:
        shutil.copy2(png, figs / png.name)
        lines += [f"![{name}: {png.stem}](figures/{name}/{png.name})", ""]
    lines += [f"Data: [results.json](data/{name}/results.json)", ""]
    return "\n".join(lines)


def build(runs_root: Path, out: Path) -> dict:
    """Write out/report.md, out/report.html, out/figures/, out/data/; -> a summary."""
    from experiments.__main__ import EXPERIMENTS

    runs = newest_runs(runs_root, EXPERIMENTS)
    results = _load(runs)
    if out.exists():  # a stale figure must not survive into a new page
        shutil.rmtree(out)
    out.mkdir(parents=True)
    claims, counts = claims_table(results)
    missing = [n for n in EXPERIMENTS if n not in results]
    parts = ["# jaxnets: results report", "",
             f"Built {time.strftime('%Y-%m-%d %H:%M')} from the newest run of each experiment under "
             f"`{runs_root}` ({len(results)} of {len(EXPERIMENTS)} experiments have results"
             + (f"; none yet: {', '.join(missing)}" if missing else "") + ").", "",
             "## Claims checked", "",
             "Each claim of the text, decided by a rule over the named results.json fields (a difference "
             "counts only beyond both seed spreads). " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
             + ".", "", claims,
             "## Which architecture for which data, measured", "", data_type_table(results)]
    for name, what in EXPERIMENTS.items():
        if name in results:
            parts.append(_section(name, what, runs[name], out))
    text = "\n".join(parts) + "\n"
    (out / "report.md").write_text(text)
    (out / "report.html").write_text(to_html(text, "jaxnets: results report"))
    return {"experiments": sorted(results), "missing": missing, "claims": counts, "out": str(out)}


def run(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m experiments report", description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=Path, default=Path("runs"), help="where the experiments wrote their runs")
    p.add_argument("--out", type=Path, default=Path("runs") / "report", help="the report's folder")
    args = p.parse_args(argv)
    if args.out.resolve() == args.runs.resolve():
        p.error("--out must not be the runs folder itself")
    summary = build(args.runs, args.out)
    print(f"wrote {args.out}/report.md and report.html: {len(summary['experiments'])} experiments; claims "
          + ", ".join(f"{k} {v}" for k, v in summary["claims"].items()))
    return 0
