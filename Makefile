# mlci: `make demo` runs the pipeline on the bundled example, `make test` runs every test and lint.
# Both set up what they need (Debian packages, the Python environment with uv, npm tools) and
# are safe to run again: set-up steps are skipped when already done.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ARCH := $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
export JAVA_HOME ?= /usr/lib/jvm/java-17-openjdk-$(ARCH)
export UV_NATIVE_TLS := 1
# Installed packages get their bytecode at install time: with PYTHONDONTWRITEBYTECODE set (as on CI
# machines) Python would otherwise recompile mlflow, pandas and scikit-learn on every start.
export UV_COMPILE_BYTECODE := 1
CACHE := .cache
VENV := python/.venv
MLCI := $(VENV)/bin/mlci
UV_VERSION := 0.13.8
UV := $(shell command -v uv 2>/dev/null || echo $(CACHE)/tools/bin/uv)
APT_PACKAGES := groovy junit4 openjdk-17-jdk-headless python3-venv git ca-certificates \
  apache2-utils docker.io docker-registry prometheus prometheus-pushgateway mmdebstrap haproxy openssh-server nginx \
  chromium
EXAMPLE := examples/churn

.PHONY: help setup setup-python setup-groovy test test-python test-groovy lint docs dist demo demo-services bench clean

help:
	@echo "make demo    run the pipeline (mlci run) on $(EXAMPLE)"
	@echo "make test    set up, then Python tests, Groovy tests and lints"
	@echo "make docs    regenerate vars/*.txt and docs/ from the contracts and the schema"
	@echo "make dist    build the mlci wheel into dist/ (what agents install: docs/getting-started.md)"
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

# Two workers, a test file each at a time (a file's tests share its fixtures and run in order):
# most of the suite waits on containers, Ansible and servers, not on the CPU.
test-python: setup-python
	$(VENV)/bin/python -m pytest -q -n 2 --dist loadfile

test-groovy: setup-groovy setup-python
	MLCI_CLI=$(CURDIR)/$(MLCI) tests/groovy/run.sh --e2e

lint: setup
	$(VENV)/bin/ruff check python/src tests bench $(EXAMPLE)
	$(VENV)/bin/ruff format --check python/src tests bench $(EXAMPLE)
	$(VENV)/bin/mypy --config-file python/pyproject.toml python/src
	$(VENV)/bin/python -m mlci.gendocs --check .
	$(VENV)/bin/ansible-lint -q --profile production ansible/
	npm run --silent lint:groovy

docs: setup-python
	$(VENV)/bin/python -m mlci.gendocs .

# The wheel a site publishes for its agents (an internal index or a file share): its version is
# the library's (resources/io/mlci/version.txt), so bootstrap.sh's `mlci==<version>` finds it.
DIST := dist
dist: setup-python
	@want=$$(cat resources/io/mlci/version.txt); have=$$(sed -n 's/^version = "\(.*\)"/\1/p' python/pyproject.toml); \
	  [ "$$want" = "$$have" ] || { echo "python/pyproject.toml has version $$have, the library pins $$want"; exit 2; }
	rm -f $(DIST)/mlci-*.whl
	$(VENV)/bin/uv build --wheel --quiet --out-dir $(DIST) python
	@ls $(DIST)/mlci-*.whl

# ---------------------------------------------------------------- demo

# MLflow for the demo: a sqlite store in the example (.mlci/mlflow.db, artifacts beside it),
# no server needed. `--yes` approves the approval stages (promote): the demo runs unattended.
demo: export MLFLOW_TRACKING_URI := sqlite:///.mlci/mlflow.db
demo: setup-python demo-services
	cd $(EXAMPLE) && ../../$(VENV)/bin/python make_data.py --rows 5000 --seed 42 --out data/
	cd $(EXAMPLE) && PATH="$(CURDIR)/$(VENV)/bin:$$PATH" mlci run --yes
	@# Monitoring: a drifted "production" sample against the champion's drift reference; exit 1
	@# (drift found) is the expected outcome here, 2 or 3 is not.
	cd $(EXAMPLE) && ../../$(VENV)/bin/python make_production.py --rows 3000 --seed 11 --out data/production/
	cd $(EXAMPLE) && status=0; PATH="$(CURDIR)/$(VENV)/bin:$$PATH" mlci drift || status=$$?; \
	  if [ $$status -eq 1 ]; then echo "demo: drift detected in data/production, as intended (reports/drift/drift.html)"; fi; \
	  [ $$status -le 1 ]
	@# The monitor on the same sample: no Prometheus or Jenkins here, so it says what it would trigger.
	cd $(EXAMPLE) && status=0; env -u JENKINS_URL PATH="$(CURDIR)/$(VENV)/bin:$$PATH" mlci monitor || status=$$?; \
	  [ $$status -le 1 ] && echo "demo: retrain decision in reports/monitor/monitor.json"

# The build stage pushes to a registry on $(REGISTRY) and builds on the air-gapped base image:
# start dockerd and the registry when nothing answers (left running), build the base (cached).
REGISTRY := 127.0.0.1:5000
PING_DOCKER := $(VENV)/bin/python -c 'import docker; docker.from_env().ping()'
PING_REGISTRY := $(VENV)/bin/python -c 'import urllib.request; urllib.request.urlopen("http://$(REGISTRY)/v2/", timeout=2)'
demo-services: setup-python $(CACHE)/apt.stamp
	@$(PING_DOCKER) 2>/dev/null || { echo "starting dockerd"; nohup dockerd >$(CACHE)/dockerd.log 2>&1 & \
	  for i in $$(seq 60); do $(PING_DOCKER) 2>/dev/null && break; sleep 1; done; $(PING_DOCKER); }
	@$(PING_REGISTRY) 2>/dev/null || { echo "starting docker-registry on $(REGISTRY)"; mkdir -p $(CACHE)/registry; \
	  printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n' \
	    "$(CURDIR)/$(CACHE)/registry/storage" "$(REGISTRY)" >$(CACHE)/registry/config.yml; \
	  nohup docker-registry serve $(CACHE)/registry/config.yml >$(CACHE)/registry/registry.log 2>&1 & \
	  for i in $$(seq 30); do $(PING_REGISTRY) 2>/dev/null && break; sleep 0.5; done; $(PING_REGISTRY); }
	$(MLCI) base-image --cache-dir $(CACHE)/base-image

bench: setup-python
	$(VENV)/bin/python bench/startup.py
	$(VENV)/bin/python bench/gate.py
	$(VENV)/bin/python bench/drift.py
	$(VENV)/bin/python bench/serving.py
	$(VENV)/bin/python bench/image.py
	$(VENV)/bin/python bench/monitor.py

clean:
	rm -rf $(CACHE) $(VENV) node_modules $(DIST) $(EXAMPLE)/data $(EXAMPLE)/model $(EXAMPLE)/reports $(EXAMPLE)/.mlci
