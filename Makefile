# kpledger: two commands for a newcomer, `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-pure test-deps verify-page lint typecheck layers pytest fuzz fuzz-atheris soak bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The install compiles the pure core with mypyc where a C compiler works (setup.py), so it is
# redone when a compiled module changes; `kpledger --version` says which build is installed.
CORE   := $(wildcard ledger/core/*.py ledger/core/rules/*.py)

$(STAMP): pyproject.toml setup.py $(CORE) | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/kpledger --version
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/kpledger demo --dir demo-run
	@echo "kpledger is installed in $(VENV): run '. $(VENV)/bin/activate' to put it on your PATH."

test: $(STAMP) test-deps lint typecheck layers pytest

test-deps:
	bash tools/install-test-deps.sh
	cd web && npm ci --no-audit --no-fund --silent

# The buyer's offline verifier page, web/dist/verify.html, and the script the HTML report
# embeds, committed as cli/report/verifier.js (reproducible: same sources, same bytes).
verify-page: test-deps
	node web/build.mjs
	cp web/dist/report-verifier.js cli/report/verifier.js

lint: $(STAMP)
	$(BIN)/ruff check ledger cli tests tools bench
	$(BIN)/ruff format --check ledger cli tests tools bench

typecheck: $(STAMP)
	$(BIN)/mypy

# The layers of ledger/ and cli/ (import-linter contracts in pyproject.toml).
layers: $(STAMP)
	$(BIN)/lint-imports

pytest: $(STAMP)
	$(BIN)/pytest -q

# The same suite against pure Python: KPLEDGER_PURE=1 loads every ledger module from its
# .py source, compiled extensions or not (ledger/_build.py).
test-pure: $(STAMP) test-deps
	KPLEDGER_PURE=1 $(BIN)/pytest -q

# Long fuzz runs (hypothesis; about 10 minutes at 10,000 examples per decoder). Set
# KPLEDGER_FUZZ_EXAMPLES=100000 for the 100k-per-decoder run (about 90 minutes).
FUZZ_EXAMPLES ?= 10000
fuzz: $(STAMP)
	KPLEDGER_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest -q -m slow tests/property tests/reliability -k fuzz

# Coverage-guided fuzzing of the same decoders (atheris is installed for this run only).
fuzz-atheris: $(STAMP)
	$(BIN)/pip install --quiet atheris
	$(BIN)/python tools/fuzz_atheris.py --target all --runs 1000000 -max_total_time=60

soak: $(STAMP)
	$(BIN)/pytest -q -m slow

# Benchmarks against raw ceilings measured in the same run (bench/README.md); pymerkle is
# installed for the Merkle comparison only. `python -m bench.run --scale` adds the 1M-entry runs.
bench: $(STAMP)
	$(BIN)/pip install --quiet pymerkle
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) demo-run .pytest_cache .mypy_cache .ruff_cache build
	rm -f kpledger_core__mypyc.*.so ledger/core/*.so ledger/core/rules/*.so
