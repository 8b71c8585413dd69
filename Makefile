# The two commands of the README: `make run` and `make test`. Both set up what they need.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test setup test-deps bench-deps bench soak lint clean-cache

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

# An hour of mixed load on the real daemon, watched for leaks (make soak MINUTES=15 for less).
MINUTES ?= 60
soak: setup test-deps
	$(PY) tests/bench/soak.py --minutes $(MINUTES)

lint: setup
	$(VENV)/bin/pip install -q -e ".[dev]"
	$(VENV)/bin/ruff check pbx hardware webadmin tests
	$(VENV)/bin/mypy pbx hardware
