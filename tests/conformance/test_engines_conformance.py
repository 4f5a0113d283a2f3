"""The native and SMT engines, and ``--minimize``, on the linearizability corpus.

Every ``linearizable`` row of ``../shared/conformance/expected.tsv`` is checked by the
native core, after the reductions of `labrys.checkers._reduce`, with the models of
``test_linearizable_conformance.py`` (Porcupine's etcd logs: ``cas-register`` from nil;
its kv logs: ``kv`` per key and whole; Knossos's: ``cas-register`` from 0,
``multi-register``, ``mutex``). Whole, the 50-client kv logs are beyond any engine
without partitioning in reasonable time (Porcupine's own suite does not check them
whole); they get a time limit and must give the expected verdict or ``unknown``.

The SMT engine checks the rows without ``append`` (its encoding has no strings) whose
parts have at most `SMT_CI_OPS` operations after reduction: 16 etcd logs and 42 Knossos
histories, about 15 s. Every row up to 200 operations passes too (195 rows: all etcd
logs, all Knossos histories but the few larger ones), in about four minutes; set
``LABRYS_SMT_ALL=1`` to run them.

``--minimize`` runs on a handful of the invalid histories; each result is checked by
the Python engine, independently of the minimiser (see ``tests/unit/test_minimize.py``
for the oracle). ``bench/bench_engines.py --minimize`` runs it on all of them.
"""

import csv
import os
import time
from pathlib import Path

import pytest

from labrys.checkers import NOT_GIVEN, CheckOptions
from labrys.checkers import _native_engine as engine
from labrys.checkers._minimize import minimize
from labrys.checkers._reduce import reduce_parts
from labrys.checkers._smt import search_smt
from labrys.checkers._verdict import worst
from labrys.checkers._wgl import Budget
from labrys.history import read_history
from labrys.models import get_model
from tests.unit.engine_histories import parts_of
from tests.unit.test_minimize import assert_minimal

CONFORMANCE = Path(__file__).resolve().parents[2].parent / "shared" / "conformance"
TABLE = CONFORMANCE / "expected.tsv"

SMT_CI_OPS = 60
"""Largest part the SMT engine checks in the default run (each takes under a second)."""

WHOLE_TOO_BIG_S = 5.0


def _model_of(row: dict) -> tuple[str, object]:
    opts = row["model_or_options"]
    if row["format"] == "porcupine-etcd-log":
        return "cas-register", NOT_GIVEN
    if row["format"] == "porcupine-kv-log":
        return "kv", NOT_GIVEN
    if opts == "cas-register init 0":
        return "cas-register", 0
    if opts == "multi-register {:x 0 :y 0}":
        return "multi-register", {"x": 0, "y": 0}
    if opts == "mutex":
        return "mutex", NOT_GIVEN
    raise AssertionError(f"a linearizable row this module does not know: {row}")


def _rows() -> list[tuple[str, str, object, bool]]:
    if not TABLE.exists():
        return []
    with TABLE.open(encoding="utf-8") as f:
        return [(row["path"], *_model_of(row), row["expected_valid"] == "true")
                for row in csv.DictReader(f, delimiter="\t")
                if row["checker"] == "linearizable"]


ROWS = _rows()
pytestmark = pytest.mark.skipif(not ROWS, reason=f"no conformance data at {TABLE}")
needs_native = pytest.mark.skipif(
    engine.native_module() is None,
    reason="the native core (labrys_native) is not installed: run scripts/build-native.sh")


def _parts(path, model_name, init, *, whole=False):
    model = get_model(model_name, init)
    parts = parts_of(model, read_history(CONFORMANCE / path), split=not whole)
    return reduce_parts(parts, sequential=False)[0]


def _native_cases():
    for path, model, init, expected in ROWS:
        yield pytest.param(path, model, init, False, expected, id=f"{path}[{model}]")
        if model == "kv":
            yield pytest.param(path, model, init, True, expected, id=f"{path}[kv whole]")


@needs_native
@pytest.mark.parametrize(("path", "model", "init", "whole", "expected"), list(_native_cases()))
def test_native_reproduces_the_verdict(path, model, init, whole, expected):
    parts = _parts(path, model, init, whole=whole)
    timeout_s = WHOLE_TOO_BIG_S if whole and "c50" in path else 60
    budget = Budget(deadline=time.monotonic() + timeout_s, memory_bytes=4 << 30)
    outcomes = engine.search_native(parts, sequential=False, budget=budget)
    assert outcomes is not None
    valid = worst(o.valid for o in outcomes)
    if whole and "c50" in path and valid == "unknown":
        return
    assert valid is expected


def _smt_cases():
    for path, model, init, expected in ROWS:
        if model == "kv":
            continue
        yield pytest.param(path, model, init, expected, id=f"{path}[{model}]")


@pytest.mark.parametrize(("path", "model", "init", "expected"), list(_smt_cases()))
def test_smt_reproduces_the_verdict_on_small_histories(path, model, init, expected):
    parts = _parts(path, model, init)
    limit = 200 if os.environ.get("LABRYS_SMT_ALL") else SMT_CI_OPS
    if max(len(p.calls) for p in parts) > limit:
        pytest.skip(f"over {limit} operations after reduction: beyond the SMT engine's "
                    "budget in CI (LABRYS_SMT_ALL=1 raises it to 200)")
    budget = Budget(deadline=time.monotonic() + 120, memory_bytes=1 << 30)
    outcomes = [search_smt(p.model, p.calls, sequential=False, budget=budget) for p in parts]
    assert worst(o.valid for o in outcomes) is expected


MINIMIZE = [
    ("porcupine/jepsen/etcd_000.log", "cas-register", NOT_GIVEN),
    ("porcupine/jepsen/etcd_001.log", "cas-register", NOT_GIVEN),
    ("knossos/cas-register/bad/bad-analysis.edn", "cas-register", 0),
    ("knossos/cas-register/bad/mongodb-v0-ack-rollback-6.edn", "cas-register", 0),
    ("knossos/cas-register/bad/rethink-fail-minimal.edn", "cas-register", 0),
    ("porcupine/kv/c01-bad.txt", "kv", NOT_GIVEN),
]


@pytest.mark.parametrize(("path", "model", "init"), MINIMIZE,
                         ids=[p for p, _, _ in MINIMIZE])
def test_minimize_returns_an_invalid_1_minimal_sub_history(path, model, init):
    history = read_history(CONFORMANCE / path)
    options = CheckOptions(model=model, init=init)
    m = minimize(history, options)
    assert m is not None and m.one_minimal
    assert_minimal(history, m, options)
