"""The README's quickstart runs verbatim."""
import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_quickstart_runs_verbatim():
    text = README.read_text()
    section = text[text.index("## Library in ten lines"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md quickstart", "exec"), {})
    report = out.getvalue()
    assert "malignant" in report and "benign" in report and "accuracy" in report


def test_readme_estimator_example_runs_verbatim():
    text = README.read_text()
    section = text[text.index("## scikit-learn estimators"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md estimator example", "exec"), {})
    folds = [float(v) for v in re.findall(r"[01]\.\d+", out.getvalue())]
    assert len(folds) == 3 and min(folds) > 0.85, out.getvalue()
