# The targets create .venv on first use and install the project into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint typecheck clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The demo needs the tool and DuckDB; the tests also need the official SDK, jsonschema and PySpark.
$(VENV)/.installed-demo: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[report]'
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,report,spark]'
	touch $@

demo: $(VENV)/.installed-demo
	$(BIN)/harvester demo

lint: $(VENV)/.installed-test
	$(BIN)/ruff check harvester tests benchmarks

typecheck: $(VENV)/.installed-test
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) harvester-demo .pytest_cache .mypy_cache .ruff_cache
