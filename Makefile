# Two entry points (see README): `make run` opens the workbench, `make test` runs the tests.
# Each creates and reuses its own virtual environment in .venv.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
PROBLEM ?= problems/ihdp

.PHONY: install system run lint test test-slow bench bench-all clean

# bubblewrap puts agent-written code in Linux namespaces (see README, "What runs where").
# Installed when missing and we can (root with apt-get); otherwise the workbench says so.
system:
	@command -v bwrap >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing bubblewrap (the namespace sandbox)"; \
	    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; \
	  else \
	    echo "note: bubblewrap (bwrap) is missing and cannot be installed here; agent code runs behind the inner layers only. Install it with your package manager (e.g. sudo apt-get install bubblewrap)."; \
	  fi; }

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/python -m pip install --quiet -e '.[test,data]'
	touch $@

install: system $(VENV)/.installed

run: install
	$(BIN)/workbench open $(PROBLEM)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: install lint
	$(BIN)/python -m pytest -m "not slow" -q -n 2 --dist loadfile

test-slow: install
	$(BIN)/python -m pytest -m slow -q

# bench: every speed figure in one run, ending with one summary table (benchmarks/bench_speed.py).
# bench-all: every script in benchmarks/ but the hours-long quality battery (workbench bench quality).
bench: install
	$(BIN)/workbench bench speed

bench-all: install
	$(BIN)/workbench bench

clean:
	rm -rf $(VENV) .pytest_cache
