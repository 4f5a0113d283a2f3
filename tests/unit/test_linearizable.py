"""The linearizable and sequential checkers on tiny literal histories, whole verdicts asserted.

Histories are written one event a line, ``"<process> <type> <f> <value as JSON>"``, in
the order they happened; an op's index is its line number from 0.
"""


import pytest

from labrys.checkers import CheckOptions, run_checker
from labrys.checkers._linearizable import check_linearizable, check_sequential
from labrys.checkers._linearizable_explain import explain_part
from labrys.checkers._native_engine import native_module
from labrys.checkers._wgl import Outcome
from labrys.errors import UsageError
from labrys.history import parse_history
from labrys.models import CASRegister, Part, call_from_operation
from tests.unit.event_lines import history


def lin(h, model="cas-register", **options):
    return check_linearizable(h, CheckOptions(model=model, **options))


def seq(h, model="cas-register", **options):
    return check_sequential(h, CheckOptions(model=model, **options))


STALE_READ = history(
    "0 invoke write 1",
    "0 ok     write 1",
    "1 invoke read  null",
    "1 ok     read  null",
)


def test_the_standard_example_a_stale_read_after_a_completed_write_is_not_linearizable():
    v = lin(STALE_READ, model="register")
    explanation = (
        "Op 2 (process 1: read → nil) cannot be linearized: read returned nil, but the "
        "register held 1. The longest consistent order found places 1 of 2 operations, "
        "ending with op 0 (process 0: write 1) in state 1, and op 2 had to come before "
        "anything that began after it completed.")
    assert v.valid is False
    assert v.explanation == ("Not linearizable. Op 2 (process 1: read → nil) cannot be "
                             "linearized: read returned nil, but the register held 1.")
    [anomaly] = v.anomalies
    assert anomaly.kind == "nonlinearizable"
    assert anomaly.ops == (0, 2)
    assert anomaly.explanation == explanation
    assert dict(anomaly.data) == {
        "key": None,
        "op": 2,
        "placed": 1,
        "operations": 2,
        "state": "1",
        "linearization": [{"op": 0, "process": 0, "description": "write 1", "state": "1"}],
        "linearization_omitted": 0,
        "candidates": [{"op": 2, "process": 1, "description": "read → nil",
                        "reason": "read returned nil, but the register held 1"}],
        "candidates_omitted": 0,
    }
    assert dict(v.details) == {"model": "register", "operations": 2, "parts": 1,
                               "partitioned": False, "states_explored": 1,
                               "invalid_keys": [], "engine": "auto",
                               "reduction": {"dropped": [], "bounded": [], "split": 0}}


def test_the_classic_pair_is_sequentially_consistent_but_not_linearizable():
    v = seq(STALE_READ, model="register")
    assert (v.checker, v.valid, v.anomalies) == ("sequential", True, ())
    assert v.explanation == (
        "Sequentially consistent: the 2 operations checked fit one order consistent with "
        "each process's order and the register model.")
    assert run_checker("linearizable", STALE_READ, CheckOptions(model="register")).valid is False


def test_a_read_concurrent_with_a_write_may_see_either_value():
    for seen in ("null", "1"):
        h = history("0 invoke write 1", "1 invoke read null", "1 ok read " + seen,
                    "0 ok write 1")
        v = lin(h)
        assert (v.valid, v.anomalies) == (True, ())
        assert v.explanation == (
            "Linearizable: the 2 operations checked fit one order consistent with real time "
            "and the cas-register model.")


def test_a_crashed_write_may_take_effect_later_but_never_undo_itself():
    crashed = ("0 invoke write 1", "0 info write 1")
    assert lin(history(*crashed, "1 invoke read null", "1 ok read 1")).valid is True
    assert lin(history(*crashed, "1 invoke read null", "1 ok read null")).valid is True
    v = lin(history(*crashed, "1 invoke read null", "1 ok read 1",
                    "1 invoke read null", "1 ok read null"))
    assert v.valid is False
    assert v.anomalies[0].ops == (0, 2, 4)
    assert v.anomalies[0].explanation.startswith(
        "Op 4 (process 1: read → nil) cannot be linearized: read returned nil, but the "
        "register held 1.")


