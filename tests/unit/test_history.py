"""History validation and pairing: the rules every checker relies on."""

import math

import pytest

from labrys.errors import HistoryError
from labrys.history import History, OpType, parse_history


def jsonl(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def test_pairs_invocations_with_completions_and_leaves_open_ones_as_info():
    h = parse_history(jsonl(
        '{"type":"invoke","process":0,"f":"write","value":1,"time":10}',
        '{"type":"invoke","process":1,"f":"read","time":20}',
        '{"type":"ok","process":0,"f":"write","value":1,"time":30}',
    ))
    write, read = h.operations()
    assert (write.index, write.type, write.value, write.return_time) == (0, OpType.OK, 1, 30)
    assert (read.index, read.type, read.return_time) == (1, OpType.INFO, math.inf)
    assert h.completion(h[0]) is h[2]
    assert h.invocation(h[2]) is h[0]


def test_value_of_an_operation_is_the_result_only_when_it_is_ok():
    h = parse_history(jsonl(
        '{"type":"invoke","process":0,"f":"read"}',
        '{"type":"ok","process":0,"f":"read","value":3}',
        '{"type":"invoke","process":1,"f":"write","value":4}',
        '{"type":"info","process":1,"f":"write","value":null}',
    ))
    read, write = h.operations()
    assert read.value == 3
    assert write.value == 4  # a timed-out write still wrote what it was asked, if at all


def test_a_completion_without_invocation_is_malformed_and_says_where():
    with pytest.raises(HistoryError) as e:
        parse_history(jsonl('{"type":"invoke","process":0,"f":"read"}',
                            '{"type":"ok","process":1,"f":"read","value":1}'))
    assert e.value.line == 2 and e.value.op_index == 1
    assert str(e.value) == ("line 2, op 1: ok read by process 1 completes nothing: that process "
                            "has no invocation in flight; add the invocation or drop this line")


def test_two_ops_in_flight_on_one_process_is_malformed():
    with pytest.raises(HistoryError, match="still in flight") as e:
        parse_history(jsonl('{"type":"invoke","process":0,"f":"read"}',
                            '{"type":"invoke","process":0,"f":"write","value":2}'))
    assert e.value.line == 2


def test_a_completion_must_repeat_its_invocations_f():
    with pytest.raises(HistoryError, match="completion says write"):
        parse_history(jsonl('{"type":"invoke","process":0,"f":"read"}',
                            '{"type":"ok","process":0,"f":"write","value":1}'))


def test_an_unknown_type_is_malformed():
    with pytest.raises(HistoryError, match="unknown type 'done'"):
        parse_history(jsonl('{"type":"done","process":0,"f":"read"}'))


def test_jepsen_nemesis_info_pairs_open_and_close_a_fault():
    h = parse_history(jsonl(
        '{"type":"info","process":"nemesis","f":"start","value":null}',
        '{"type":"invoke","process":0,"f":"read"}',
        '{"type":"info","process":"nemesis","f":"start","value":"cut"}',
        '{"type":"ok","process":0,"f":"read","value":null}',
    ))
    assert h.completion(h[0]) is h[2]
    assert [op.index for op in h.operations(clients_only=False)] == [0, 1]
    assert [op.index for op in h.operations()] == [1]


def test_indices_are_positions_and_source_indices_are_kept():
    h = parse_history(jsonl('{"index":7,"type":"invoke","process":0,"f":"read"}',
                            '{"index":9,"type":"ok","process":0,"f":"read","value":1}'))
    assert [op.index for op in h] == [0, 1]
    assert h[1].extra["source_index"] == 9


def test_history_built_from_ops_must_be_numbered_by_position():
    h = parse_history(jsonl('{"type":"invoke","process":0,"f":"read"}'))
    with pytest.raises(HistoryError, match="indices must be"):
        History([h[0], h[0]])


def test_by_process_groups_indices_in_order():
    h = parse_history(jsonl(
        '{"type":"invoke","process":0,"f":"read"}',
        '{"type":"invoke","process":1,"f":"read"}',
        '{"type":"ok","process":0,"f":"read","value":1}',
    ))
    assert dict(h.by_process()) == {0: [0, 2], 1: [1]}
