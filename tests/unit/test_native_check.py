"""The native end-to-end check gives the Python path's verdict, word for word.

A history read by the native reader is checked by the core on its columns
(`labrys.checkers._native_check`); the same file read by the Python reader is checked
the Python way. Both must produce the same verdict, explanation, anomalies and details,
on random histories of every model the core checks this way, with crashes, lies,
unique values (decided by the read-mapping) and repeated ones (by the search).
"""

import dataclasses
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labrys._native import native_module
from labrys.checkers import CheckOptions, run_checker
from labrys.errors import UsageError
from labrys.history import History, Op, read_history, write_jsonl
from tests.unit.engine_histories import simulate
from tests.unit.event_lines import history
from tests.unit.test_read_mapping import simulate_unique

pytestmark = pytest.mark.skipif(
    native_module() is None,
    reason="the native core (labrys_native) is not installed: run scripts/build-native.sh")


def verdicts(tmp_path, h, **options):
    path = tmp_path / "h.jsonl"
    write_jsonl(h, path)
    native = read_history(path)
    assert native.native() is not None
    python = read_history(path, native=False)
    opts = CheckOptions(**options)
    out = []
    for h in (python, native):
        verdict = run_checker("linearizable", h, opts).to_json()
        if "not searched to the end" in verdict["explanation"]:
            # Parts searched in parallel and cancelled once one is invalid stop wherever
            # they were: how many states they had explored is not repeatable.
            del verdict["details"]["states_explored"]
        out.append(verdict)
    return out


SETTINGS = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), model=st.sampled_from(["register", "cas-register", "kv"]),
       unique=st.booleans())
def test_random_histories_get_the_same_verdict(tmp_path, seed, model, unique):
    rng = random.Random(seed)
    h = simulate(rng, model, max_steps=40, crash=0.2, unique=unique)
    python, native = verdicts(tmp_path, h, model=model)
    assert native == python


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), model=st.sampled_from(["register", "cas-register", "kv"]),
       lie=st.sampled_from([0.01, 0.1]))
def test_unique_value_histories_get_the_same_verdict(tmp_path, seed, model, lie):
    h = simulate_unique(random.Random(seed), model, 120, 6, lie=lie)
    for options in ({"model": model}, {"model": model, "extra": {"read_mapping": False}}):
        python, native = verdicts(tmp_path, h, **options)
        assert native == python


def independent(rng: random.Random, model: str, unique: bool) -> History:
    """Two keys' histories, values wrapped as ``[key value]``, interleaved at random."""
    keyed = []
    for key in (0, 1):
        h = simulate(rng, model, max_steps=30, crash=0.2, unique=unique)
        keyed.append([Op(index=0, time=0, type=op.type, process=2 * op.process + key
                         if isinstance(op.process, int) else op.process, f=op.f,
                         value=[key, op.value]) for op in h])
    merged = []
    while any(keyed):
        side = rng.choice([k for k in keyed if k])
        merged.append(side.pop(0))
    return History([dataclasses.replace(op, index=i) for i, op in enumerate(merged)])


@SETTINGS
@given(seed=st.integers(0, 2**32 - 1), model=st.sampled_from(["register", "cas-register"]),
       unique=st.booleans())
def test_independent_registers_get_the_same_verdict(tmp_path, seed, model, unique):
    h = independent(random.Random(seed), model, unique)
    python, native = verdicts(tmp_path, h, model=model, independent=True)
    assert native == python


def test_an_operation_the_model_does_not_know_is_the_same_error(tmp_path):
    h = history("0 invoke cas [1, 2]", "0 ok cas [1, 2]")
    path = tmp_path / "h.jsonl"
    write_jsonl(h, path)
    for native in (True, False):
        with pytest.raises(UsageError, match="use --model cas-register for cas"):
            run_checker("linearizable", read_history(path, native=native),
                        CheckOptions(model="register"))


def test_the_core_checks_without_making_an_op_per_line(tmp_path):
    events = []
    for i in range(200):
        events += [f"{i % 7} invoke write {i}", f"{i % 7} ok write {i}"]
    events += ["9 invoke read null", "9 ok read 3"]  # a stale read, at the very end
    path = tmp_path / "h.jsonl"
    write_jsonl(history(*events), path)
    h = read_history(path)
    v = run_checker("linearizable", h, CheckOptions(model="cas-register"))
    assert v.valid is False and v.anomalies[0].data["op"] == 400
    # Only the ops the explanation named were made (the stale read, the last writes).
    assert h._ops_list is None
    assert len(h._single) <= 40
