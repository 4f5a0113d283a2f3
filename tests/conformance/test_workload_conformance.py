"""Jepsen's workload checkers against elle-cli's histories and their known verdicts.

Each row of ``../shared/conformance/expected.tsv`` whose checker is counter, set,
set-full, bank or long-fork names a history elle-cli checks in its own test suite
and the verdict it asserts (its exit code). The checker is looked up by name in the
registry, so these tests also pin the names the command line uses.
"""

from __future__ import annotations

import pytest

from labrys.checkers import CheckOptions, get_checker
from labrys.history import read_history
from tests.conformance.corpus import CONFORMANCE, params_for, require_corpus

CHECKERS = ("counter", "set", "set-full", "bank", "long-fork")

NOTHING_TO_JUDGE = {
    "elle-cli/jepsen/counter.edn": "adds, and not one read of the counter",
    "elle-cli/jepsen/counter.json": "adds, and not one read of the counter",
}
"""Histories elle-cli calls valid in which the checker finds none of the operations it
judges; labrys says unknown there, on purpose: nothing contradicted is not something
confirmed."""


def _options(text: str) -> CheckOptions:
    """CheckOptions from the row's elle-cli style options (``-`` for none)."""
    words = [] if text.strip() == "-" else text.split()
    group_size: int | None = None
    negative_balances = False
    while words:
        flag = words.pop(0)
        if flag == "--group-size":
            group_size = int(words.pop(0))
        elif flag == "--allow-negative-balances":
            negative_balances = True
        else:
            raise ValueError(f"expected.tsv has an option this test does not know: {flag}")
    return CheckOptions(group_size=group_size, negative_balances=negative_balances)


def _rows() -> list[pytest.ParameterSet]:
    return params_for(CHECKERS, lambda r: pytest.param(r, id=r["path"]))


@pytest.mark.parametrize("row", _rows())
def test_elle_cli_verdict(row: dict[str, str]) -> None:
    history = read_history(CONFORMANCE / row["path"])
    check = get_checker(row["checker"]).load()
    verdict = check(history, _options(row["model_or_options"]))
    if row["path"] in NOTHING_TO_JUDGE:
        assert row["expected_valid"] == "true"
        assert (verdict.valid, verdict.details.get("nothing_to_judge")) == ("unknown", True)
        return
    assert verdict.valid is (row["expected_valid"] == "true"), verdict.explanation
    assert bool(verdict.anomalies) is (verdict.valid is False)


def test_every_workload_checker_has_a_row() -> None:
    require_corpus()
    covered = {p.values[0]["checker"] for p in _rows()}
    assert covered == set(CHECKERS)
