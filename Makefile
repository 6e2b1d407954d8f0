# The two commands: `make run` (set up, migrate, seed, serve on :3000) and
# `make test` (the same set-up plus Chromium, PostgreSQL and Redis, then every test).
# Everything is installed on first use; later runs skip what is already there.
# `make run-scaled`: the same game on PostgreSQL + Redis with $(WORKERS) workers (see README).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BUN := .tools/node_modules/.bin/bun
BUN_VERSION := 1.4.4
PORT ?= 3000
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

export REFLEX_TELEMETRY_ENABLED := false
export REFLEX_USE_SYSTEM_BUN := 1
export PATH := $(CURDIR)/.tools/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)

# The scaled mode: PostgreSQL and Redis on loopback (data/postgres, data/redis), several workers.
WORKERS ?= 2
PG_PORT ?= 5433
REDIS_PORT ?= 6380
# No demo logins (a password everybody knows) in the scaled mode: ECONOMY_DEMO=off.
SCALED_ENV := DATABASE_URL=postgresql://postgres@127.0.0.1:$(PG_PORT)/economy \
	REFLEX_REDIS_URL=redis://127.0.0.1:$(REDIS_PORT)/0 GRANIAN_WORKERS=$(WORKERS) ECONOMY_DEMO=off

.PHONY: run run-scaled services-down test lint setup migrate seed build chromium postgresql redis unit e2e bench bench-load clean

run: seed ## set up what is missing, migrate, seed an empty database, serve the game on :$(PORT)
	@echo "economy_app: starting on http://localhost:$(PORT) (prod build; first start compiles the frontend)"
	$(VENV)/bin/reflex run --env prod --single-port --frontend-port $(PORT) --backend-port $(PORT)

run-scaled: setup postgresql redis ## PostgreSQL + Redis on loopback (started if not running), $(WORKERS) workers on :$(PORT)
	$(PY) -m economy_app services up --pg-port $(PG_PORT) --redis-port $(REDIS_PORT)
	$(SCALED_ENV) $(PY) -m economy_app db upgrade
	$(SCALED_ENV) $(PY) -m economy_app seed
	@echo "economy_app: starting $(WORKERS) workers on http://localhost:$(PORT) (PostgreSQL :$(PG_PORT), Redis :$(REDIS_PORT))"
	$(SCALED_ENV) $(VENV)/bin/reflex run --env prod --single-port --frontend-port $(PORT) --backend-port $(PORT)

services-down: setup ## stop the PostgreSQL and Redis that run-scaled started
	$(PY) -m economy_app services down --pg-port $(PG_PORT) --redis-port $(REDIS_PORT)

test: setup chromium postgresql redis lint ## the same set-up plus Chromium, PostgreSQL and Redis, the lint, then every test
	ECONOMY_REQUIRE_POSTGRES=1 $(PY) -m pytest

lint: setup ## ruff: the lint rules and the format (pyproject.toml), before any test runs
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

setup: $(VENV)/.installed $(BUN)

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

$(BUN):
	npm install --prefix .tools --no-audit --no-fund --loglevel=error bun@$(BUN_VERSION)

migrate: setup
	$(PY) -m economy_app db upgrade

seed: migrate
	$(PY) -m economy_app seed

chromium: ## Debian's Chromium for the end-to-end tests (never a downloaded browser)
	@test -x /usr/bin/chromium || { $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

postgresql: ## Debian's PostgreSQL server binaries; the tests start a throwaway cluster on loopback
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; }

redis: ## Debian's Redis server (Reflex's shared state in the scaled mode)
	@test -x /usr/bin/redis-server || { $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; }

unit: setup ## service tests only (SQLite, and PostgreSQL when installed)
	$(PY) -m pytest tests/unit tests/integration

e2e: setup chromium ## end-to-end tests only
	$(PY) -m pytest tests/e2e

bench: setup postgresql redis ## benchmarks (print tables; not tests)
	$(PY) bench/ledger.py
	$(PY) bench/history.py
	$(PY) bench/marketplace.py
	$(PY) bench/admin.py
	$(PY) bench/load.py

bench-load: setup postgresql redis ## the load test alone: simulated players over the websocket (about 15 minutes)
	$(PY) bench/load.py

clean:
	rm -rf .web .states artifacts .pytest_cache .hypothesis
