# herkomst: two commands for a fresh machine: `make demo` and `make test`.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
OUT ?= out/demo
SEED ?= 20231231

.PHONY: demo test lint unit install clean bench bench-national lock

# The enclave's sandbox (herkomst enclave run) needs bubblewrap; installed as root when missing.
BWRAP_STEP = command -v bwrap >/dev/null 2>&1 || { \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get install -y -q bubblewrap >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q bubblewrap >/dev/null; } \
		|| echo "warning: could not install bubblewrap; herkomst enclave run needs it"; \
	else echo "warning: bubblewrap (bwrap) is missing; herkomst enclave run needs it: sudo apt-get install -y bubblewrap"; fi; }

$(STAMP): requirements.lock requirements-oracles.lock pyproject.toml
	@command -v $(PY) >/dev/null 2>&1 || { echo "error: $(PY) not found (herkomst needs Python 3.11)"; exit 2; }
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-oracles.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@$(BWRAP_STEP)
	@touch $(STAMP)

install: $(STAMP)
	@$(BWRAP_STEP)

demo: $(STAMP)
	$(BIN)/herkomst demo --out $(OUT) --seed $(SEED)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q -n auto --dist worksteal -m "not slow"

# The tests run in one process per core (pytest-xdist); an idle process takes work from a
# busy one, so the long property tests do not hold the others back (9.2 -> 5.4 min on 2 cores).
test: lint $(STAMP)
	$(BIN)/pytest -q -n auto --dist worksteal

# Benchmarks at Flemish scale; `make bench-national` adds the 12-million-person runs (slow).
bench: $(STAMP)
	$(BIN)/python bench/bench_synth.py --scale flanders
	$(BIN)/python bench/bench_validate.py --scale flanders
	$(BIN)/python bench/bench_origin.py --scale flanders
	$(BIN)/python bench/bench_tables.py
	$(BIN)/python bench/bench_enclave.py

bench-national: $(STAMP)
	$(BIN)/python bench/bench_synth.py --scale belgium
	$(BIN)/python bench/bench_validate.py --scale belgium
	$(BIN)/python bench/bench_origin.py --scale belgium

# Re-pin every dependency after changing pyproject.toml (run by a developer, not by CI).
lock:
	rm -rf .lockenv && $(PY) -m venv .lockenv
	.lockenv/bin/pip install --quiet "setuptools==80.9.0"
	.lockenv/bin/pip install --quiet -e ".[dev]"
	.lockenv/bin/pip freeze --all --exclude-editable --exclude herkomst --exclude pip | sort > requirements.lock
	rm -rf .lockenv

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
