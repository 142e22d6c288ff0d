# Two set-up commands: `make demo` and `make test`. Each creates .venv when missing and
# installs what it needs from PyPI; nothing else must be pre-installed.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: demo test lint bench fuzz clean venv

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "==> installing svcauth and its test/demo dependencies into $(VENV)"
	@$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install --quiet --disable-pip-version-check -e '.[all,test]'
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/mockmart demo

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/mypy src/svcauth

bench: $(STAMP)
	$(PY) bench/verify.py
	$(PY) bench/caller.py

fuzz: $(STAMP)
	$(PY) -m pytest tests/fuzz -p no:cacheprovider --hypothesis-profile=fuzz

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