def test_an_operation_that_never_completed_is_treated_like_a_crashed_one():
    h = history("0 invoke write 1", "1 invoke read null", "1 ok read 1")
    assert lin(h).valid is True


def test_a_crashed_write_cannot_take_effect_before_it_was_invoked():
    v = lin(history("1 invoke read null", "1 ok read 1", "0 invoke write 1", "0 info write 1"))
    assert v.valid is False
    assert [c["op"] for c in v.anomalies[0].data["candidates"]] == [0]


def test_a_failed_operation_never_happened():
    failed = ("0 invoke write 1", "0 fail write 1")
    assert lin(history(*failed, "1 invoke read null", "1 ok read null")).valid is True
    assert lin(history(*failed, "1 invoke read null", "1 ok read 1")).valid is False


def test_a_cas_from_the_wrong_value_is_refused_with_the_value_held():
    v = lin(history("0 invoke write 2", "0 ok write 2", "1 invoke cas [0, 1]",
                    "1 ok cas [0, 1]"), init=0)
    assert v.valid is False
    assert v.anomalies[0].data["candidates"] == [
        {"op": 2, "process": 1, "description": "cas 0→1",
         "reason": "cas expected 0, but the register held 2"}]


def test_every_candidate_that_could_come_next_is_explained():
    # Two reads overlap; both see values nobody wrote, after a completed write of 1.
    v = lin(history("0 invoke write 1", "0 ok write 1", "1 invoke read null",
                    "2 invoke read null", "1 ok read 2", "2 ok read 3"))
    assert v.valid is False
    assert [(c["op"], c["reason"]) for c in v.anomalies[0].data["candidates"]] == [
        (2, "read returned 2, but the register held 1"),
        (3, "read returned 3, but the register held 1"),
    ]
    assert v.anomalies[0].explanation.endswith(
        "The other operations that could come next fail too: op 3 (process 2: read → 3): "
        "read returned 3, but the register held 1.")


def test_the_explainer_says_when_a_candidate_fits_but_leads_nowhere():
    # The search's own longest prefix never has such a candidate (it would have gone
    # deeper), but the explainer takes any prefix, such as another engine's.
    h = history("0 invoke write 1", "1 invoke read null", "1 ok read 2", "0 ok write 1")
    model = CASRegister()
    calls = model.prepare([call_from_operation(o) for o in h.operations()])
    anomaly, headline = explain_part(Part(key=None, calls=calls, model=model),
                                     Outcome(valid=False), sequential=False)
    assert headline == ("Op 1 (process 1: read → 2) cannot be linearized: read returned 2, "
                        "but the register held nil")
    assert [(c["op"], c["reason"]) for c in anomaly.data["candidates"]] == [
        (1, "read returned 2, but the register held nil"),
        (0, "it could take effect here (leaving 1), but then no order of the remaining "
            "operations works"),
    ]
    assert anomaly.explanation.startswith(
        "Op 1 (process 1: read → 2) cannot be linearized: read returned 2, but the register "
        "held nil. No operation can come first, from the initial state nil, and op 1 had to "
        "come before anything that began after it completed.")


KV_HISTORY = (
    '0 invoke put ["x", "a"]', '0 ok put ["x", "a"]',
    '1 invoke put ["y", "b"]', '1 ok put ["y", "b"]',
    '0 invoke get ["x", null]', '0 ok get ["x", "a"]',
    '1 invoke get ["y", null]', '1 ok get ["y", ""]',
)


