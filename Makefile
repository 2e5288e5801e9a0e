# Two commands on a fresh clone: `make run` and `make test`.
PYTHON ?= python3.12
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install venv migrate seed serve worker beat lint check bench clean test-browser

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
	$(PY) -m pytest $(PYTEST_ARGS)

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

# docs/health-model.md from the engine and a backtest on a freshly seeded throwaway demo book.
.PHONY: health-doc
health-doc: install
	$(PY) manage.py health_model_doc

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache
