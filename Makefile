# Everything the project needs is installed here, from PyPI, into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: bootstrap run test lint selftest bench cassettes clean

bootstrap: $(STAMP) $(NODE_STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Stoplight Prism, an independent oracle in the project's tests, from the npm registry.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

## Run the whole suite against the bundled sandbox and write reports/.
run: bootstrap
	$(BIN)/conformance run --sandbox

## Run the project's own tests, a test file per core.
test: bootstrap
	$(BIN)/python -m pytest -n 2 --dist loadfile

## Prove the gate catches faults: every broken variant must fail, every conformant one pass.
selftest: bootstrap
	$(BIN)/conformance selftest

## Measure speed against Schemathesis' own CLI; writes bench/results.md.
bench: bootstrap
	$(BIN)/python bench/run.py

## Re-record the shipped cassettes from the bundled sandbox.
cassettes: bootstrap
	$(BIN)/conformance run --record --sandbox

## Lint and type-check.
lint: bootstrap
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) node_modules reports/*.json reports/*.md reports/*.html reports/*.xml
