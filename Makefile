# topicserve: `make run` (local Ray + app + demo data) and `make test` (everything CI runs).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run stop test test-unit test-e2e lint format lock venv clean
.DEFAULT_GOAL := help

help:
	@echo "make run    - local Ray, app deployed from a zip, demo data loaded, URLs printed"
	@echo "make stop   - stop what make run started (its Ray; or only the app, on a Ray it found running)"
	@echo "make test   - lint + unit + end-to-end tests (installs what it needs)"
	@echo "make lint   - ruff check + ruff format --check + mypy"
	@echo "make lock   - recompile requirements.lock (runtime), requirements-slim.lock (torch-free image) and requirements-dev.lock (+ test tools)"

# The venv is (re)built when a lock changes: the dev lock is the runtime lock plus the test tools.
# mk/install-venv.sh installs it with uv from pip's own package sources (INSTALLER=pip: with pip),
# so torch==2.13.0 is the local CPU wheel where one is provided; elsewhere the same pin resolves on
# PyPI.
INSTALLER ?= uv
export INSTALLER PYTHON

# Bytecode: Python compiles a module once and reads its __pycache__/*.pyc on every later start.
# uv installs without .pyc files, and machines that set PYTHONDONTWRITEBYTECODE=1 (this one does, as
# many Docker images do) never write them, so every process start (each Ray worker, Serve replica,
# CLI or test subprocess) compiled ray, torch, transformers and pandas from source again: ~2/3 of a
# `ray.serve` import here, 64 -> 41 s for the preflight tests. The recipes below let Python cache
# bytecode in this project's own venv, lazily (only what is imported; compiling all of the venv at
# install took 85 s). The image compiles at install (pip's default).
unexport PYTHONDONTWRITEBYTECODE
$(STAMP): requirements.lock requirements-dev.lock
	mk/install-venv.sh $(VENV) requirements-dev.lock
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) -m topicserve up

stop: $(STAMP)
	$(PY) -m topicserve down

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m mypy

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test-unit: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) -m pytest tests/unit -q

test-e2e: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) -m pytest tests/e2e -q

# lint + unit tests beside the e2e tests (mk/test-all.sh says why and how); all must pass.
test: $(STAMP)
	mk/test-all.sh $(MAKE) $(PY)

lock:
	rm -rf /tmp/topicserve-lock-venv && $(PYTHON) -m venv /tmp/topicserve-lock-venv
	/tmp/topicserve-lock-venv/bin/pip install -q -r requirements.in
	{ echo "# Compiled from requirements.in by \`make lock\` (pip freeze of a fresh venv on Python 3.11): what the"; \
	  echo "# service needs at run time; the image and the cluster install only this. Test tools: requirements-dev.lock."; \
	  echo "# torch is the CPU wheel here; on GPU machines the same pin resolves to the CUDA build."; \
	  /tmp/topicserve-lock-venv/bin/pip freeze | sed 's/+cpu//' | sort -f; } > requirements.lock
	@# The torch-free image's lock (Dockerfile target cpu-slim): requirements.lock's pins for what pip resolves
	@# requirements.in to without torch, sentence-transformers and onnx (constrained by requirements.lock).
	$(PYTHON) bench/footprint.py slim-lock /tmp/topicserve-lock-venv/bin/pip
	/tmp/topicserve-lock-venv/bin/pip install -q -r requirements-dev.in
	{ echo "# Compiled by \`make lock\`: requirements.lock plus requirements-dev.in (tests, notebooks, browser, lint)."; \
	  echo "# \`make test\` installs this; the image does not."; \
	  /tmp/topicserve-lock-venv/bin/pip freeze | sed 's/+cpu//' | sort -f; } > requirements-dev.lock

clean:
	rm -rf build .pytest_cache .ruff_cache

-include mk/*.mk
