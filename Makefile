# Two entry points for a fresh machine with python3 and make: `make reproduce`, `make test`.
# Everything is installed from the committed lock file (requirements.lock, with hashes).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV_VERSION := 0.13.8
STAMP := $(VENV)/.installed
OUT ?= analyses/output
PYTEST_ARGS ?=

.PHONY: all venv reproduce reproduce-full test lint typecheck data lock bench clean

all: test

$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV)/bin/uv pip sync --quiet --python $(PY) --require-hashes requirements.lock
	$(VENV)/bin/uv pip install --quiet --python $(PY) --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

## Regenerate every table, figure and the HTML report (quick profile) from the embedded synthetic default.
reproduce: $(STAMP)
	$(VENV)/bin/recurrence reproduce --quick --out $(OUT)

## The full-size run (longer).
reproduce-full: $(STAMP)
	$(VENV)/bin/recurrence reproduce --out $(OUT)

## Lint, type-check and run the test suite (notebooks included).
test: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks analyses
	$(VENV)/bin/mypy
	$(VENV)/bin/pytest -m "not slow" --nbmake tests notebooks $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks analyses

typecheck: $(STAMP)
	$(VENV)/bin/mypy

## Regenerate the committed synthetic sample in data/synthetic/ byte-identically.
data: $(STAMP)
	$(VENV)/bin/recurrence synth --children 5000 --years 10 --seed 20090331 --preset england-2009 --out data/synthetic --format csv

## Re-resolve the lock file (maintainers only; needs network access to PyPI).
lock:
	uv pip compile pyproject.toml --extra dev --generate-hashes --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
