# The README's two commands are `make demo` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck layers pytest bench mutate mutation-report fmt lock help-text clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## demo: run the seed scenario on the embedded defaults, in a scratch clone
demo: $(STAMP)
	$(BIN)/reconciler demo

## test: lint, type-check, check the import layers, then run the test suite
test: lint typecheck layers pytest

lint: $(STAMP)
	$(BIN)/ruff check reconciler tests benchmarks
	$(BIN)/ruff format --check reconciler tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

layers: $(STAMP)
	$(BIN)/lint-imports

pytest: $(STAMP)
	$(BIN)/pytest -q -n auto

## bench: the benchmarks, printed as one table (not part of `make test`)
bench: $(STAMP)
	$(BIN)/python -m benchmarks

## mutate: mutation testing of the safety logic (not part of `make test`); MODULES picks some of
## the modules in [tool.mutmut] only_mutate, e.g. make mutate MODULES="reconciler/core/decide/decision.py";
## JOBS=1 runs one test run at a time (the default is one per core)
mutate: $(STAMP)
	$(BIN)/python -m tests.mutation run $(if $(JOBS),--jobs $(JOBS)) $(MODULES)

## mutation-report: the table and the surviving mutants of the last `make mutate`
mutation-report: $(STAMP)
	$(BIN)/python -m tests.mutation report $(MODULES)

## lock: the hash-checked locks the Action installs from: the installer (uv), then the runtime
## dependencies and the build backend; run it after changing [project] dependencies, then commit the lock
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml requirements/build.in --universal --python-version 3.11 \
		--generate-hashes --custom-compile-command "make lock" --quiet -o requirements/runtime.txt
	$(BIN)/uv pip compile requirements/installer.in --universal --python-version 3.11 \
		--generate-hashes --custom-compile-command "make lock" --quiet -o requirements/installer.txt

## help-text: write reconciler/help_text.py again from click's rendering of `reconciler --help`,
## which the console script prints without importing click; run it after changing the top-level
## options or a command's summary (tests/cli/test_entry.py says when)
help-text: $(STAMP)
	$(BIN)/python -m tests.cli.render_help

fmt: $(STAMP)
	$(BIN)/ruff format reconciler tests benchmarks
	$(BIN)/ruff check --fix reconciler tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis build *.egg-info mutants
