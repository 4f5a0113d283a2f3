"""Models: each one's steps, refusals (with their sentences), preparation and descriptions."""

import pytest

from labrys.checkers import NOT_GIVEN
from labrys.errors import UsageError
from labrys.models import (
    KV,
    MODELS,
    Call,
    CASRegister,
    Counter,
    FIFOQueue,
    Inconsistent,
    Model,
    MultiRegister,
    Mutex,
    Partitionable,
    Register,
    SetModel,
    UnorderedQueue,
    freeze,
    get_model,
    show,
)


def call(f, value=None, *, known=True, index=0, process=0):
    """A call as the checker builds it: values frozen, ok calls closed one index later."""
    return Call(index=index, process=process, f=f, value=freeze(value), known=known,
                return_index=index + 1 if known else None)


def run(model, *calls):
    """Prepare calls, then step through them in order from the initial state: the last
    state, or the first refusal."""
    state = model.init()
    for c in model.prepare(calls):
        state = model.step(state, c)
        if isinstance(state, Inconsistent):
            return state
    return state


def test_every_model_is_registered_under_its_own_name_and_follows_the_protocol():
    assert list(MODELS) == ["register", "cas-register", "kv", "multi-register", "mutex", "set",
                            "fifo-queue", "unordered-queue", "counter"]
    for name, factory in MODELS.items():
        model = factory()
        assert model.name == name
        assert isinstance(model, Model)
    assert [n for n, f in MODELS.items() if isinstance(f(), Partitionable)] == ["kv"]


def test_get_model_uses_the_models_default_initial_value_unless_one_is_given():
    assert get_model("register").init() is None
    assert get_model("cas-register", 0).init() == 0
    assert get_model("kv").init() == ()
    assert get_model("counter").init() == 0
    assert get_model("multi-register", {"x": 0, "y": 1}).init() == (("x", 0), ("y", 1))
    assert get_model("set", [1, 2]).init() == frozenset({1, 2})
    assert get_model("fifo-queue", NOT_GIVEN).init() == ()


def test_get_model_explains_what_is_wrong():
    with pytest.raises(UsageError, match=r"unknown model 'regster'; choose one of: register, "
                                         r"cas-register, kv"):
        get_model("regster")
    with pytest.raises(UsageError, match="this checker needs a model; pass --model"):
        get_model(None)
    with pytest.raises(UsageError, match="the mutex model always starts free"):
        get_model("mutex", False)
    with pytest.raises(UsageError, match=r"starts from a map of keys to values"):
        get_model("multi-register", 0).init()
    with pytest.raises(UsageError, match="the counter model starts from a number"):
        get_model("counter", "zero").init()


def test_inconsistent_writes_its_sentence_only_when_asked_and_shows_values_as_jepsen_does():
    refusal = Inconsistent("read returned {}, but the register held {}", None, "a")
    assert refusal.reason == 'read returned nil, but the register held "a"'
    assert repr(refusal) == "Inconsistent('read returned nil, but the register held \"a\"')"
    assert Inconsistent("no {braces} formatted") == Inconsistent("no {braces} formatted")
    assert [show(v) for v in (None, True, 3, "x", (1, "y"), frozenset({2, 1}))] == [
        "nil", "true", "3", '"x"', '[1 "y"]', "#{1 2}"]


def test_freeze_makes_json_values_hashable_and_compared_by_value():
    assert freeze([1, [2, 3]]) == (1, (2, 3))
    assert freeze({"b": [1], "a": 2}) == (("a", 2), ("b", (1,)))
    assert hash(freeze({"x": [1]})) == hash((("x", (1,)),))


# -- registers ------------------------------------------------------------------------


def test_register_reads_what_was_last_written():
    m = Register()
    assert run(m, call("write", 3), call("read", 3)) == 3
    assert run(m, call("write", [1, 2]), call("read", [1, 2])) == (1, 2)
    assert run(m, call("write", 3), call("read", 4)).reason == (
        "read returned 4, but the register held 3")


def test_cas_register_swaps_only_from_the_expected_value():
    m = CASRegister(initial=0)
    assert run(m, call("cas", [0, 1]), call("read", 1)) == 1
    assert run(m, call("write", 2), call("cas", [0, 1])).reason == (
        "cas expected 0, but the register held 2")


def test_register_preparation_names_functions_and_drops_reads_with_unknown_results():
    m = CASRegister()
    prepared = m.prepare([call("r", 1, index=0), call("w", 2, index=2),
                          call("read", known=False, index=4), call("cas", [1, 2], index=6)])
    assert [(c.f, c.value, c.index) for c in prepared] == [
        ("read", 1, 0), ("write", 2, 2), ("cas", (1, 2), 6)]
    with pytest.raises(UsageError, match=r"op 3: the register model has no operation 'cas' "
                                         r"\(it knows read and write\); use --model "
                                         r"cas-register for cas"):
        Register().prepare([call("cas", [1, 2], index=3)])
    with pytest.raises(UsageError, match=r"op 0: cas with value 5 does not fit the "
                                         r"cas-register model, which expects \[old new\]"):
        m.prepare([call("cas", 5)])


