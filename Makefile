# The project's commands. The two the README names:
#   make dev    run the whole gateway locally on http://127.0.0.1:3000
#   make test   lint, type-check, test, validate and build: what CI runs (.ci/run)
# And, not part of `make test`:
#   make bench  what the gateway adds (latency, AWS calls, cold start, throughput, sizes, cost),
#               compared with bench/baseline.json (docs/performance.md); BENCH_ARGS=--strict fails
#               on a regression, BENCH_ARGS=--update-baseline records a new baseline
# Everything installs itself into .venv on first use; nothing is installed by hand.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 3000

# SAM must not phone home (no internet here) and needs a region even to validate.
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

# `sam build` for the python3.13 runtime needs python3.13 on PATH; pyenv provides it here.
# (A pyenv shim named python3.13 exists even when 3.13 is not selected, so ask it to run.)
PY313 := $(shell python3.13 --version >/dev/null 2>&1 || pyenv versions --bare 2>/dev/null | grep -m1 '^3\.13')
SAM_ENV := $(if $(PY313),PYENV_VERSION=$(PY313):$(shell pyenv version-name 2>/dev/null),)

.PHONY: dev test proof chromium lint imports typecheck pytest cfn-lint sam-validate sam-build layer lambda-site bench clean

$(STAMP): pyproject.toml constraints.txt tests/dynalite/package-lock.json
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	# dynalite: a stricter local DynamoDB for the store's conformance tests (needs node/npm).
	npm ci --prefix tests/dynalite --no-audit --no-fund --loglevel=error
	touch $(STAMP)

dev: $(STAMP)
	@if [ -n "$${GROQ_API_KEY:-}" ]; then \
		exec $(BIN)/groq-gateway dev --host $(HOST) --port $(PORT) --upstream-url https://api.groq.com --upstream-key "$$GROQ_API_KEY"; \
	else \
		exec $(BIN)/groq-gateway dev --host $(HOST) --port $(PORT) --simulate; \
	fi

test: lint imports typecheck pytest cfn-lint sam-validate sam-build

# The long reliability set: many more generated inputs (PROOF=1), concurrency, faults and
# the SDKs end to end; writes the figures of the run to docs/reliability.md.
proof: $(STAMP)
	PROOF=1 $(BIN)/python -m pytest --reliability-report docs/reliability.md \
		tests/integration/test_concurrency.py tests/integration/test_counter_item_concurrency.py \
		tests/integration/test_faults.py \
		tests/properties tests/conformance tests/e2e

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The import direction between packages (pyproject.toml, [tool.importlinter]).
imports: $(STAMP)
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

# The console's browser tests (tests/browser) need the operating system's Chromium: installed
# here where it is missing and can be (root, apt-get), else a clear message and a failure.
pytest: $(STAMP) chromium
	$(BIN)/python -m pytest

chromium:
	bash tests/browser/ensure_chromium.sh

cfn-lint: $(STAMP)
	$(BIN)/cfn-lint template.yaml

sam-validate: $(STAMP)
	AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing $(BIN)/sam validate --lint --template template.yaml

sam-build: $(STAMP)
	$(SAM_ENV) $(BIN)/sam build --template template.yaml --parallel --cached

# GatewayLayer alone, as sam build makes it, into ARTIFACTS_DIR (tests/unit/test_layer_build.py).
layer:
	$(SAM_ENV) $(MAKE) --no-print-directory -C layers/gateway build-GatewayLayer ARTIFACTS_DIR="$(ARTIFACTS_DIR)"

# What Lambda's python3.13 runtime would see, on this machine, in ARTIFACTS_DIR: the layer
# built for this machine's platform (Lambda's arm64 wheels do not load here) in python/, and
# in runtime/ boto3 at the tested version, which the runtime provides. Then the path of the
# python3.13 to run it with, on the last line. For the layer test and make bench.
lambda-site:
	$(MAKE) --no-print-directory layer ARTIFACTS_DIR="$(ARTIFACTS_DIR)" PLATFORM=--only-binary=:all:
	$(SAM_ENV) python3.13 -m pip install --quiet --disable-pip-version-check \
		--target "$(ARTIFACTS_DIR)/runtime" $$(grep -E '^boto3==' constraints.txt)
	$(SAM_ENV) python3.13 -m compileall -q -j 0 "$(ARTIFACTS_DIR)/runtime"
	@$(SAM_ENV) python3.13 -c 'import sys; print(sys.executable)'

# A few minutes on 2 cores: starts moto's server, the simulator and proxy processes itself, and
# runs `sam build` into a temporary directory (python3.13, as sam-build) for the artefact sizes.
bench: $(STAMP)
	$(SAM_ENV) $(BIN)/python -m bench.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
