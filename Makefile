# Two entry points (see README): `make run` opens the workbench, `make test` runs the tests.
# Each creates and reuses its own virtual environment in .venv.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
PROBLEM ?= problems/ihdp

.PHONY: install run test test-slow bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/python -m pip install --quiet -e '.[test,data]'
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/workbench open $(PROBLEM)

test: install
	$(BIN)/python -m pytest -m "not slow" -q

test-slow: install
	$(BIN)/python -m pytest -m slow -q

bench: install
	$(BIN)/workbench bench

clean:
	rm -rf $(VENV) .pytest_cache