def test_a_nil_read_is_a_value_only_where_the_register_can_hold_nil():
    reads_nil = [call("read", None, index=0), call("write", 1, index=2)]
    # From nil, nil is a value: the read claims the register held it.
    assert len(CASRegister().prepare(reads_nil)) == 2
    # From 0, with nothing ever writing nil, no state could return nil: the client got
    # no value (Knossos's reading), so the read constrains nothing.
    assert [c.f for c in CASRegister(initial=0).prepare(reads_nil)] == ["write"]
    # ... unless something does write nil.
    writes_nil = [*reads_nil, call("cas", [1, None], index=4)]
    assert len(CASRegister(initial=0).prepare(writes_nil)) == 3


def test_register_descriptions():
    m = CASRegister()
    assert [m.describe_op(c) for c in (call("read", 1), call("write", "a"), call("cas", [1, 2]))
            ] == ["read → 1", 'write "a"', "cas 1→2"]
    assert m.describe_state(None) == "nil"


# -- kv ---------------------------------------------------------------------------------


def test_kv_appends_concatenate_and_a_missing_key_reads_as_empty():
    m = KV()
    assert run(m, call("get", ["k", ""]), call("append", ["k", "ab"]), call("append", ["k", "c"]),
               call("get", ["k", "abc"])) == (("k", "abc"),)
    assert run(m, call("put", ["k", "x"]), call("get", ["k", "y"])).reason == (
        'get "k" returned "y", but the key held "x"')


def test_kv_whole_state_is_canonical_so_equal_maps_are_equal_states():
    m = KV()
    one = run(m, call("put", ["b", "1"]), call("put", ["a", "2"]))
    other = run(m, call("put", ["a", "2"]), call("put", ["b", "1"]))
    assert one == other == (("a", "2"), ("b", "1"))
    assert run(m, call("put", ["a", "2"]), call("put", ["a", ""])) == m.init()
    assert m.describe_state(one) == '{"a" = "2", "b" = "1"}'
    assert m.describe_state(m.init()) == 'every key = ""'


def test_kv_partitions_per_key_into_single_key_models():
    m = KV()
    calls = m.prepare([call("put", ["x", "1"], index=0), call("read", ["y", "2"], index=2),
                       call("append", ["x", "2"], index=4),
                       call("get", ["x", None], known=False, index=6)])
    parts = m.partition(calls)
    assert [(p.key, [c.index for c in p.calls]) for p in parts] == [("x", [0, 4]), ("y", [2])]
    x = parts[0].model
    assert run(x, *parts[0].calls) == "12"
    assert x.describe_state("12") == '"x" = "12"'
    assert x.describe_op(parts[0].calls[1]) == 'append "x" "2"'
    assert parts[1].model.describe_op(parts[1].calls[0]) == 'get "y" → "2"'


def test_kv_rejects_values_that_are_not_key_value_pairs_and_appends_to_numbers():
    with pytest.raises(UsageError, match=r"expects \[key value\]"):
        KV().prepare([call("put", "x")])
    with pytest.raises(UsageError, match='append needs string values, but key "k" held 1'):
        run(KV(initial=1), call("append", ["k", "x"]))


# -- multi-register -----------------------------------------------------------------------


def test_multi_register_applies_a_transaction_atomically_and_nil_reads_are_unknown():
    m = MultiRegister(initial={"x": 0, "y": 0})
    txns = m.prepare([call("txn", [["w", "x", 1], ["r", "y", 0]], index=0),
                      call("txn", [["read", "x", None]], index=2),
                      call("txn", [["r", "x", 1], ["write", "y", 2]], index=4)])
    assert [c.value for c in txns] == [(("w", "x", 1), ("r", "y", 0)),
                                       (("r", "x", 1), ("w", "y", 2))]
    assert run(m, *txns) == (("x", 1), ("y", 2))
    refusal = run(m, call("txn", [["r", "x", 5]]))
    assert refusal.reason == 'the transaction read "x" = 5, but "x" held 0'
    assert m.describe_op(txns[1]) == 'txn read "x" → 1, write "y" 2'


def test_multi_register_rejects_anything_but_transactions_of_micro_operations():
    with pytest.raises(UsageError, match="has no operation 'read'"):
        MultiRegister().prepare([call("read", 1)])
    with pytest.raises(UsageError, match=r"micro-operations \[\"r\" key value\]"):
        MultiRegister().prepare([call("txn", [["append", "x", 1]])])


# -- mutex, set, queues, counter ------------------------------------------------------------


