# crowdquake developer commands. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench
# Every dependency pinned (dev + sim extras). Whoever changes dependencies in pyproject.toml runs
# `make lock` and commits requirements.lock with that change.
LOCK := requirements.lock
# Console front end: npm packages (package-lock.json) copied into our own static folder.
VENDOR := crowdquake/console/static/vendor
NPM_STAMP := node_modules/.installed
# Headless Chromium for the browser tests, from Debian's packages (no browser download).
BROWSER_STAMP := $(VENV)/.installed-browser

.DEFAULT_GOAL := help
.PHONY: help install lock wheel demo test test-fast lint format migrate serve worker openapi bench bench-ingest \
	bench-pipeline bench-association bench-edge bench-feeds bench-streams bench-soak evaluate edge-model edge-evaluate clean

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-18s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c $(LOCK) -e '.[dev,sim]'
	@touch $@

$(NPM_STAMP): package.json package-lock.json
	command -v npm >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm)
	npm ci --no-audit --no-fund --loglevel=error
	rm -rf $(VENDOR) && mkdir -p $(VENDOR)/images
	cp node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.css $(VENDOR)/
	cp node_modules/leaflet/dist/images/*.png $(VENDOR)/images/
	cp node_modules/leaflet/LICENSE $(VENDOR)/LICENSE.leaflet
	cp node_modules/chart.js/dist/chart.umd.min.js $(VENDOR)/chart.umd.min.js
	cp node_modules/chart.js/LICENSE.md $(VENDOR)/LICENSE.chartjs
	cp node_modules/topojson-client/dist/topojson-client.min.js $(VENDOR)/
	cp node_modules/topojson-client/LICENSE $(VENDOR)/LICENSE.topojson-client
	cp node_modules/world-atlas/countries-50m.json $(VENDOR)/
	cp node_modules/world-atlas/LICENSE $(VENDOR)/LICENSE.world-atlas
	@touch $@

$(BROWSER_STAMP):
	(command -v chromium && command -v chromedriver) >/dev/null || (apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver)
	@touch $@

install: $(STAMP) $(NPM_STAMP) $(BROWSER_STAMP) ## Create .venv and install crowdquake with dev tools and the simulator (pinned), console assets (npm), Chromium

lock: ## Re-pin all dependencies into requirements.lock (after changing pyproject.toml)
	test -x $(BIN)/pip-compile || ($(PYTHON) -m venv $(VENV) && $(BIN)/pip install -q pip-tools)
	$(BIN)/pip-compile --extra dev --extra sim --strip-extras --no-header --quiet \
		-o $(LOCK) pyproject.toml
	@echo "requirements.lock updated: commit it with the pyproject.toml change"

wheel: install ## Build dist/crowdquake-*.whl (ships migrations and the default edge model)
	rm -rf build dist
	$(BIN)/pip wheel -q --no-deps -w dist .

demo: install ## Start API + worker on embedded defaults and replay an earthquake through HTTP
	$(BIN)/crowdquake demo

test: install ## Run all tests (SQLite; PostgreSQL too when CROWDQUAKE_TEST_DATABASE_URL is set)
	$(BIN)/pytest

test-fast: install ## Run the tests without the slow functional ones
	$(BIN)/pytest -m "not slow"

lint: install ## ruff, formatting, mypy, import layers, OpenAPI drift (migration drift: make test)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy crowdquake
	$(BIN)/lint-imports
	$(BIN)/crowdquake openapi --check

format: install ## Apply ruff fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

migrate: install ## Upgrade CROWDQUAKE_DATABASE_URL to the latest schema
	$(BIN)/crowdquake db upgrade

serve: install ## Run the API with gunicorn (CROWDQUAKE_BIND, default 127.0.0.1:8000)
	$(BIN)/crowdquake serve --upgrade

worker: install ## Run a Celery worker with the beat scheduler
	$(BIN)/crowdquake worker --beat

openapi: install ## Regenerate crowdquake/api/openapi.json from the code
	$(BIN)/crowdquake openapi

$(BENCH_STAMP): $(STAMP)
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	@touch $@

bench: bench-ingest bench-pipeline bench-association bench-edge bench-feeds bench-streams bench-soak ## Run every benchmark

bench-ingest: $(BENCH_STAMP) ## Ingest throughput/latency on gunicorn + PostgreSQL vs the trivial endpoint
	$(BIN)/crowdquake bench ingest

bench-pipeline: $(BENCH_STAMP) ## HTTP -> event -> alert latency and sustained trigger rate
	$(BIN)/crowdquake bench pipeline

bench-feeds: $(BENCH_STAMP) ## Cached GeoJSON feed req/s and FDSN query p95 over 100,000 events (PostgreSQL)
	$(BIN)/crowdquake bench feeds

bench-streams: $(BENCH_STAMP) ## 10,000 open alert streams: delivery after commit, ingest with vs without
	$(BIN)/crowdquake bench streams

bench-soak: $(BENCH_STAMP) ## Stack under phone load with PostgreSQL/worker/Redis faults (3 min)
	$(BIN)/crowdquake bench soak

# PyOcto (a baseline) pins numpy<2 on Python 3.11 (the supported Python; the service runs on
# numpy 2), so it lives in its own virtualenv.
.venv-bench/.installed: pyproject.toml
	$(PYTHON) -m venv .venv-bench
	.venv-bench/bin/pip install -q --upgrade pip
	.venv-bench/bin/pip install -q -e '.[dev,sim,bench]'
	@touch $@

bench-association: .venv-bench/.installed ## Streaming association cost and speed vs PyOcto
	.venv-bench/bin/crowdquake bench association

bench-edge: install ## Edge model latency and batched throughput with LiteRT
	$(BIN)/crowdquake bench edge

evaluate: .venv-bench/.installed ## Standard suite, ours vs MyShake, count test and PyOcto (~25 min on 2 cores)
	.venv-bench/bin/crowdquake evaluate --suite standard --seed 1 --json out/evaluation.json

.venv-train/.installed: pyproject.toml
	$(PYTHON) -m venv .venv-train
	.venv-train/bin/pip install -q --upgrade pip
	.venv-train/bin/pip install -q -e '.[dev,sim,train]'
	@touch $@

edge-model: .venv-train/.installed ## Retrain the edge model end to end (TensorFlow in .venv-train)
	.venv-train/bin/python -m edge_model.train

edge-evaluate: .venv-train/.installed ## Evaluate the shipped edge model (LiteRT runtime; real data packages from [train])
	.venv-train/bin/python -m edge_model.evaluate --json out/edge_evaluation.json

clean: ## Remove the virtualenvs, caches and the embedded instance/ data
	rm -rf $(VENV) .venv-* instance node_modules $(VENDOR) .pytest_cache .mypy_cache .ruff_cache
