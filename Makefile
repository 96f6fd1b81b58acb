# One command per job. Every target creates .venv and installs the project on first use,
# so a fresh machine needs only python3 and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install demo test lint typecheck unit schema clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## The README's first command: the product on the example desired state, no AWS account needed.
demo: $(STAMP)
	$(BIN)/ecr-drift demo

## The README's second command, and exactly what CI runs (.ci/run).
test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy --strict handler infra bench

unit: $(STAMP)
	$(BIN)/python -m pytest -q -n auto

## Regenerate desired_state.schema.json after a model change (a test fails while it is stale).
schema: $(STAMP)
	$(BIN)/ecr-drift schema > desired_state.schema.json

## The benchmark (a few minutes on 2 cores; not part of `make test`): rewrites the tables in BENCHMARKS.md.
.PHONY: bench
bench: $(STAMP)
	$(BIN)/python -m bench.run --sizes 100 500 2000 --write BENCHMARKS.md

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
