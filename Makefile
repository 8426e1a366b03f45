# Herald: the two commands are `make run` and `make test`; everything they need is set up here.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | md5sum | cut -c1-12)
PYTEST_ARGS ?=

.PHONY: run test install lint typecheck check-services bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Herald needs Python 3.11; set PYTHON=/path/to/python3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@rm -f $(VENV)/.installed-*; touch $@

install: $(STAMP)

## run: set up and start Herald on the embedded default (SQLite, in-process queue, local shell, dry-run)
run: install
	$(BIN)/herald db upgrade
	$(BIN)/herald run

## test: set up, check services, lint, type-check, run the whole suite (the suite starts its own Redis Cluster)
test: install check-services lint typecheck
	$(BIN)/python -m pytest $(PYTEST_ARGS)

check-services: install
	@$(BIN)/python -m tests.infra.check

lint: install
	$(BIN)/ruff check bot handlers tasks models tests $(wildcard bench)

typecheck: install
	$(BIN)/mypy

bench: install
	$(BIN)/python bench/punctuality.py
	$(BIN)/python bench/burst.py
	$(BIN)/python bench/slack_ack.py
	$(BIN)/python bench/steady.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
