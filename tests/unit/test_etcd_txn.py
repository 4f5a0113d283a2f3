"""How a transaction of micro-ops becomes etcd's two calls: the read, then the guarded write.

No etcd here: the answers are literal JSON as the gateway gives them (base64 keys and
values, int64 as strings). The calls against a real etcd run in the system tests.
"""

from __future__ import annotations

import base64
import json

from labrys.targets._etcd_clients import Read, TxnPlan


def enc(value) -> str:
    return base64.b64encode(json.dumps(value).encode()).decode()


def key(k) -> str:
    return base64.b64encode(f"p/{k}".encode()).decode()


def range_answer(*kvs) -> dict:
    """A txn answer whose responses are ranges, each kv ``(value, mod_revision)`` or None."""
    return {"succeeded": True, "responses": [
        {"response_range": {} if kv is None else {"kvs": [
            {"value": enc(kv[0]), "mod_revision": str(kv[1])}]}} for kv in kvs]}


def test_an_append_reads_its_key_first_and_writes_once_guarded_on_that_read():
    plan = TxnPlan("list-append", [["r", 1, None], ["append", 1, 5], ["r", 1, None],
                                   ["append", 1, 6], ["r", 2, None]], "p/")
    assert plan.needs_old_value == [1]
    assert plan.read_request() == {"success": [{"request_range": {"key": key(1)}}]}
    old = plan.old_values(range_answer(([3], 7)))
    assert old == {1: Read([3], 7)}
    request, known = plan.write_request(old)
    # One put with both appends (etcd refuses two puts of a key in one txn), then the
    # range of the key the txn only reads.
    assert request == {
        "compare": [{"key": key(1), "target": "MOD", "result": "EQUAL", "mod_revision": "7"}],
        "success": [{"request_put": {"key": key(1), "value": enc([3, 5, 6])}},
                    {"request_range": {"key": key(2)}}]}
    answer = {"succeeded": True, "responses": [
        {"response_put": {}}, {"response_range": {"kvs": [{"value": enc([9]),
                                                           "mod_revision": "4"}]}}]}
    assert plan.completed(known, answer) == [
        ["r", 1, [3]], ["append", 1, 5], ["r", 1, [3, 5]], ["append", 1, 6], ["r", 2, [9]]]


def test_a_missing_key_is_guarded_on_revision_zero_and_reads_as_empty():
    plan = TxnPlan("list-append", [["append", 4, 1], ["r", 8, None]], "p/")
    old = plan.old_values(range_answer(None))
    assert old == {4: Read(None, 0)}
    request, known = plan.write_request(old)
    assert request["compare"][0]["mod_revision"] == "0"
    assert plan.completed(known, range_answer(None, None)) == [["append", 4, 1], ["r", 8, []]]


def test_a_blind_register_write_needs_no_read_and_a_read_after_it_sees_it():
    plan = TxnPlan("rw-register", [["w", 1, 5], ["r", 1, None]], "p/")
    assert plan.needs_old_value == []
    request, known = plan.write_request({})
    assert request == {"compare": [], "success": [
        {"request_put": {"key": key(1), "value": enc(5)}}]}
    assert plan.completed(known, {"succeeded": True, "responses": [{}]}) == [
        ["w", 1, 5], ["r", 1, 5]]


def test_a_register_read_before_its_write_is_the_guarded_old_value():
    plan = TxnPlan("rw-register", [["r", 1, None], ["w", 1, 5]], "p/")
    assert plan.needs_old_value == [1]
    old = plan.old_values(range_answer((2, 11)))
    request, known = plan.write_request(old)
    assert request["compare"][0]["mod_revision"] == "11"
    assert plan.completed(known, {"responses": [{}]}) == [["r", 1, 2], ["w", 1, 5]]


def test_a_transaction_that_only_reads_writes_nothing():
    plan = TxnPlan("rw-register", [["r", 1, None], ["r", 2, None], ["r", 1, None]], "p/")
    assert plan.written == [] and plan.needs_old_value == []
    assert plan.completed([None] * 3, range_answer((4, 3), None)) == [
        ["r", 1, 4], ["r", 2, None], ["r", 1, 4]]
