# The commands the README names. Each target manages .venv itself.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: demo test check bench clean install test-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: $(BIN)/python setup.cfg pyproject.toml bin/hdhooks
	$(PIP) install -e .
	touch $@

$(VENV)/.test-installed: $(VENV)/.installed
	$(PIP) install -e '.[test,provision]'
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

# Start-up is also measured on a regular (not editable) install, as on an
# instance: an editable install slows every Python start, hiding hdhooks' cost.
BENCH_VENV := .cache/bench-venv

$(BENCH_VENV)/.installed: $(VENV)/.installed $(shell find hdhooks bin -type f -newer setup.cfg 2>/dev/null)
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip --disable-pip-version-check -q install .
	$(BENCH_VENV)/bin/python -m pip --disable-pip-version-check -q install --force-reinstall --no-deps .
	touch $@

bench: $(VENV)/.installed $(BENCH_VENV)/.installed
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done
	@for b in startup hook_startup; do \
	    echo "== benchmarks/$$b.py (regular install, as on an instance)"; \
	    $(BENCH_VENV)/bin/python benchmarks/$$b.py || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache .cache
