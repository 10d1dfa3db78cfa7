# The commands the README names. Each target manages .venv itself.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: demo test check bench clean install test-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml
	$(PIP) install -e .
	touch $@

$(VENV)/.test-installed: $(VENV)/.installed
	$(PIP) install -e '.[test]'
	touch $@

install: $(VENV)/.installed

test-deps: $(VENV)/.test-installed
	bash scripts/test-setup.sh

demo: $(VENV)/.installed
	bash scripts/demo.sh

check: $(VENV)/.test-installed
	$(BIN)/ruff check hdhooks tests benchmarks
	$(BIN)/mypy

test: test-deps check
	$(BIN)/python -m pytest -q tests

bench: $(VENV)/.installed
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache .cache
