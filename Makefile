# The README's two commands: `make plan` (offline plan of a stack) and `make test` (the whole suite).
# Both create and fill the project's virtualenv on first use; nothing else needs installing by hand.

STACK  ?= dev
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: install plan test lint format clean

# The Pulumi program's dependencies only (the same ones `pulumi install` puts in .venv).
$(VENV)/.infra: pyproject.toml requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

# Everything: the program, the workloads and the test toolchain.
# torch first and pinned: it is the CPU wheel, and `.[workloads]` then finds torch satisfied instead
# of resolving its open range to several GB of CUDA wheels.
$(VENV)/.all: $(VENV)/.infra
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[infra,workloads,dev]'
	touch $@

## install: everything the README's local commands need: .venv with the program, the workloads and
## their extras, the test tools and the ml-platform-* console scripts (the CPU torch wheel: README)
install: $(VENV)/.all

## plan: run the stack's real program under Pulumi's mock runtime (no cloud, no CLI); STACK=dev|prod,
## CONFIG=<file> plans another config file (e.g. an edited copy of Pulumi.dev.yaml) as that stack
plan: $(VENV)/.infra
	$(BIN)/python -m stacks.offline.plan --stack $(STACK) $(if $(CONFIG),--config-file $(CONFIG))

## lint: ruff lint and format check
lint: $(VENV)/.all
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## test: lint, then the whole pytest suite; a run that collects no tests is a failure
test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest collected no tests: the suite is missing" >&2; fi; \
	exit $$status

format: $(VENV)/.all
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf build .pytest_cache .ruff_cache
