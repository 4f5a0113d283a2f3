"""The session workload, and which workloads declare an online check."""

from __future__ import annotations

from labrys.checkers import OnlineCheck
from labrys.workloads import WORKLOADS, HasOnlineCheck
from tests.unit.op_rows import history, inv, ok
from tests.unit.test_new_workloads import drain, workload


def test_sessions_read_and_write_every_value_once_on_a_register_client():
    w = workload("session", key_count=2)
    assert w.client_kind == "register"
    ops = drain(w.generator(), 8, concurrency=2, seed=3)
    writes = [value for f, value in ops if f == "write"]
    assert {f for f, _ in ops} == {"read", "write"}
    assert [v for _, v in writes] == list(range(1, len(writes) + 1))  # unique, in order
    assert all(value[1] is None for f, value in ops if f == "read")
    assert {value[0] for _, value in ops} <= {0, 1}
    assert drain(w.generator(), 8, concurrency=2, seed=3) == ops  # the seed decides


def test_the_session_check_names_a_session_that_missed_its_own_write():
    verdict = workload("session").check(history(
        inv(0, "write", [0, 1]), ok(0, "write", [0, 1]),
        inv(0, "read", [0, None]), ok(0, "read", [0, None])))
    assert verdict.valid is False
    assert [a.kind for a in verdict.anomalies] == ["session"]
    assert "(read-your-writes)" in verdict.anomalies[0].explanation


def test_workloads_whose_verdict_is_prefix_closed_declare_an_online_check():
    declared: dict[str, OnlineCheck | None] = {}
    for name, entry in WORKLOADS.items():
        w = entry.make({n: o.default for n, o in entry.options.items()})
        declared[name] = w.online_check() if isinstance(w, HasOnlineCheck) else None
    online = {name: check.checker for name, check in declared.items() if check is not None}
    assert online == {"register": "linearizable", "list-append": "list-append",
                      "rw-register": "rw-register", "session": "session"}
    # Key by key is cheap, hence on by default; the others re-check a growing prefix.
    assert [name for name, check in declared.items() if check and check.cheap] == ["register"]
    register = declared["register"]
    assert register is not None and register.per_key_ops == 100
    assert register.options.model == "cas-register" and register.options.independent
