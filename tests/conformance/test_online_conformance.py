"""The online checks on the conformance corpus: no prefix contradicts its authors' verdict.

Every linearizability row (Porcupine's etcd logs, Knossos's histories, elle-cli's
register and mutex rows; Porcupine's kv logs only where they are small) and every Elle
row, with the model and options its own conformance module uses, is fed op by op to
the online check; `CUTS` evenly spaced prefixes and the whole history are judged. Any
prefix found invalid must belong to a history its authors call invalid; and a history
they call invalid must be found so by the end (the whole history is a prefix of itself).

Skipped without ``../shared/conformance``.
"""

from __future__ import annotations

import pytest

from labrys.checkers import CheckOptions, OnlineCheck, online_check
from labrys.checkers._online import PrefixChecker
from labrys.history import History, read_history
from tests.conformance.corpus import ABSENT, CONFORMANCE
from tests.conformance.test_linearizable_conformance import CASES as LINEAR_CASES
from tests.conformance.test_txn_conformance import _rows, elle_cli_options, elle_options

CUTS = 6
"""Prefixes judged per history, besides the whole."""


def judged_prefixes(check: OnlineCheck, history: History) -> list[tuple[int, bool]]:
    """(prefix length, found invalid) at `CUTS` evenly spaced lengths and at the end."""
    checker = PrefixChecker(check, pace=0.0, min_interval_s=0.0)
    cuts = {max(1, len(history) * i // (CUTS + 1)) for i in range(1, CUTS + 1)}
    out = []
    for op in history:
        checker.feed(op)
        if op.index + 1 in cuts:
            out.append((op.index + 1, checker.check(final=True) is not None))
    found = checker.check(final=True) is not None or any(f for _, f in out)
    out.append((len(history), found))
    return out


def assert_agrees(check: OnlineCheck, history: History, expected: bool, *,
                  decided: bool = True) -> None:
    """No prefix of a valid history found invalid; an invalid one found so by the end,
    unless the search's time limit may leave it undecided (``decided`` False)."""
    judged = judged_prefixes(check, history)
    if expected:
        assert not any(found for _, found in judged), judged
    elif decided and len(history):
        assert judged[-1][1], judged


def _linear_cases() -> list:
    cases = []
    for case in LINEAR_CASES:
        path, model, init, whole, timeout_s, expected = case.values
        if "porcupine/kv/" in path and "c01" not in path:
            continue  # 50 clients: too slow to search seven times over in pure Python
        cases.append(pytest.param(path, model, init, whole, timeout_s, expected, id=case.id,
                                  marks=case.marks))
    return cases or [pytest.param(None, None, None, None, None, None,
                                  marks=pytest.mark.skip(reason=ABSENT))]


@pytest.mark.parametrize(("path", "model", "init", "whole", "timeout_s", "expected"),
                         _linear_cases())
def test_linearizability_online_agrees_with_the_authors(path, model, init, whole, timeout_s,
                                                        expected):
    options = CheckOptions(model=model, init=init, timeout_s=timeout_s,
                           extra={"partition": not whole})
    check = online_check("linearizable", options)
    assert check is not None
    assert_agrees(check, read_history(CONFORMANCE / path), expected,
                  decided=timeout_s is None)


@pytest.mark.parametrize("row", _rows())
def test_elle_online_agrees_with_the_authors(row: dict[str, str]) -> None:
    options = (elle_options(row["model_or_options"]) if row["checker"] == "elle list-append"
               else elle_cli_options(row["model_or_options"]))
    checker = "rw-register" if row["checker"] == "rw-register" else "list-append"
    check = online_check(checker, options)
    assert check is not None
    assert_agrees(check, read_history(CONFORMANCE / row["path"]),
                  row["expected_valid"] == "true")