def test_kv_is_checked_per_key_and_the_failing_key_is_named():
    v = lin(history(*KV_HISTORY), model="kv")
    assert v.valid is False
    assert v.explanation == (
        'Not linearizable. Key "y": op 6 (process 1: get "y" → "") cannot be linearized: '
        'get "y" returned "", but the key held "b".')
    assert v.anomalies[0].data["key"] == "y"
    assert v.anomalies[0].ops == (2, 6)
    assert dict(v.details) == {"model": "kv", "operations": 4, "parts": 2, "partitioned": True,
                               "states_explored": 3, "invalid_keys": ["y"], "engine": "auto",
                               "reduction": {"dropped": [], "bounded": [], "split": 0}}


def test_kv_checked_whole_reaches_the_same_verdict_without_naming_a_key():
    v = lin(history(*KV_HISTORY), model="kv", extra={"partition": False})
    assert v.valid is False
    assert v.details["partitioned"] is False and v.details["parts"] == 1
    assert v.anomalies[0].data["key"] is None
    assert v.anomalies[0].explanation.startswith(
        'Op 6 (process 1: get "y" → "") cannot be linearized: get "y" returned "", but the '
        'key held "b".')
    assert lin(history(*KV_HISTORY[:6]), model="kv", extra={"partition": False}).valid is True


def test_several_failing_keys_are_all_named():
    h = history('0 invoke put ["x", "a"]', '0 ok put ["x", "a"]',
                '0 invoke get ["x", null]', '0 ok get ["x", "z"]',
                '0 invoke get ["y", null]', '0 ok get ["y", "z"]')
    v = lin(h, model="kv")
    assert [a.data["key"] for a in v.anomalies] == ["x", "y"]
    assert v.details["invalid_keys"] == ["x", "y"]
    assert v.explanation.endswith('Keys "y" fail as well.')


def test_an_invalid_key_is_found_even_when_another_key_is_too_hard_to_search():
    # Key "hard" alone would take a long search; key "easy" fails at once. The parts are
    # searched a quantum at a time, so the verdict does not wait for "hard".
    hard = [f'{p} invoke put ["hard", "{p}"]' for p in range(18)]
    hard += [f'{p} ok put ["hard", "{p}"]' for p in range(18)]
    hard += ['18 invoke get ["hard", null]', '18 ok get ["hard", "none"]']
    easy = ['19 invoke put ["easy", "a"]', '19 ok put ["easy", "a"]',
            '19 invoke get ["easy", null]', '19 ok get ["easy", "b"]']
    v = lin(history(*hard, *easy), model="kv", timeout_s=60)
    assert v.valid is False
    assert v.details["invalid_keys"] == ["easy"]
    assert v.explanation.endswith(
        "1 other part of the history was not searched to the end once this was known.")


def test_multi_register_transactions():
    start = {"x": 0, "y": 0}
    ok = history('0 invoke txn [["w", "x", 1], ["w", "y", 1]]',
                 '0 ok txn [["w", "x", 1], ["w", "y", 1]]',
                 '1 invoke txn [["r", "x", null], ["r", "y", null]]',
                 '1 ok txn [["r", "x", 1], ["r", "y", 1]]')
    assert lin(ok, model="multi-register", init=start).valid is True
    torn = history('0 invoke txn [["w", "x", 1], ["w", "y", 1]]',
                   '1 invoke txn [["r", "x", null], ["r", "y", null]]',
                   '1 ok txn [["r", "x", 1], ["r", "y", 0]]',
                   '0 ok txn [["w", "x", 1], ["w", "y", 1]]')
    v = lin(torn, model="multi-register", init=start)
    assert v.valid is False
    assert v.anomalies[0].data["candidates"][0]["reason"] == (
        'the transaction read "y" = 0, but "y" held 1')


def test_mutex_held_twice_is_not_linearizable():
    h = history("0 invoke acquire null", "0 ok acquire null",
                "1 invoke acquire null", "1 ok acquire null")
    v = lin(h, model="mutex")
    assert v.valid is False
    assert v.anomalies[0].data["candidates"][0]["reason"] == (
        "acquire, but the lock was already held")
    released = history("0 invoke acquire null", "0 ok acquire null",
                       "0 invoke release null", "1 invoke acquire null",
                       "1 ok acquire null", "0 ok release null")
    assert lin(released, model="mutex").valid is True


