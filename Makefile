# Everything a fresh machine needs is installed from here: the Python venv from PyPI,
# Apache Kafka's jars from Maven Central (deploy/local/pom.xml).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
KAFKA_LOCAL := $(BIN)/python deploy/local/kafka-local
S3_LOCAL := $(BIN)/python deploy/local/s3_local.py

.PHONY: help install kafka-jars s3-jars postgres promtool chromium lint typecheck unit integration test demo bench clean

help:
	@echo "make demo   - install, start two local Kafka clusters, replicate sample data with 'mirror run'"
	@echo "make test   - install and run every check and test (what CI runs)"
	@echo "make unit   - pure-logic tests only (no Kafka)"
	@echo "make bench  - replication benchmark: mirror vs Apache MirrorMaker 2 vs a bare confluent-kafka loop"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

kafka-jars: $(STAMP)
	$(KAFKA_LOCAL) classpath > /dev/null

# S3Proxy's jars (Maven Central) for the local S3-compatible server of the backup/restore tests.
s3-jars: $(STAMP)
	$(S3_LOCAL) classpath > /dev/null

# PostgreSQL's server binaries for the store's tests (each test run starts its own private server).
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb > /dev/null 2>&1 || \
		(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql)

# Prometheus' promtool, built with Go from the module proxy, checks deploy/prometheus in the tests.
PROMTOOL := .local/bin/promtool
PROMTOOL_VERSION := v0.316.0
promtool: $(PROMTOOL)
$(PROMTOOL):
	GOBIN=$(CURDIR)/.local/bin go install github.com/prometheus/prometheus/cmd/promtool@$(PROMTOOL_VERSION)

# Debian's Chromium and ChromeDriver, for the dashboard's tests in a real headless browser.
chromium:
	@test -x /usr/bin/chromium || \
		(apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium chromium-driver)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy

unit: install
	$(BIN)/pytest -q tests/unit

integration: install kafka-jars
	$(BIN)/pytest -q tests/integration

test: install kafka-jars s3-jars postgres promtool chromium lint typecheck
	$(BIN)/pytest -q tests

demo: install kafka-jars
	$(BIN)/python deploy/local/demo.py

bench: install kafka-jars
	$(BIN)/python bench/replication.py

clean:
	-$(KAFKA_LOCAL) stop --all
	rm -rf .local
