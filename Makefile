# The two set-up commands are `make test` and `make demo`; both begin with `make setup`.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PYTHON ?= python3

.PHONY: setup system test demo bench lint

setup: system $(STAMP)

system:
	@bash scripts/setup-system.sh

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $(STAMP)

test: setup
	$(VENV)/bin/pytest -q

demo: setup
	$(VENV)/bin/labrys check --model cas-register labrys/examples/register-valid.jsonl
	$(VENV)/bin/labrys check --model cas-register labrys/examples/register-stale-read.jsonl \
	  || test $$? -eq 1

bench: setup
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

lint: setup
	$(VENV)/bin/ruff check labrys tests bench