def test_queue_and_set_and_counter_models_through_the_checker():
    fifo = history("0 invoke enqueue 1", "0 ok enqueue 1", "0 invoke enqueue 2",
                   "0 ok enqueue 2", "1 invoke dequeue null", "1 ok dequeue 2")
    assert lin(fifo, model="fifo-queue").valid is False
    assert lin(fifo, model="unordered-queue").valid is True
    sets = history("0 invoke add 1", "1 invoke read null", "1 ok read [1]", "0 ok add 1")
    assert lin(sets, model="set").valid is True
    counter = history("0 invoke add 2", "0 ok add 2", "1 invoke read null", "1 ok read 0")
    assert lin(counter, model="counter").valid is False


def test_an_empty_history_has_nothing_to_judge_and_is_unknown_not_vacuously_valid():
    v = lin(parse_history(""))
    assert (v.valid, v.details["nothing_to_judge"]) == ("unknown", True)
    assert v.explanation.startswith("Nothing to judge: the history has no operation of the "
                                    "cas-register model that may have taken effect")


def test_failed_operations_and_crashed_reads_leave_nothing_to_judge():
    v = lin(history("0 invoke write 1", "0 fail write 1", "1 invoke read null",
                    "1 info read null"))
    assert v.valid == "unknown" and v.details["nothing_to_judge"] is True
    # A crashed write may have taken effect: that is something to order.
    assert lin(history("0 invoke write 1", "0 info write 1")).valid is True


# -- budgets ----------------------------------------------------------------------------------


def _many_concurrent_writes_then_an_impossible_read(n: int):
    """n concurrent writes, then a read of a value none wrote: the search must try every
    subset of the writes, in every state, before it can say no."""
    events = [f"{p} invoke write {p}" for p in range(n)]
    events += [f"{p} ok write {p}" for p in range(n)]
    return history(*events, f"{n} invoke read null", f"{n} ok read {n + 1}")


HARD = _many_concurrent_writes_then_an_impossible_read(16)


def test_running_out_of_time_is_unknown_with_the_reason():
    v = lin(HARD, timeout_s=0.01)
    assert v.valid == "unknown"
    assert v.details["stopped"] == "time"
    assert v.explanation.startswith("Unknown: the search reached its time limit of 0.01 s after "
                                    "exploring ")
    assert v.explanation.endswith(" states, without finding an order or proving that none "
                                  "exists. Raise the limit to decide.")


def test_running_out_of_memory_is_unknown_with_the_reason():
    v = lin(HARD, memory_limit_mb=1)
    assert (v.valid, v.details["stopped"]) == ("unknown", "memory")
    assert "its memory limit of 1 MB" in v.explanation


@pytest.mark.parametrize("engine", ["python", "native"])
@pytest.mark.parametrize(("budget", "stopped", "says"), [
    ({"timeout_s": 0.05}, "time", "its time limit of 0.05 s"),
    ({"memory_limit_mb": 1}, "memory", "its memory limit of 1 MB"),
])
def test_each_search_engine_keeps_each_budget_and_names_it(engine, budget, stopped, says):
    if engine == "native" and native_module() is None:
        pytest.skip("the native core is not installed (make setup builds it with cargo)")
    v = lin(HARD, engine=engine, **budget)
    assert (v.valid, v.details["stopped"], v.details["engine"]) == ("unknown", stopped, engine)
    assert says in v.explanation


def test_the_same_kind_of_history_is_decided_given_the_budget():
    v = lin(_many_concurrent_writes_then_an_impossible_read(8))
    assert (v.valid, v.anomalies[0].data["op"], v.anomalies[0].data["placed"]) == (False, 16, 8)


