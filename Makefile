# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev
STAMP_SANDBOX := $(VENV)/.installed-sandbox

.PHONY: run test lint typecheck unit bench sandbox clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@ $(STAMP_RUN)

$(STAMP_SANDBOX): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[sandbox]"
	touch $@ $(STAMP_RUN)

run: $(STAMP_RUN)
	$(BIN)/python -m bot

# A local stand-in of the AI/ML API on 127.0.0.1:8787: no credits spent. Options, e.g.
# `make sandbox SANDBOX_ARGS="--fail-every 3"`, are listed by `python -m bot.sandbox --help`.
sandbox: $(STAMP_SANDBOX)
	$(BIN)/python -m bot.sandbox $(SANDBOX_ARGS)

lint: $(STAMP_DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP_DEV)
	$(BIN)/mypy bot handlers storage tests $(wildcard bench)

unit: $(STAMP_DEV)
	$(BIN)/python -m pytest tests/unit -q

test: lint typecheck
	$(BIN)/python -m pytest -q

bench: $(STAMP_DEV)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) build *.egg-info
