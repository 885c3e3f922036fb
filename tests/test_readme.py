"""The README's code examples run verbatim."""
import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _run_first_block_after(heading: str) -> str:
    """Execute the first ```python block after `heading`; returns what it printed."""
    text = README.read_text()
    code = re.search(r"```python\n(.*?)```", text[text.index(heading):], re.S).group(1)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, f"README.md {heading}", "exec"), {})
    return out.getvalue()


def test_readme_quickstart_runs_verbatim():
    report = _run_first_block_after("## Quickstart")
    assert "malignant" in report and "benign" in report and "accuracy" in report


def test_readme_estimator_example_runs_verbatim():
    out = _run_first_block_after("## scikit-learn estimators")
    folds = [float(v) for v in re.findall(r"[01]\.\d+", out)]
    assert len(folds) == 3 and min(folds) > 0.85, out


def test_readme_sweep_example_runs_verbatim():
    out = _run_first_block_after("## Sweeps and diagnostics")
    assert "'learning_rate'" in out and "'weight_decay'" in out and "| learning_rate | weight_decay |" in out


def test_readme_export_example_runs_verbatim():
    out = _run_first_block_after("## Export, predict, serve")
    assert "['params', 'program.bin', 'spec.json']" in out, out
