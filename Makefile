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

test: $(TEST_STAMP) chromium
	$(BIN)/python -m pytest

# The browser tests drive Debian's chromium headless: installed when missing and we may (root, apt-get),
# else one line saying what to install.
CHROMIUM ?= /usr/bin/chromium
APT_GET ?= apt-get
.PHONY: chromium
chromium:
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v "$(APT_GET)" >/dev/null 2>&1; then \
	  echo "make test: installing Debian's chromium for the browser tests ($(APT_GET) install -y chromium)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  "$(APT_GET)" update -qq && "$(APT_GET)" install -y -qq chromium >/dev/null || exit 1; \
	else \
	  echo "make test: the browser tests need Debian's chromium at $(CHROMIUM): run 'sudo apt-get install -y chromium'"; \
	  exit 1; \
	fi

# The contributors' gate (CI runs it too): lint, formatting and types.
check: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

lint: check

clean:
	rm -rf _build .pytest_cache
