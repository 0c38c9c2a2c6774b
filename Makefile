# The two commands of the README: `make docs` and `make test`.
# Each creates .venv on first use and installs what it needs from pyproject.toml.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
DOCS_STAMP := $(VENV)/.docs-installed
TEST_STAMP := $(VENV)/.test-installed

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# The docs run every guide: the compiler guide builds TensorRT engines, the quantization guide calibrates
# GPT-2 with ModelOpt (PyTorch on the CPU).
$(DOCS_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[docs,tensorrt,examples]'
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[docs,test,browser,tensorrt,examples]'
	touch $@

.PHONY: docs test check lint clean
docs: $(DOCS_STAMP)
	$(BIN)/sphinx-build -W --keep-going -b html . _build/html

test: $(TEST_STAMP)
	$(BIN)/python -m pytest

# The contributors' gate (CI runs it too): lint, formatting and types.
check: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

lint: check

clean:
	rm -rf _build .pytest_cache
