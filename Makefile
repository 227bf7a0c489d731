# The targets create .venv on first use and install the project into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck bench-smoke clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/harvester demo

test: $(STAMP)
	$(BIN)/ruff check harvester tests benchmarks
	$(BIN)/mypy
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) harvester-demo .pytest_cache .mypy_cache
