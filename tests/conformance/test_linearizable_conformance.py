"""Every linearizability verdict of ``../shared/conformance/expected.tsv``, reproduced.

Each row names a history, its format, the checker and model its authors used, and the
verdict their test suite asserts. The rows this module owns, and how each is checked:

- ``linearizable`` / Porcupine's etcd logs: ``cas-register`` from nil (Porcupine's etcd
  model starts at nil; its ``:fail :cas`` lines are dropped as failed, and its timed-out
  reads become ``info`` reads, which constrain nothing).
- ``linearizable`` / Porcupine's kv logs: ``kv`` per key, and again whole (unpartitioned),
  as Porcupine's own tests check them. Whole, the 50-client logs are beyond a pure
  Python search in reasonable time (Porcupine's suite does not check them whole either);
  they run with a time limit and must give the expected verdict or ``unknown``, never
  the wrong one.
- ``linearizable`` / Knossos's histories: ``cas-register`` from 0, ``multi-register`` from
  ``{"x": 0, "y": 0}``, ``mutex``: the models of Knossos's test suite.
- elle-cli's ``cas-register`` and ``mutex`` rows: elle-cli calls Knossos's
  ``(cas-register)`` with no argument, so from nil. Those files are Knossos's, which
  Knossos checks from 0, and they begin with reads of nil. Both starting values give
  every expected verdict, and both are checked: from nil, nil is a value and those
  reads saw the empty register; from 0, nothing can put nil in the register, so a read
  of nil is a read whose result the client did not get (see `labrys.models._register`).

The data is never copied into the repository; without ``../shared`` the module skips.
"""

import time

import pytest

from labrys.checkers import NOT_GIVEN, CheckOptions, run_checker
from labrys.history import Operation, OpType, read_history
from tests.conformance.corpus import ABSENT, CONFORMANCE, rows

WHOLE_TOO_BIG_S = 5.0
"""The time limit for the kv logs too big to search whole in pure Python."""


def _cases() -> list:
    cases = []
    for row in rows():
        path, fmt, checker, opts = (row["path"], row["format"], row["checker"],
                                    row["model_or_options"])
        expected = {"true": True, "false": False}[row["expected_valid"]]

        def case(model, init=NOT_GIVEN, *, whole=False, timeout_s=None, slow=False,
                 label="", path=path, expected=expected):
            marks = [pytest.mark.slow] if slow else []
            return pytest.param(path, model, init, whole, timeout_s, expected,
                                id=f"{path}[{model}{label}]", marks=marks)

        if checker == "linearizable" and fmt == "porcupine-etcd-log":
            cases.append(case("cas-register"))
        elif checker == "linearizable" and fmt == "porcupine-kv-log":
            big = "c01" not in path
            cases.append(case("kv", slow=big, label=" per key"))
            cases.append(case("kv", whole=True, slow=big, label=" whole",
                              timeout_s=WHOLE_TOO_BIG_S if "c50" in path else None))
        elif checker == "linearizable" and opts == "cas-register init 0":
            cases.append(case("cas-register", 0))
        elif checker == "linearizable" and opts == "multi-register {:x 0 :y 0}":
            cases.append(case("multi-register", {"x": 0, "y": 0}))
        elif checker == "linearizable" and opts == "mutex":
            cases.append(case("mutex"))
        elif checker == "linearizable":
            raise AssertionError(f"expected.tsv has a linearizable row this module does "
                                 f"not know how to check: {row}")
        elif checker == "cas-register":
            cases.append(case("cas-register", label=" from nil"))
            cases.append(case("cas-register", 0, label=" from 0"))
        elif checker == "mutex":
            cases.append(case("mutex"))
    return cases


CASES = _cases()
pytestmark = pytest.mark.skipif(not CASES, reason=ABSENT)


def _may_have_taken_effect(operation: Operation) -> bool:
    """Not failed, and not a read whose result nobody saw."""
    return operation.type is OpType.OK or (
        operation.type is not OpType.FAIL and operation.f not in ("read", "r", "get"))


@pytest.mark.parametrize(("path", "model", "init", "whole", "timeout_s", "expected"), CASES)
def test_verdict_matches_the_authors(path, model, init, whole, timeout_s, expected):
    history = read_history(CONFORMANCE / path)
    options = CheckOptions(model=model, init=init, timeout_s=timeout_s,
                           extra={"partition": not whole})
    started = time.monotonic()
    verdict = run_checker("linearizable", history, options)
    if timeout_s is not None and verdict.valid == "unknown":
        assert verdict.details["stopped"] == "time"
        assert time.monotonic() - started < timeout_s + 5, "the time limit was not kept"
        return
    if expected is True and not any(_may_have_taken_effect(o) for o in history.operations()):
        # Knossos calls a history where nothing took effect (nemesis operations alone,
        # or every client operation failed) valid; labrys says there is nothing to
        # judge (unknown), on purpose: nothing contradicted is not something confirmed.
        assert (verdict.valid, verdict.details.get("nothing_to_judge")) == ("unknown", True)
        return
    assert verdict.valid is expected, verdict.explanation
    if not expected:
        assert verdict.anomalies and verdict.anomalies[0].kind == "nonlinearizable"


def test_the_table_has_every_row_this_module_owns():
    groups = {"porcupine/jepsen/": 0, "porcupine/kv/": 0, "knossos/": 0, "elle-cli/": 0}
    for param in CASES:
        path = param.values[0]
        groups[next(g for g in groups if path.startswith(g))] += 1
    # 102 etcd logs; 6 kv logs twice (per key, whole); 120 cas-register histories plus
    # multi-register and mutex; 8 elle-cli cas-register rows twice (from nil, from 0)
    # and 2 mutex rows.
    assert groups == {"porcupine/jepsen/": 102, "porcupine/kv/": 12, "knossos/": 122,
                      "elle-cli/": 18}
