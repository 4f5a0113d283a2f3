"""The EDN reader on the forms Jepsen writes."""

import pytest

from labrys.errors import HistoryError
from labrys.history._edn import dumps, iter_forms, loads


def test_scalars_keywords_and_collections():
    assert loads('{:type :ok, :f :cas, :value [1 2], :process 3, :time 12N}') == {
        "type": "ok", "f": "cas", "value": [1, 2], "process": 3, "time": 12}
    assert loads("[nil true false -4 2.5 1/2 \"a\\\"b\" #{3 1 2} (1 2)]") == [
        None, True, False, -4, 2.5, 0.5, 'a"b', [1, 2, 3], [1, 2]]


def test_comments_discard_and_tagged_literals():
    text = """; a comment
    #jepsen.history.Op{:index 0 :type :invoke #_ :ignored :f :read}
    #inst "2020-01-01"
    """
    assert [form for _, form in iter_forms(text)] == [
        {"index": 0, "type": "invoke", "f": "read"}, "2020-01-01"]


def test_line_numbers_are_where_each_form_starts():
    assert [line for line, _ in iter_forms("{:a 1}\n\n{:b\n 2}\n")] == [1, 3]


def test_map_with_collection_keys_uses_tuples():
    assert loads("{[1 2] :x}") == {(1, 2): "x"}


@pytest.mark.parametrize("text, message", [
    ("{:a 1", "ends inside"),
    ("{:a}", "odd number"),
    ("[1 2}", "unexpected"),
])
def test_malformed_edn_says_what_and_where(text, message):
    with pytest.raises(HistoryError, match=message):
        list(iter_forms(text))


def test_dumps_round_trips_through_loads():
    value = {"type": "ok", "value": [1, None, "x y", 2.5], "process": 0}
    assert loads(dumps(value)) == value


@pytest.mark.parametrize("text", ["1/0", "[-3/0]", "1" + "0" * 400 + "/3"])
def test_a_ratio_that_is_no_float_is_refused_in_one_line(text):
    # Found by fuzzing: ZeroDivisionError and OverflowError escaped the reader.
    with pytest.raises(HistoryError, match="divides by zero or is too large"):
        loads(text)


def test_a_map_key_that_is_a_map_of_mixed_keys_reads():
    # Found by fuzzing: sorting the inner map's entries compared 1 with "a" (TypeError).
    assert loads("{{1 2, :a 3} 4}") == {frozenset({(1, 2), ("a", 3)}): 4}
