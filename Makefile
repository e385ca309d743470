# Everything the project needs is installed here, from PyPI, into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: bootstrap run test lint cassettes clean

bootstrap: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## Run the whole suite against the bundled sandbox and write reports/.
run: bootstrap
	$(BIN)/conformance run --sandbox

## Run the project's own tests.
test: bootstrap
	$(BIN)/python -m pytest

## Re-record the shipped cassettes from the bundled sandbox.
cassettes: bootstrap
	$(BIN)/conformance run --record --sandbox

## Lint and type-check.
lint: bootstrap
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) reports/*.json reports/*.md reports/*.html reports/*.xml
