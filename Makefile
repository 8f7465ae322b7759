# coldchain: the two set-up commands are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install lint test test-unit bench demo stack-up stack-down chaos schemas clean chromium

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check services schemas tests bench
	$(BIN)/mypy

schemas: $(STAMP)
	$(BIN)/python -m schemas.generate

# The dashboard's browser tests drive Debian's Chromium (Playwright never downloads a browser).
chromium:
	test -x /usr/bin/chromium || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

# The whole suite on the real services: starts what is not running, stops what it started.
test: $(STAMP) lint chromium
	$(BIN)/coldchain stack run -- $(BIN)/pytest -q -ra -p no:cacheprovider

test-unit: $(STAMP)
	$(BIN)/pytest -q tests/unit tests/component

# Every fault of tests/chaos (make test runs the quick ones).
chaos: $(STAMP)
	COLDCHAIN_CHAOS=all $(BIN)/coldchain stack run -- $(BIN)/pytest -q -ra -p no:cacheprovider tests/chaos

bench: $(STAMP)
	$(BIN)/coldchain stack run -- $(BIN)/python -m bench.run

demo: $(STAMP)
	$(BIN)/coldchain demo

stack-up: $(STAMP)
	$(BIN)/coldchain stack up

stack-down: $(STAMP)
	$(BIN)/coldchain stack down

clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache test-artifacts
