# Two commands: `make run` and `make test`. Both create/refresh .venv first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DB ?= entrawatch.duckdb
OUT ?= out/sim

.PHONY: run test lint bench clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml setup.py src/entrawatch/readers/_jsonscan.c
	test -d $(VENV) || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m entrawatch.mainjob --db $(DB) --out $(OUT)

test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts

bench: $(STAMP)
	$(BIN)/python benchmarks/ingest.py
	$(BIN)/python benchmarks/kql.py
	$(BIN)/python benchmarks/simulate.py

clean:
	rm -rf $(VENV) out $(DB) .pytest_cache .ruff_cache
