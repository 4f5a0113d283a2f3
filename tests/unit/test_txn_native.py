"""The native clean-history fast path of list-append never changes a verdict.

The core may only say "nothing to report" (`labrys.checkers._txn_native`); the checker
then writes the valid verdict itself. So on every history, the verdict with the fast
path must equal the verdict without it, word for word: random histories simulated
against a serializable store (valid), then corrupted in each of the ways Elle names
(garbage, aborted and intermediate reads, duplicates, incompatible orders, internal and
future reads, lost updates, and reorderings that make cycles), checked under models
with and without realtime and process order.
"""

import random

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from labrys._native import native_module
from labrys.checkers import CheckOptions, _txn, run_checker
from labrys.errors import HistoryError
from labrys.history import History, Op, OpType

pytestmark = pytest.mark.skipif(
    native_module() is None,
    reason="the native core (labrys_native) is not installed: run scripts/build-native.sh")

MODELS = [("strict-serializable",), ("serializable",), ("strong-session-serializable",),
          ("read-committed",)]


def simulate(rng: random.Random, txns: int, clients: int, *, fail: float) -> list[list]:
    """Records (process, type, value) of a serializable list-append run on 4 keys."""
    store: dict[int, list[int]] = {}
    serial = 0
    records: list[list] = []
    pending: dict[int, list] = {}
    applied: dict[int, tuple[str, list]] = {}
    invoked = 0
    while invoked < txns or pending or applied:
        p = rng.randrange(clients)
        if p in applied:
            kind, value = applied.pop(p)
            records.append([p, kind, value])
        elif p in pending:
            mops = pending.pop(p)
            if rng.random() < fail:
                applied[p] = ("fail", mops)
                continue
            done = []
            for f, k, v in mops:
                if f == "append":
                    store.setdefault(k, []).append(v)
                    done.append([f, k, v])
                else:
                    done.append([f, k, list(store.get(k, ()))])
            applied[p] = ("ok", done)
        elif invoked < txns:
            mops = []
            for _ in range(rng.randint(1, 4)):
                k = rng.randrange(4)
                if rng.random() < 0.5:
                    mops.append(["r", k, None])
                else:
                    serial += 1
                    mops.append(["append", k, serial])
            pending[p] = mops
            invoked += 1
            records.append([p, "invoke", mops])
    return records


def corrupt(rng: random.Random, records: list[list]) -> None:
    """One of Elle's anomalies, planted in a completed read or in the record order."""
    oks = [r for r in records if r[1] == "ok" and any(m[0] == "r" for m in r[2])]
    how = rng.choice(["garbage", "drop", "duplicate", "swap", "stale", "order", "none"])
    if how == "order" and len(records) > 2:
        i = rng.randrange(len(records) - 1)
        records[i], records[i + 1] = records[i + 1], records[i]
        return
    if not oks or how == "none":
        return
    read = rng.choice([m for m in rng.choice(oks)[2] if m[0] == "r"])
    v = read[2]
    if how == "garbage":
        v.append(10**6)
    elif how == "drop" and v:
        v.pop(rng.randrange(len(v)))
    elif how == "duplicate" and v:
        v.append(v[0])
    elif how == "swap" and len(v) > 1:
        v[0], v[1] = v[1], v[0]
    elif how == "stale" and v:
        del v[rng.randrange(len(v)):]


def history(records: list[list]) -> History:
    open_value: dict[int, list] = {}
    ops = []
    for p, kind, value in records:
        if kind == "invoke":
            if p in open_value:
                continue
            open_value[p] = value
        elif p not in open_value:
            continue
        else:
            del open_value[p]
        ops.append(Op(index=len(ops), time=len(ops), type=OpType(kind), process=p, f="txn",
                      value=value))
    return History(ops)


def verdicts(h: History, models: tuple[str, ...], monkeypatch) -> tuple[dict, dict, bool]:
    """The verdict (as JSON) with the fast path and without it, or the error each gave (a
    corruption can make a value appended twice, which the checker refuses), and whether
    the fast path decided."""
    options = CheckOptions(consistency_models=models)
    engaged = []
    real = _txn.clean_list_append

    def spy(history, order):
        out = real(history, order)
        engaged.append(out is not None)
        return out

    def outcome() -> dict:
        try:
            return run_checker("list-append", h, options).to_json()
        except HistoryError as e:
            return {"error": str(e)}

    monkeypatch.setattr(_txn, "clean_list_append", spy)
    fast = outcome()
    monkeypatch.setattr(_txn, "clean_list_append", lambda history, order: None)
    slow = outcome()
    monkeypatch.setattr(_txn, "clean_list_append", real)
    return fast, slow, engaged == [True]


@example(seed=668, models=("strict-serializable",), fail=0.2, corruptions=2)  # refused
@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), models=st.sampled_from(MODELS),
       fail=st.sampled_from([0.0, 0.2]), corruptions=st.integers(0, 2))
def test_the_fast_path_never_changes_a_verdict(seed, models, fail, corruptions):
    with pytest.MonkeyPatch.context() as monkeypatch:
        rng = random.Random(seed)
        records = simulate(rng, rng.randint(1, 30), rng.randint(1, 5), fail=fail)
        for _ in range(corruptions):
            corrupt(rng, records)
        fast, slow, engaged = verdicts(history(records), models, monkeypatch)
        assert fast == slow
        assert not (engaged and "error" in fast)


def test_a_valid_history_is_decided_by_the_fast_path(monkeypatch):
    rng = random.Random(7)
    h = history(simulate(rng, 300, 5, fail=0.0))
    fast, slow, engaged = verdicts(h, ("strict-serializable",), monkeypatch)
    assert engaged and fast == slow and fast["valid"] is True
