# Two commands on a fresh clone: `make run` and `make test`.
PYTHON ?= python3.12
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000
# `make test` leaves out the tests marked slow (they build the whole demo book) and the browser
# tests (one Chromium, about 45 s on its own); `make test-all` (CI) runs them too, and
# `make test-browser` runs the browser tests alone. A -m in PYTEST_ARGS replaces this selection.
PYTEST_MARK ?= not slow and not browser
# pytest-xdist workers for the tests that may share the machine.
TEST_WORKERS ?= 2
# Bytecode caches, pytest's rewritten test modules among them, spare every test process seconds
# of compiling; an environment that turns them off (PYTHONDONTWRITEBYTECODE) is overruled here.
test test-browser: export PYTHONDONTWRITEBYTECODE :=

.PHONY: run test test-all install venv migrate seed serve worker beat lint check bench clean test-browser \
	bench-load fuzz-api

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.12 is required (set PYTHON=/path/to/python3.12)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.installed: $(PY) requirements.txt requirements-dev.txt
	$(PIP) install -q -r requirements-dev.txt
	@touch $@

install: $(VENV)/.installed

migrate: install
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo

run: seed
	@$(PY) manage.py demo_logins
	$(PY) manage.py runserver $(HOST):$(PORT) --noreload

test: install
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	@# Two runs: the tests shared out to parallel workers, then the integration tests alone in
	@# one process (only with PostgreSQL and Redis; without them they skip in the first run).
	@# A narrow PYTEST_ARGS may leave one run nothing to do (exit 5); both is an error.
	$(PY) -m pytest --part=parallel -n $(TEST_WORKERS) --dist loadgroup -m "$(PYTEST_MARK)" $(PYTEST_ARGS); a=$$?; \
	if [ -n "$$DATABASE_URL" ] && [ -n "$$REDIS_URL" ]; then \
	  $(PY) -m pytest --part=serial -m "$(PYTEST_MARK)" $(PYTEST_ARGS); b=$$?; else b=5; fi; \
	if [ $$a = 5 ] && [ $$b = 5 ]; then exit 5; fi; \
	{ [ $$a = 0 ] || [ $$a = 5 ]; } && { [ $$b = 0 ] || [ $$b = 5 ]; }

test-all: PYTEST_MARK =
test-all: test

test-browser: install
	$(PY) -m pytest -m browser $(PYTEST_ARGS)

worker: install
	$(VENV)/bin/celery -A cs_portal worker -l info

beat: install
	$(VENV)/bin/celery -A cs_portal beat -l info

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: install
	$(PY) bench/run.py

# Peak memory of a usage import of 50 and 200 MB, COPY path and row path (docs/benchmarks.md).
.PHONY: bench-import-memory
bench-import-memory: install
	$(PY) bench/import_memory.py --sizes 50,200

# Load: locust against gunicorn on a fresh 5,000-account PostgreSQL database, all on 127.0.0.1;
# the measured window starts once every user has logged in. Figures go to docs/benchmarks.md.
# Gunicorn stops and the database drops whatever happens (bench/serve.py).
LOAD_USERS ?= 50
LOAD_SECONDS ?= 60
LOAD_ACCOUNTS ?= 5000
bench-load: install
	$(PY) bench/load.py --accounts $(LOAD_ACCOUNTS) --users $(LOAD_USERS) --seconds $(LOAD_SECONDS)

# Cockpit: each panel's server time p95 at 5,000 accounts on a throwaway PostgreSQL database
# (bench/cockpit.py); figures go to docs/benchmarks.md. Target: under 150 ms a panel.
COCKPIT_ACCOUNTS ?= 5000
.PHONY: bench-cockpit
bench-cockpit: install
	$(PY) bench/cockpit.py --accounts $(COCKPIT_ACCOUNTS)

# QBR: assemble one account's QBR and render its deck, on the demo book seeded once into a
# SQLite file under bench/out/qbr/ (bench/qbr_deck.py); figures go to docs/benchmarks.md.
# Target: under 2 s for one account (p95).
QBR_RUNS ?= 5
.PHONY: bench-qbr
bench-qbr: install
	$(PY) bench/qbr_deck.py --runs $(QBR_RUNS)

# API fuzz: schemathesis against /api/v1/openapi.json on gunicorn serving the demo book, with a
# bearer token; fails on any 5xx. Bounded by examples per operation and a time budget.
FUZZ_EXAMPLES ?= 50
FUZZ_SECONDS ?= 240
fuzz-api: install
	$(PY) bench/fuzz.py --max-examples $(FUZZ_EXAMPLES) --max-time $(FUZZ_SECONDS)

# docs/health-model.md from the engine and a backtest on a freshly seeded throwaway demo book.
.PHONY: health-doc
health-doc: install
	$(PY) manage.py health_model_doc

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache
