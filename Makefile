# coldchain: the two set-up commands are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install lock lint test test-unit bench demo stack-up stack-down chaos schemas i18n-extract clean chromium

# The whole dependency tree comes from the hashed lock, so a fresh clone gets CI's versions.
$(STAMP): pyproject.toml tools/pyproject.toml requirements/dev.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --require-hashes -r requirements/dev.lock
	$(BIN)/pip install -q --no-deps -e . -e tools
	touch $(STAMP)

install: $(STAMP)

# Re-resolve the locks after a change to pyproject.toml's dependencies.
lock: $(STAMP)
	$(BIN)/pip install -q uv==0.13.8
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra demo --generate-hashes --python-version 3.11 \
	  --python-platform linux -q -o requirements/dev.lock
	$(BIN)/uv pip compile pyproject.toml --extra demo --generate-hashes --python-version 3.11 \
	  --python-platform linux -q -o requirements/runtime.lock

lint: $(STAMP)
	$(BIN)/ruff check services schemas tools tests bench
	$(BIN)/mypy
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec deploy/compose.yaml

schemas: $(STAMP)
	$(BIN)/python -m schemas.generate

# The message catalogs (services/i18n) from the gettext/pgettext/N_ markers in the code: a new
# msgid arrives untranslated in each .po (tests/unit/i18n names it until it is translated),
# a removed one goes. The .po files are read as they are at run time: nothing to compile.
I18N := services/i18n
i18n-extract: $(STAMP)
	$(BIN)/pybabel -q extract --add-location=file --add-comments=i18n: --strip-comment-tags --sort-by-file \
	  --project=coldchain --copyright-holder=coldchain -o $(I18N)/coldchain.pot services schemas
	$(BIN)/pybabel -q update -i $(I18N)/coldchain.pot -d $(I18N)/locales -D coldchain \
	  --no-fuzzy-matching --ignore-obsolete --ignore-pot-creation-date

# The dashboard's browser tests drive Debian's Chromium (Playwright never downloads a browser).
chromium:
	test -x /usr/bin/chromium || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

# The whole suite on the real services: starts what is not running, stops what it started.
test: $(STAMP) lint chromium
	$(BIN)/coldchain stack run -- $(BIN)/pytest -q -ra -p no:cacheprovider

test-unit: $(STAMP)
	$(BIN)/pytest -q tests/unit tests/component

# Every fault of tests/chaos (make test runs the quick ones), and the long hostile-input fuzzer.
chaos: $(STAMP)
	COLDCHAIN_CHAOS=all $(BIN)/coldchain stack run -- $(BIN)/pytest -q -ra -p no:cacheprovider tests/chaos \
	  tests/integration/hostile/test_hostile_fuzz.py

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
