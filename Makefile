# The README's two commands: `make lab` and `make test`. Each creates .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: lab test bench install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The `cpu` extra brings the small CPU-only TensorFlow (the package itself requires none:
# see "Which TensorFlow" in the README); `test` brings pytest, nbclient and Playwright.
$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[test,cpu]"
	touch $(STAMP)

install: $(STAMP)

# JupyterLab refuses to run as root (containers, CI machines) unless told it may.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

lab: $(STAMP)
	$(BIN)/jupyter lab $(ALLOW_ROOT) $(LAB_ARGS) notebooks/00_quickstart.ipynb

test: $(STAMP)
	$(BIN)/python -m pytest -ra

bench: $(STAMP)
	$(BIN)/python benchmarks/overhead.py
	$(BIN)/python benchmarks/watch_overhead.py
	$(BIN)/python benchmarks/ui_cost.py
	$(BIN)/python benchmarks/soak.py
	$(BIN)/python benchmarks/sweep.py
	$(BIN)/python benchmarks/diagnosis_report.py

clean:
	rm -rf $(VENV) build dist *.egg-info
