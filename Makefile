# Two commands on a fresh machine: `make run` and `make test`. Both create .venv when missing.
PY ?= python3
# What gets installed: EXTRAS=test,cuda12 (or cuda13, tpu) on an accelerator machine. VENV_ARGS and
# PIP_ARGS adapt the install to machines that already hold jax, e.g. an offline image:
#   make test EXTRAS=test,cuda13 VENV_ARGS=--system-site-packages PIP_ARGS="--no-index --find-links wheels"
EXTRAS ?= test
VENV_ARGS ?=
PIP_ARGS ?=
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-all bench report lint clean

$(BIN)/python:
	$(PY) -m venv $(VENV_ARGS) $(VENV)
	$(BIN)/python -m pip install -q $(PIP_ARGS) --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q $(PIP_ARGS) -e '.[$(EXTRAS)]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m experiments.architecture_comparison
	$(BIN)/python -m experiments.activation_comparison
	$(BIN)/python -m experiments.cnn_vs_mlp

# One pytest worker per core (pytest-xdist). Tests run on CPU unless JAX_PLATFORMS says otherwise
# (JAX_PLATFORMS=cuda,cpu: the GPU is the default device, the CPU devices stay for the mesh tests).
test: $(STAMP)
	$(BIN)/python -m pytest -n auto

test-all: $(STAMP)
	$(BIN)/python -m pytest -n auto -m ''

# The PyTorch peer is optional: without it the benchmark prints its row as missing.
bench: $(STAMP)
	-$(BIN)/python -m pip install -q -e '.[bench]' || echo "torch not installable here: its row is skipped"
	$(BIN)/python -m experiments.benchmark

# One page over every experiment's newest run: runs/report/report.md and report.html.
report: $(STAMP)
	$(BIN)/python -m experiments report

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) runs .pytest_cache
