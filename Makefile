# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

export FLASK_APP := app

# `PORT=5055 make run` serves on another port; links in the demo's mail follow it.
HOST ?= 127.0.0.1
PORT ?= 5000
AFTERCARE_BASE_URL ?= http://$(HOST):$(PORT)

.PHONY: run serve worker test test-fast bench lint setup demo clean chromium oidc-provider screenshots

# Debian's Chromium for the browser tests (Playwright drives it; it downloads no browser).
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

instance/aftercare.db: | $(STAMP)
	AFTERCARE_BASE_URL=$(AFTERCARE_BASE_URL) $(BIN)/flask --app app demo

demo: $(STAMP)
	AFTERCARE_BASE_URL=$(AFTERCARE_BASE_URL) $(BIN)/flask --app app demo --reset

# Ends by printing a short block: the address, the demo accounts and three unanswered links
# to the demo's open survey (again on every run, while that survey is open).
run: $(STAMP) instance/aftercare.db
	@$(BIN)/python -m surveys.web.serving check-port $(HOST) $(PORT) "make run"
	$(BIN)/flask --app app db upgrade
	@AFTERCARE_BASE_URL=$(AFTERCARE_BASE_URL) $(BIN)/flask --app app demo-links
	AFTERCARE_BASE_URL=$(AFTERCARE_BASE_URL) $(BIN)/flask --app app run --host $(HOST) --port $(PORT)

# Production serving: gunicorn (gunicorn.conf.py) on the database in DATABASE_URL (SQLite
# under instance/ by default, or PostgreSQL), migrated first. Run `make worker` beside it.
serve: $(STAMP)
	@$(BIN)/python -m surveys.web.serving check-port $(HOST) $(PORT) "make serve"
	$(BIN)/flask --app app db upgrade
	$(BIN)/flask --app app sso check --offline
	HOST=$(HOST) PORT=$(PORT) AFTERCARE_BASE_URL=$(AFTERCARE_BASE_URL) \
		$(BIN)/gunicorn -c gunicorn.conf.py 'app:create_app()'

worker: $(STAMP)
	$(BIN)/flask --app app db upgrade
	AFTERCARE_BASE_URL=$(AFTERCARE_BASE_URL) $(BIN)/flask --app app worker

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	$(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

chromium: $(CHROMIUM)

# The OpenID provider the single sign-on tests run (the npm package oidc-provider, pinned by
# tests/oidc/package-lock.json). Installed again only when the lock file changes, so an
# installed copy works offline.
OIDC_PROVIDER := tests/oidc/node_modules/.package-lock.json

$(OIDC_PROVIDER): tests/oidc/package-lock.json tests/oidc/package.json
	cd tests/oidc && npm ci --no-audit --no-fund --loglevel=error
	touch $(OIDC_PROVIDER)

oidc-provider: $(OIDC_PROVIDER)

# The whole suite, browser and slow tests included, in TEST_WORKERS processes (pytest-xdist;
# one test file stays in one process); 0 runs it in this process.
TEST_WORKERS ?= 2
test: $(STAMP) $(CHROMIUM) $(OIDC_PROVIDER)
	$(BIN)/ruff check .
	$(BIN)/bandit -q -r surveys analysis app.py --severity-level medium
	$(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile

# Refresh docs/screenshots/ from the browser tests (an ordinary test run leaves them alone).
screenshots: $(STAMP) $(CHROMIUM)
	AFTERCARE_SCREENSHOTS=docs $(BIN)/python -m pytest -q -p no:cacheprovider -m browser \
		tests/browser/test_at_a_glance_in_chromium.py tests/browser/test_admin_in_chromium.py \
		tests/browser/test_demo_in_chromium.py

# Everyday loop: skips the browser and slow tests.
test-fast: $(STAMP) $(OIDC_PROVIDER)
	$(BIN)/python -m pytest -q -m "not browser and not slow"

bench: $(STAMP)
	$(BIN)/python -m bench

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) instance/aftercare.db* .pytest_cache tests/oidc/node_modules
