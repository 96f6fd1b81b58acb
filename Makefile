# One command per job. Every target creates .venv and installs the project on first use,
# so a fresh machine needs only python3 and make. `make help` lists the targets: each is documented by the
# one `## ` line right above it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo

.DEFAULT_GOAL := help
.PHONY: help install demo sandbox dist test test-fast lint typecheck unit schema bench bench-network bench-scale clean

## List the targets, one line each.
help:
	@awk '/^## /{doc = substr($$0, 4); next} /^[a-z-]+:/ && doc {printf "  make %-10s %s\n", substr($$1, 1, length($$1) - 1), doc} {doc = ""}' $(MAKEFILE_LIST)

# The dev venv: the CLI with its `demo` and `infra` extras, and the test and lint tools. It has all the demo
# needs, so it stands for the demo's stamp too.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP) $(DEMO_STAMP)

# The demo's venv: the CLI and its `demo` extra (moto) only, not Pulumi and the dev tools, so a first
# `make demo` installs a fraction of `make install`. pip shows its progress: it is most of a first run.
$(DEMO_STAMP): pyproject.toml
	@echo "Installing ecr-drift and the demo extra (moto) into $(VENV), once: later runs skip this."
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install -e '.[demo]'
	touch $(DEMO_STAMP)

## Create .venv with the project (editable), its extras and the dev tools.
install: $(STAMP)

## The README's first command: the whole loop on an embedded AWS double, no account needed.
demo: $(DEMO_STAMP)
	$(BIN)/ecr-drift demo

## A local ECR endpoint (moto_server plus what moto lacks) for plan/enforce/audit; Ctrl-C stops it.
sandbox: $(DEMO_STAMP)
	$(BIN)/ecr-drift sandbox

## A wheel in dist/, to install elsewhere: pip install dist/ecr_drift_enforcer-*.whl
dist:
	rm -rf dist build  # build/ would carry files removed since into the wheel
	$(PYTHON) -m pip wheel --no-deps --wheel-dir dist .

## The README's second command, and exactly what CI runs (.ci/run): lint, typecheck, unit.
test: lint typecheck unit

## ruff: lint and format check.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## mypy --strict on handler, ecr_drift, infra and bench.
typecheck: $(STAMP)
	$(BIN)/mypy --strict handler ecr_drift infra bench

## pytest, on every core.
unit: $(STAMP)
	$(BIN)/python -m pytest -q -n auto

## pytest without the tests marked slow (processes, end-to-end loops); `make test` runs them too.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -n auto -m "not slow"

## Regenerate desired_state.schema.json after a model change (a test fails while it is stale).
schema: $(STAMP)
	$(BIN)/ecr-drift schema > desired_state.schema.json

## The benchmark (a few minutes; not part of `make test`): rewrites the tables in BENCHMARKS.md.
bench: $(STAMP)
	$(BIN)/python -m bench.run --sizes 100 500 2000 --write BENCHMARKS.md
	$(BIN)/python -m bench.patterns --write BENCHMARKS.md

## Round trip and throttling at N=2000 (about 20 minutes, rate-bound): rewrites its block of BENCHMARKS.md.
bench-network: $(STAMP)
	$(BIN)/python -m bench.network --size 2000 --write BENCHMARKS.md

## 100,000 repositories, modelled from the engine at 10,000 on an in-memory ECR: rewrites its block.
bench-scale: $(STAMP)
	$(BIN)/python -m bench.scale --size 10000 --write BENCHMARKS.md

## Remove .venv, build output and the tools' caches.
clean:
	rm -rf $(VENV) build dist infra/build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
