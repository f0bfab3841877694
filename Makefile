# Dyad: `make run` serves the app with demo data; `make check` is the fast loop (all but the
# tests marked slow); `make test` runs the whole suite; `make smoke` proves the services work.
# With no DATABASE_URL / REDIS_URL, embedded PostgreSQL and Redis start under var/.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export DEBUG ?= true
export PORT

.PHONY: setup run check test smoke bench lint typecheck stop clean system-packages

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

setup: $(VENV)/.installed
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py collectstatic --no-input --verbosity 0

run: setup
	$(BIN)/python manage.py seed_demo
	@echo "Dyad on http://127.0.0.1:$(PORT)/  (web, Celery worker and beat; Ctrl-C stops all)"
	$(BIN)/honcho --procfile Procfile.dev start

# Debian packages the tests drive: Chromium (browser tests), docker-compose (checks the file).
system-packages:
	@command -v chromium >/dev/null 2>&1 && command -v docker-compose >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium and docker-compose for the tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	    chromium docker-compose >/dev/null; }

# The fast loop: everything but the slow tier (real browsers and Celery workers, subprocesses,
# fuzzing, volume: tests marked slow). The test database is kept between runs (--reuse-db; new
# migrations are still applied); `make check PYTEST_ARGS=--create-db` builds it afresh.
check: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/pytest -m "not slow" --reuse-db -n auto $(PYTEST_ARGS)

# The whole suite, slow tier included, on a test database created afresh.
test: $(VENV)/.installed system-packages
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/pytest $(PYTEST_ARGS)

# A few tests proving the services work: migrations, /healthz (PostgreSQL and Redis), one task
# through a real Celery worker, one journey in a real browser (tests marked smoke).
smoke: $(VENV)/.installed system-packages
	$(BIN)/pytest -m smoke $(PYTEST_ARGS)

bench: setup
	$(BIN)/python -m benchmarks

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.installed
	$(BIN)/mypy

stop: $(VENV)/.installed
	$(BIN)/python -m registry.embedded stop

clean: stop
	rm -rf var test-artifacts
