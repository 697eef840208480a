# make demo: create .venv if missing, install mattebox, matte the sample photos into out/demo/
# make test: same set-up, then the whole test suite
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	@echo "installing mattebox and its dependencies into $(VENV) (a few minutes the first time)"
	$(BIN)/python -m pip install --quiet -e ".[dev]" 2>&1 | { grep -v "^WARNING: Location" || true; }
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/mattebox demo --output out/demo

test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" tests

clean:
	rm -rf out .pytest_cache
