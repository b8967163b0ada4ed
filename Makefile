# Two entry points: `make demo` (set up + run the main job) and `make test` (set up + all checks).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip

.PHONY: demo test lint typecheck pytest validate clean taxonomy

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.dev-installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) install -q -c constraints.txt -e '.[dev]'
	touch $@

demo: $(VENV)/.dev-installed
	$(BIN)/llmsiem demo

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check src tests bench playbooks
	$(BIN)/ruff format --check src tests bench playbooks

typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy

pytest: $(VENV)/.dev-installed
	$(BIN)/python -m pytest

validate: $(VENV)/.dev-installed
	$(BIN)/llmsiem validate

test: lint typecheck validate pytest

# Regenerate the offline MITRE ATLAS catalogue from the published data in ../shared.
taxonomy: $(VENV)/.dev-installed
	$(BIN)/python -m llmsiem.atlas_data ../shared/mitre/ATLAS.yaml mappings/taxonomy/atlas.yaml

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
