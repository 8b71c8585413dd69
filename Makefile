# The two commands of the README: `make run` and `make test`. Both set up what they need.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test setup test-deps bench-deps bench lint clean-cache

run: setup
	$(VENV)/bin/pbx run

test: setup test-deps
	$(PY) -m pytest -q -p no:cacheprovider

setup:
	@scripts/setup.sh

test-deps:
	@scripts/setup.sh --test

bench-deps:
	@scripts/setup.sh --bench

# Benchmarks are run on purpose, never in `make test`; each prints its figures.
bench: setup bench-deps
	$(PY) tests/bench/run_all.py

lint: setup
	$(VENV)/bin/pip install -q -e ".[dev]"
	$(VENV)/bin/ruff check pbx hardware webadmin tests
	$(VENV)/bin/mypy pbx hardware
