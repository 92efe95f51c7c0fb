# eh-broker: `make run` starts the broker with the eHerkenning simulator; `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEV_ENV := BROKER_ENV=development BROKER_SIMULATOR=1 BROKER_DEMO_SECRET=demo-portal-secret-for-development-only

.PHONY: run test lint bench clean

$(BIN)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

run: $(BIN)/.installed
	$(DEV_ENV) $(BIN)/flask --app wsgi db upgrade
	@echo "Open http://127.0.0.1:5000/demo/ and sign in with eHerkenning (through the built-in simulator)."
	$(DEV_ENV) $(BIN)/flask --app wsgi run --host 127.0.0.1 --port 5000

test: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

bench: $(BIN)/.installed
	$(BIN)/python bench/acs.py
	$(BIN)/python bench/signin.py

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache .hypothesis
