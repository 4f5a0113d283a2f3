# The two set-up commands are `make test` and `make demo`; both begin with `make setup`.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PYTHON ?= python3

.PHONY: setup system node-packages native cassandra junit-xsd test demo bench bench-full lint fuzz

setup: system $(STAMP) node-packages native cassandra junit-xsd

system:
	@bash scripts/setup-system.sh

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $(STAMP)

# What the targets need on their nodes, declared once in each target (TargetEntry.packages):
# this machine's namespaces are the local runtime's nodes.
node-packages: $(STAMP)
	@bash scripts/setup-system.sh $$($(PY) -c 'import labrys.targets as t; print(*t.node_packages())')

# The optional Rust search core; skipped with one line when there is no cargo.
native: $(STAMP)
	@bash scripts/build-native.sh

# Cassandra's server jars, from Maven Central into ~/.cache/labrys (once per version).
cassandra: system
	@bash scripts/fetch-cassandra.sh

# The JUnit XML schema the suite tests validate `labrys suite --junit` output against.
junit-xsd: $(STAMP)
	@bash scripts/fetch-junit-xsd.sh

test: setup
	$(VENV)/bin/pytest -q

# The default run: etcd on 3 local nodes, the register workload, partitions and kills
# every 10 s, 60 s, 10 clients. Needs root (network namespaces).
demo: setup
	$(VENV)/bin/labrys run

# What a person runs while waiting: every benchmark, a few minutes in all. bench-full
# adds the engine benchmark's long rows (smt on every etcd log, 1M ops, 20-100
# processes), Porcupine on the rows where it runs out of memory (with
# LABRYS_PORCUPINE set, see bench/bench_end_to_end.py) and longer lazy-disk runs:
# about twenty-five minutes more.
bench: setup
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

bench-full: setup
	@for b in bench/bench_*.py; do \
		case $$b in *bench_engines.py|*bench_end_to_end.py|*bench_lazyfs.py) full=--full;; *) full=;; esac; \
		echo "== $$b $$full"; $(PY) $$b $$full || exit 1; done

# Every reader of user files (histories, specs) fuzzed for FUZZ_SECONDS, 30 minutes by
# default; `make test` runs a few seconds of the same (tests/fuzz/run.py says more).
FUZZ_SECONDS ?= 1800
fuzz: setup
	$(PY) -m tests.fuzz.run --seconds $(FUZZ_SECONDS)

lint: setup
	$(VENV)/bin/ruff check labrys tests bench