def test_mutex_is_held_by_one_acquire_at_a_time():
    m = Mutex()
    assert run(m, call("acquire"), call("release"), call("acquire")) is True
    assert run(m, call("acquire"), call("acquire")).reason == (
        "acquire, but the lock was already held")
    assert run(m, call("release")).reason == "release, but the lock was free"
    assert [c.f for c in m.prepare([call("lock"), call("unlock")])] == ["acquire", "release"]


def test_set_reads_return_every_element_added_exactly_once():
    m = SetModel()
    assert run(m, call("add", 1), call("add", 2), call("read", [2, 1])) == frozenset({1, 2})
    assert run(m, call("add", 1), call("read", [1, 1])).reason == (
        "the read returned #{1}, but the set held #{1}: it returned an element twice")
    assert run(m, call("add", 1), call("read", [2])).reason == (
        "the read returned #{2}, but the set held #{1}: it missed #{1}; it returned #{2}, "
        "never added by then")
    assert m.prepare([call("read", None, known=False)]) == []


def test_fifo_queue_hands_out_the_oldest_element():
    m = FIFOQueue()
    assert run(m, call("enqueue", 1), call("enqueue", 2), call("dequeue", 1)) == (2,)
    assert run(m, call("enqueue", 1), call("enqueue", 2), call("dequeue", 2)).reason == (
        "dequeue returned 2, but the head of the queue was 1")
    assert run(m, call("dequeue", 1)).reason == "dequeue returned 1, but the queue was empty"
    assert run(m, call("dequeue", None)) == ()
    # A crashed dequeue that took effect took the head, whatever it was.
    assert run(m, call("enqueue", 1), call("enqueue", 2), call("dequeue", None, known=False)
               ) == (2,)


def test_unordered_queue_tracks_what_a_crashed_dequeue_may_have_taken():
    m = UnorderedQueue()
    assert run(m, call("enqueue", 1), call("enqueue", 2), call("dequeue", 2)) == frozenset(
        {frozenset({(1, 1)})})
    crashed = run(m, call("enqueue", 1), call("enqueue", 2), call("dequeue", None, known=False))
    assert m.describe_state(crashed) == "one of [1], [2]"
    # A later dequeue of 2 settles what it took (1); a dequeue of 1 settles the other way,
    # and then the queue may be found empty.
    assert m.describe_state(m.step(crashed, call("dequeue", 2))) == "[]"
    assert m.step(m.step(crashed, call("dequeue", 1)), call("dequeue", None)) == frozenset(
        {frozenset()})
    assert run(m, call("enqueue", 1), call("dequeue", 3)).reason == (
        "dequeue returned 3, but the queue held [1]")


def test_counter_adds_and_reads_the_total():
    m = Counter()
    assert run(m, call("add", 2), call("increment", 3), call("read", 5)) == 5
    assert run(m, call("add", 2), call("read", 1)).reason == (
        "read returned 1, but the counter held 2")
    with pytest.raises(UsageError, match="expects a number"):
        m.prepare([call("add", "one")])


def test_independent_keys_are_one_object_per_key_with_each_keys_own_preparation():
    m = get_model("cas-register", independent=True)
    assert isinstance(m, Partitionable) and m.name == "independent cas-register"
    calls = [call("write", [0, 3], index=0), call("read", [1, None], index=2),
             call("read", [0, None], index=4, known=False), call("cas", [1, [None, 2]], index=6)]
    # Key 0's crashed read is dropped (it saw nothing); key 1's read of nil stays.
    prepared = m.prepare(calls)
    assert [(c.index, c.value) for c in prepared] == [(0, (0, 3)), (2, (1, None)),
                                                       (6, (1, (None, 2)))]
    parts = m.partition(prepared)
    assert [(p.key, [c.index for c in p.calls], [c.value for c in p.calls]) for p in parts] == [
        (0, [0], [3]), (1, [2, 6], [None, (None, 2)])]
    assert all(p.model == CASRegister() for p in parts)


def test_independent_keys_step_as_a_map_from_keys_to_states():
    m = get_model("cas-register", 0, independent=True)
    state = m.step(m.init(), call("write", [1, 5]))
    assert state == ((1, 5),) and m.describe_state(state) == "{1 = 5}"
    assert m.step(state, call("read", [2, 0])) == state  # key 2 never written: 0
    assert m.step(state, call("read", [1, 0])).reason == "read returned 0, but the register held 5"
    assert m.step(state, call("write", [1, 0])) == ()  # back to the initial value
    assert m.describe_state(()) == "every key = 0"
    assert m.describe_op(call("cas", [1, [5, 6]])) == "key 1: cas 5→6"


def test_independent_keys_refuse_a_value_that_is_not_a_pair():
    with pytest.raises(UsageError, match=r"op 0: write with value 3 does not fit the "
                                         r"independent register model, which expects \[key"):
        get_model("register", independent=True).prepare([call("write", 3)])
