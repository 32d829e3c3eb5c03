# Sitecast: `make run` starts everything on one machine; `make test` runs the suite. `make help` lists all.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
export TEST_POSTGRES_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test
PYTEST_ARGS ?=

.PHONY: help install run migrate seed worker test test-fast lint format bench clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

# Browser libraries the pages serve themselves (hls.js), pinned by web/package-lock.json.
WEB_DEPS := web/node_modules/.installed
$(WEB_DEPS): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(STAMP) $(WEB_DEPS) ## create the virtualenv and install pinned dependencies (Python and web)

run: $(STAMP) $(WEB_DEPS) ## migrate, seed the sample events if empty, start on HOST:PORT and print links and tokens
	$(PY) -m server run

migrate: $(STAMP) ## apply database migrations (DATABASE_URL)
	$(PY) -m server migrate

seed: $(STAMP) ## migrate and seed the sample events when the database is empty
	$(PY) -m server seed

worker: $(STAMP) ## run the background job worker
	$(PY) -m server worker

test: $(STAMP) $(WEB_DEPS) ## the whole suite on SQLite and PostgreSQL (+ Redis, browser, media)
	$(PY) -m pytest --cov=moderation --cov=polls --cov-branch --cov-report=term-missing:skip-covered --cov-fail-under=100 $(PYTEST_ARGS)

test-fast: $(STAMP) $(WEB_DEPS) ## the suite without tests marked slow
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

lint: $(STAMP) ## ruff (lint + format check) and mypy on the pure core
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(STAMP) ## apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(STAMP) ## run the benchmarks in bench/ (not part of the tests)
	@ls bench/*.py >/dev/null 2>&1 && for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done || echo "no benchmarks yet"

clean: ## remove the virtualenv and caches (keeps ./data)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage
