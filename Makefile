# kpledger: two commands for a newcomer, `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-deps lint typecheck pytest fuzz soak bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/kpledger demo --dir demo-run

test: $(STAMP) test-deps lint typecheck pytest

test-deps:
	bash tools/install-test-deps.sh

lint: $(STAMP)
	$(BIN)/ruff check ledger cli tests tools
	$(BIN)/ruff format --check ledger cli tests tools

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/pytest -q

fuzz: $(STAMP)
	KPLEDGER_FUZZ_EXAMPLES=100000 $(BIN)/pytest -q -m slow tests/property -k fuzz

soak: $(STAMP)
	$(BIN)/pytest -q -m slow

clean:
	rm -rf $(VENV) demo-run .pytest_cache .mypy_cache .ruff_cache
