# Everything the project needs is installed here: Python packages into .venv (from PyPI), and for the
# project's own tests only, Stoplight Prism into node_modules (from npm).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONSTRAINTS := constraints.txt
NODE_STAMP := node_modules/.installed

.PHONY: bootstrap node run test test-catalogue lint selftest bench cassettes upgrade mutation mutation-recheck clean

## Set up .venv: Python, pip and venv are all `make run` needs.
bootstrap: $(STAMP)

$(STAMP): pyproject.toml $(CONSTRAINTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c $(CONSTRAINTS) -e '.[dev]'
	touch $(STAMP)

## Refresh constraints.txt with the newest versions pyproject.toml allows (then run make test).
upgrade:
	rm -rf .venv-upgrade
	$(PYTHON) -m venv .venv-upgrade
	.venv-upgrade/bin/python -m pip install --quiet --upgrade pip
	.venv-upgrade/bin/python -m pip install --quiet -e '.[dev]'
	{ head -1 $(CONSTRAINTS); .venv-upgrade/bin/python -m pip freeze --exclude-editable; } > $(CONSTRAINTS).new
	mv $(CONSTRAINTS).new $(CONSTRAINTS)
	rm -rf .venv-upgrade
	rm -f $(STAMP)

## Stoplight Prism, an independent oracle in the project's tests. Without npm the Prism tests skip and say why.
node: $(NODE_STAMP)

$(NODE_STAMP): package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --no-audit --no-fund --loglevel=error && touch $(NODE_STAMP); \
	else \
		echo "npm not found: the Prism oracle tests will be skipped (install Node.js 20 with npm to run them)"; \
	fi

## Run the whole suite against the bundled sandbox and write reports/.
run: bootstrap
	$(BIN)/conformance run --sandbox --create-session

## Run the project's own tests, a test file per core, the longest file first (tests/conftest.py); the tests that
## judge the whole selftest catalogue are make test-catalogue's.
test: bootstrap node
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder -m "not catalogue"

## The tests that judge the whole selftest catalogue (every fault caught, no false alarm); CI runs them after make test.
test-catalogue: bootstrap
	$(BIN)/python -m pytest -m catalogue tests/test_selftest.py

## Prove the gate catches faults: every broken variant must fail, every conformant one pass.
selftest: bootstrap
	$(BIN)/conformance selftest

## Measure speed against Schemathesis' own CLI; writes reports/bench.md (untracked).
## BENCH_OUTPUT=bench/results.md updates the tracked measurement the README quotes, on purpose.
BENCH_OUTPUT ?= reports/bench.md
bench: bootstrap
	$(BIN)/python bench/run.py --output $(BENCH_OUTPUT)

## Mutation testing of the safety-critical modules (not part of make test); writes reports/mutation.md and .json.
## MODULES="conformance/redaction.py conformance/hosts.py" runs only those rows of the table in mutation/targets.py.
mutation: bootstrap
	$(BIN)/python mutation/run.py $(if $(MODULES),--modules $(MODULES))

## Run only the survivors of the last measurement again, against the tests as they are now (MODULES= as above).
mutation-recheck: bootstrap
	$(BIN)/python mutation/run.py recheck $(if $(MODULES),--modules $(MODULES))

## Re-record the shipped cassettes from the bundled sandbox.
cassettes: bootstrap
	$(BIN)/conformance run --record --sandbox

## Lint and type-check.
lint: bootstrap
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) node_modules
	find reports -maxdepth 1 -type f \( -name '*.json' -o -name '*.md' -o -name '*.html' -o -name '*.xml' \) ! -name 'mutation.*' -delete
