# mlci: `make demo` runs the pipeline on the bundled example, `make test` runs every test and lint.
# Both set up what they need (Debian packages, the Python environment with uv, npm tools) and
# are safe to run again: set-up steps are skipped when already done.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ARCH := $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
export JAVA_HOME ?= /usr/lib/jvm/java-17-openjdk-$(ARCH)
export UV_NATIVE_TLS := 1
CACHE := .cache
VENV := python/.venv
MLCI := $(VENV)/bin/mlci
UV_VERSION := 0.13.8
UV := $(shell command -v uv 2>/dev/null || echo $(CACHE)/tools/bin/uv)
APT_PACKAGES := groovy junit4 openjdk-17-jdk-headless python3-venv git ca-certificates \
  docker.io docker-registry prometheus prometheus-pushgateway mmdebstrap
EXAMPLE := examples/churn

.PHONY: help setup setup-python setup-groovy test test-python test-groovy lint docs demo bench clean

help:
	@echo "make demo    run the pipeline (mlci run) on $(EXAMPLE)"
	@echo "make test    set up, then Python tests, Groovy tests and lints"
	@echo "make docs    regenerate vars/*.txt and docs/ from the contracts and the schema"
	@echo "make bench   run the benchmarks in bench/ (not part of make test)"

# ---------------------------------------------------------------- set-up

$(CACHE)/apt.stamp:
	@mkdir -p $(CACHE)
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	command -v npm >/dev/null || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi
	@touch $@

$(CACHE)/tools/bin/uv:
	python3 -m venv $(CACHE)/tools
	$(CACHE)/tools/bin/pip install -q uv==$(UV_VERSION)

$(VENV)/.synced: python/pyproject.toml python/uv.lock | $(UV)
	$(UV) sync --project python --frozen --all-extras --quiet
	@touch $@

node_modules/.installed: package.json package-lock.json
	@node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' \
	  || { echo "npm-groovy-lint 15 needs Node.js >= 20 (found $$(node --version)); install it, then rerun"; exit 2; }
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

setup-python: $(VENV)/.synced
setup-groovy: $(CACHE)/apt.stamp node_modules/.installed
setup: $(CACHE)/apt.stamp setup-python setup-groovy

# ---------------------------------------------------------------- test

test: setup
	@status=0; \
	$(MAKE) --no-print-directory test-python || status=1; \
	$(MAKE) --no-print-directory test-groovy || status=1; \
	$(MAKE) --no-print-directory lint || status=1; \
	if [ $$status -ne 0 ]; then echo "make test: FAILED (see above)"; fi; \
	exit $$status

test-python: setup-python
	$(VENV)/bin/python -m pytest -q

test-groovy: setup-groovy setup-python
	MLCI_CLI=$(CURDIR)/$(MLCI) tests/groovy/run.sh --e2e

lint: setup
	$(VENV)/bin/ruff check python/src tests bench $(EXAMPLE)
	$(VENV)/bin/ruff format --check python/src tests bench $(EXAMPLE)
	$(VENV)/bin/mypy --config-file python/pyproject.toml python/src
	$(VENV)/bin/python -m mlci.gendocs --check .
	npm run --silent lint:groovy

docs: setup-python
	$(VENV)/bin/python -m mlci.gendocs .

# ---------------------------------------------------------------- demo

demo: setup-python
	cd $(EXAMPLE) && ../../$(VENV)/bin/python make_data.py --rows 5000 --seed 42 --out data/
	cd $(EXAMPLE) && PATH="$(CURDIR)/$(VENV)/bin:$$PATH" mlci run

bench: setup-python
	$(VENV)/bin/python bench/startup.py

clean:
	rm -rf $(CACHE) $(VENV) node_modules $(EXAMPLE)/data $(EXAMPLE)/model $(EXAMPLE)/reports