def test_explanations_stay_short_for_long_histories():
    events = []
    for i in range(30):
        events += [f"0 invoke write {i}", f"0 ok write {i}"]
    events += [f"{p} invoke read null" for p in range(1, 16)]
    events += [f"{p} ok read 99" for p in range(1, 16)]
    v = lin(history(*events))
    data = v.anomalies[0].data
    assert (data["placed"], len(data["linearization"]), data["linearization_omitted"]) == (
        30, 10, 20)
    assert [s["description"] for s in data["linearization"]] == [
        f"write {i}" for i in range(20, 30)]
    assert (len(data["candidates"]), data["candidates_omitted"]) == (10, 5)
    assert v.anomalies[0].explanation.endswith("; and 5 more.")
    assert len(v.anomalies[0].ops) == 20


# -- usage errors -----------------------------------------------------------------------------


def test_no_model_is_a_usage_error_naming_the_models():
    with pytest.raises(UsageError, match="needs a model; pass --model, one of: register, "):
        check_linearizable(STALE_READ, CheckOptions())


def test_operations_the_model_does_not_know_are_a_usage_error():
    with pytest.raises(UsageError, match="the register model has no operation 'cas'"):
        lin(history("0 invoke cas [1, 2]", "0 ok cas [1, 2]"), model="register")


@pytest.mark.parametrize(("options", "message"), [
    ({"engine": "quantum"}, "unknown engine 'quantum'"),
    ({"timeout_s": -1}, "the timeout is a positive number of seconds"),
    ({"memory_limit_mb": 0}, "the memory limit is a positive number of MB"),
    ({"extra": {"partition": "no"}}, "the partition option is true or false"),
])
def test_bad_options_are_usage_errors(options, message):
    with pytest.raises(UsageError, match=message):
        lin(STALE_READ, **options)


# -- sequential consistency --------------------------------------------------------------------


def test_a_process_that_does_not_see_its_own_write_is_not_sequentially_consistent():
    v = seq(history("0 invoke write 1", "0 ok write 1", "0 invoke read null", "0 ok read null"))
    assert v.valid is False
    [anomaly] = v.anomalies
    assert anomaly.kind == "not-sequentially-consistent"
    headline = ("Op 2 (process 0: read → nil) cannot be placed in process order: read "
                "returned nil, but the register held 1")
    assert anomaly.explanation == (
        f"{headline}. The longest consistent order found places 1 of 2 operations, ending "
        "with op 0 (process 0: write 1) in state 1, and nothing else can come next either.")
    assert v.explanation == f"Not sequentially consistent. {headline}."


def test_sequential_consistency_respects_each_process_order_across_processes():
    # p1 sees 1 then 2, p2 sees 2 then 1: no single order of the two writes explains both.
    h = history("0 invoke write 1", "0 ok write 1", "3 invoke write 2", "3 ok write 2",
                "1 invoke read null", "1 ok read 1", "1 invoke read null", "1 ok read 2",
                "2 invoke read null", "2 ok read 2", "2 invoke read null", "2 ok read 1")
    assert seq(h).valid is False
    ordered = history("0 invoke write 1", "0 ok write 1", "3 invoke write 2", "3 ok write 2",
                      "1 invoke read null", "1 ok read 1", "1 invoke read null", "1 ok read 2",
                      "2 invoke read null", "2 ok read 1", "2 invoke read null", "2 ok read 2")
    assert seq(ordered).valid is True


def test_a_crashed_operation_does_not_hold_up_its_process_but_follows_what_came_before():
    # Porcupine's logs reuse a process after a timeout: the read does not wait for the write.
    assert seq(history("0 invoke write 1", "0 info write 1", "0 invoke read null",
                       "0 ok read null")).valid is True
    # The crashed write comes after its process's earlier read, which therefore cannot
    # have seen it, and nobody else wrote 1.
    assert seq(history("0 invoke read null", "0 ok read 1", "0 invoke write 1",
                       "0 info write 1")).valid is False


def test_sequential_never_partitions_because_it_is_not_local():
    v = seq(history(*KV_HISTORY), model="kv")
    assert v.valid is False
    assert (v.details["partitioned"], v.anomalies[0].data["key"]) == (False, None)
