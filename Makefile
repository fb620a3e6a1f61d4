# The two commands. Each first runs scripts/setup.sh, which installs into .venv only when it is missing or
# pyproject.toml changed since the last install, and otherwise returns at once.
#   make dataset ARGS="--out build/dataset"      the main job: build_dataset.py with ARGS
#   make test [ARGS="tests/test_cli.py -x"]       the tests: pytest -q with ARGS
#   make tiny-models [DIR=build/tiny]             tiny random-weight models for an offline smoke build

PYTHON := .venv/bin/python
# This checkout's code first, also in the subprocesses the tests start (a linked, shared .venv may hold another's).
export PYTHONPATH := $(CURDIR)$(if $(PYTHONPATH),:$(PYTHONPATH))
DIR ?= build/tiny

.PHONY: dataset test tiny-models venv

venv:
	@bash scripts/setup.sh

dataset: venv
	$(PYTHON) build_dataset.py $(ARGS)

test: venv
	$(PYTHON) -m pytest -q $(ARGS)

tiny-models: venv
	$(PYTHON) -m pokembed.tiny_models $(DIR)
