# Two commands on a fresh machine: `make run` and `make test`. Both create .venv when missing.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-all bench lint clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m experiments.architecture_comparison
	$(BIN)/python -m experiments.activation_comparison
	$(BIN)/python -m experiments.cnn_vs_mlp

# One pytest worker per core (pytest-xdist); tests run on CPU unless JAX_PLATFORMS says otherwise.
test: $(STAMP)
	$(BIN)/python -m pytest -n auto

test-all: $(STAMP)
	$(BIN)/python -m pytest -n auto -m ''

# The PyTorch peer is optional: without it the benchmark prints its row as missing.
bench: $(STAMP)
	-$(BIN)/python -m pip install -q -e '.[bench]' || echo "torch not installable here: its row is skipped"
	$(BIN)/python -m experiments.benchmark

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) runs .pytest_cache
