# Two set-up commands: `make demo` and `make test`. Each creates .venv when missing and
# installs what it needs from PyPI; nothing else must be pre-installed.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: demo test lint bench bench-load bench-broker bench-checkout soak fuzz clean venv up up-otel up-otel-keycloak

# The installer: uv from PyPI, once per machine into a cache (a warm install of '.[all,test]'
# takes ~4 s with it against ~40 s with pip; docs/decisions.md). pip's find-links are kept.
UV_VERSION ?= 0.13.9
UV_HOME ?= $(HOME)/.cache/svcauth/uv-$(UV_VERSION)
UV := $(UV_HOME)/bin/uv
UV_FLAGS := --quiet $(if $(PIP_FIND_LINKS),--find-links $(PIP_FIND_LINKS))

$(UV):
	@echo "==> installing the installer (uv $(UV_VERSION) from PyPI) into $(UV_HOME)"
	@mkdir -p $(dir $(UV_HOME))
	@flock $(UV_HOME).lock sh -c 'test -x $(UV) || { $(PYTHON) -m venv $(UV_HOME) \
	  && $(UV_HOME)/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION); }'

$(STAMP): pyproject.toml mockmart/pyproject.toml | $(UV)
	@test -x $(PY) || $(UV) venv --quiet --seed --python $(PYTHON) $(VENV)
	@echo "==> installing svcauth (all extras, test tools) and mockmart (./mockmart) into $(VENV)"
	@$(UV) pip install $(UV_FLAGS) --python $(PY) -e '.[all,test]' -e ./mockmart
	@touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/mockmart demo

# MockMart until Ctrl-C; -otel adds Zipkin (the tracing UI) and sends every span there.
up: $(STAMP)
	$(VENV)/bin/mockmart up
up-otel: $(STAMP)
	$(VENV)/bin/mockmart up --otel
up-otel-keycloak: $(STAMP)
	$(VENV)/bin/mockmart up --otel --idp keycloak

test: $(STAMP)
	@scripts/rabbitmq install || echo "rabbitmq-server unavailable: the broker tests skip (and fail with CI=true)"
	@scripts/apt-ensure chromium:chromium npm:npm
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check src mockmart/src tests bench
	$(VENV)/bin/mypy src/svcauth

bench: $(STAMP)
	$(PY) bench/verify.py
	$(PY) bench/caller.py
	$(PY) bench/telemetry.py
	$(PY) bench/integration_aiohttp.py
	$(PY) bench/integration_django.py
	$(PY) bench/integration_grpc.py

FUZZ_SECONDS ?= 60
fuzz: $(STAMP)
	@$(PY) -c "import atheris" 2>/dev/null || $(UV) pip install $(UV_FLAGS) --python $(PY) atheris
	$(PY) tests/fuzz/run_atheris.py all --seconds $(FUZZ_SECONDS)
	$(PY) -m pytest tests/fuzz -p no:cacheprovider --hypothesis-profile=fuzz
	$(PY) -m pytest tests/security/test_fuzz.py -p no:cacheprovider --hypothesis-profile=fuzz --timeout=1800

BENCH_LOAD_ARGS ?=
bench-load: $(STAMP)
	@command -v wrk >/dev/null || apt-get install -y wrk >/dev/null 2>&1 \
	  || { apt-get update >/dev/null 2>&1 && apt-get install -y wrk >/dev/null 2>&1; } \
	  || echo "wrk not installable here: bench/load.py uses its httpx load loop"
	$(PY) bench/load.py $(BENCH_LOAD_ARGS)

bench-broker: $(STAMP)
	@scripts/rabbitmq install
	$(PY) bench/broker.py

bench-checkout: $(STAMP)
	$(PY) bench/checkout.py

soak: $(STAMP)
	SVCAUTH_SOAK=1 $(PY) -m pytest tests/faults -p no:cacheprovider $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
