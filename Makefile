# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.installed-run
STAMP_DEV := $(VENV)/.installed-dev
STAMP_SANDBOX := $(VENV)/.installed-sandbox
STAMP_LOCK := $(VENV)/.installed-lock

.PHONY: run test lint lock typecheck unit bench sandbox clean
.PHONY: messages-extract messages-update messages-init messages-compile messages-check

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
	$(BIN)/hadolint Dockerfile

# The runtime dependencies pinned with their hashes (requirements.lock), and setuptools to
# build the project (requirements-build.lock): what the image installs, file by file, while
# pyproject.toml keeps its lower bounds. Run after changing a dependency; pins already locked
# stay as they are unless `make lock LOCK_ARGS=--upgrade`.
PIP_COMPILE := CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --generate-hashes \
	--allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links $(LOCK_ARGS)

$(STAMP_LOCK): | $(BIN)/python
	$(BIN)/python -m pip install --quiet "pip-tools>=7.4"
	touch $@

lock: $(STAMP_LOCK)
	$(PIP_COMPILE) --output-file requirements.lock pyproject.toml
	$(PIP_COMPILE) --all-build-deps --only-build-deps --output-file requirements-build.lock \
		pyproject.toml

typecheck: $(STAMP_DEV)
	$(BIN)/mypy bot chat handlers storage tests $(wildcard bench)

unit: $(STAMP_DEV)
	$(BIN)/python -m pytest tests/unit -q

# One worker per core, four at most: the suite runs on both storage engines and mostly waits.
test: lint typecheck
	$(BIN)/python -m pytest -q -n auto --maxprocesses 4

bench: $(STAMP_DEV)
	$(BIN)/python -m bench

# --- Languages: the gettext catalogs in locales/ (see "Languages" in the README) ----------
# The bot compiles the .po files itself when it starts; .mo files are never committed.
PYBABEL := $(BIN)/pybabel
MESSAGES_POT := locales/messages.pot

# The messages of the code (bot/, handlers/: babel.cfg) into the template locales/messages.pot.
messages-extract: $(STAMP_DEV)
	$(PYBABEL) extract -F babel.cfg -o $(MESSAGES_POT) --add-comments=Translators: \
		--no-location --project=photo-animator-bot --copyright-holder="photo-animator-bot" .

# Every catalog brought in line with the code: new messages empty, changed ones fuzzy.
messages-update: messages-extract
	$(PYBABEL) update -i $(MESSAGES_POT) -d locales --ignore-obsolete --ignore-pot-creation-date

# A new language: `make messages-init LOCALE=de` makes locales/de/LC_MESSAGES/messages.po.
messages-init: messages-extract
	@test -n "$(LOCALE)" || { echo "usage: make messages-init LOCALE=de"; exit 2; }
	$(PYBABEL) init -i $(MESSAGES_POT) -d locales -l $(LOCALE)

# Compiles each catalog as msgfmt would, with statistics (the .mo files are git-ignored).
messages-compile: $(STAMP_DEV)
	$(PYBABEL) compile -d locales --statistics

# Fails when a catalog misses a message of the code, or has one fuzzy, empty or broken.
messages-check: $(STAMP_DEV)
	$(BIN)/python -m pytest tests/unit/words/test_texts.py -q -k catalog

clean:
	rm -rf $(VENV) build *.egg-info
