# The commands the README names. Each target manages .venv itself.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: demo test check bench clean install test-deps dist wheelhouse

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

# Two workers: most tests wait on real processes and servers, not the CPU.
PYTEST_WORKERS ?= 2

test: test-deps check
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) tests

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

# Release artefacts. The version is hdhooks/__init__.py's __version__ (setup.cfg
# reads it). The wheel is built from the sdist, which proves the sdist complete.
$(VENV)/.build-installed: $(BIN)/python
	$(PIP) install 'build>=1.0'
	touch $@

dist: $(VENV)/.build-installed
	rm -rf dist/hdhooks-*.whl dist/hdhooks-*.tar.gz build
	$(BIN)/python -m build --outdir dist .
	@ls -l dist/hdhooks-*

# Offline wheelhouses (CPython 3.11, manylinux x86_64 and aarch64) with their
# SHA256SUMS, from the wheel `make dist` built: what scripts/bake-ami.sh installs.
wheelhouse: dist
	bash scripts/build-wheelhouse.sh --python $(BIN)/python --out dist \
	    --arch x86_64 --arch aarch64 $$(ls dist/hdhooks-*-py3-none-any.whl)

clean:
	rm -rf $(VENV) build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache .cache
