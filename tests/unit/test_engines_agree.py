"""python, native and smt agree, on random histories with crashed operations.

The Python engine is the reference. The native core must give the same verdict and,
where a history is invalid, the same longest prefix (so explanations read the same);
the SMT engine, which shares no idea with either, the same verdict. Native parts skip
with a reason when the core is not installed; the fallback path is tested by making its
import fail.
"""

import logging
import random
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labrys import _native as labrys_native_finder
from labrys.checkers import CheckOptions
from labrys.checkers import _native_engine as engine
from labrys.checkers._linearizable import check_linearizable
from labrys.checkers._reduce import reduce_parts
from labrys.checkers._verdict import worst
from labrys.checkers._wgl import Budget
from labrys.errors import UsageError
from labrys.history import parse_history
from labrys.models import Part, get_model
from tests.unit.engine_histories import MODELS, parts_of, simulate

needs_native = pytest.mark.skipif(
    engine.native_module() is None,
    reason="the native core (labrys_native) is not installed: run scripts/build-native.sh")

SMT_MODELS = ("register", "cas-register", "mutex")


def budget() -> Budget:
    return Budget(deadline=time.monotonic() + 60, memory_bytes=1 << 30)


def draw(seed: int, model: str, sequential: bool) -> list[Part]:
    rng = random.Random(seed)
    h = simulate(rng, model, max_steps=32, crash=0.25, unique=rng.random() < 0.3)
    return parts_of(get_model(model), h, split=not sequential)


def each(parts, sequential, **kwargs):
    """Every part checked alone (no cancellation), so outcomes compare one to one."""
    return [o for p in parts
            for o in engine.search_parts([p], sequential=sequential, budget=budget(), **kwargs)]


@needs_native
@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), model=st.sampled_from(MODELS),
       sequential=st.booleans())
def test_native_gives_the_python_verdict_and_prefix(seed, model, sequential):
    parts = draw(seed, model, sequential)
    python = each(parts, sequential, engine="python")
    native = engine.search_native(parts, sequential=sequential, budget=budget(),
                                  stop_at_first_invalid=False)
    assert native is not None
    assert [o.valid for o in native] == [o.valid for o in python]
    for n, p in zip(native, python, strict=True):
        if p.valid is False:
            assert (n.prefix, n.states) == (p.prefix, p.states)


@needs_native
@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), model=st.sampled_from(MODELS))
def test_native_symmetry_reduction_keeps_verdicts(seed, model):
    parts = draw(seed, model, False)
    plain = engine.search_native(parts, sequential=False, budget=budget(),
                                 stop_at_first_invalid=False)
    symmetric = engine.search_native(parts, sequential=False, budget=budget(),
                                     stop_at_first_invalid=False, symmetry=True)
    assert plain is not None and symmetric is not None
    assert [o.valid for o in symmetric] == [o.valid for o in plain]


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), model=st.sampled_from(SMT_MODELS),
       sequential=st.booleans())
def test_smt_gives_the_python_verdict(seed, model, sequential):
    parts = draw(seed, model, sequential)
    python = each(parts, sequential, engine="python")
    assert [o.valid for o in each(parts, sequential, engine="smt")] == \
        [o.valid for o in python]


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), model=st.sampled_from(MODELS),
       sequential=st.booleans())
def test_every_engine_agrees_after_reduction(seed, model, sequential):
    parts, _ = reduce_parts(draw(seed, model, sequential), sequential=sequential)
    verdicts = {worst(o.valid for o in each(parts, sequential, engine="python"))}
    if engine.native_module() is not None:
        verdicts.add(worst(o.valid for o in each(parts, sequential, engine="native")))
    if model in SMT_MODELS:
        verdicts.add(worst(o.valid for o in each(parts, sequential, engine="smt")))
    assert len(verdicts) == 1


def test_a_seeded_sweep_sees_both_verdicts_for_every_model():
    seen = {(m, v) for m in MODELS for seed in range(60)
            for v in [worst(o.valid for o in each(draw(seed, m, False), False,
                                                   engine="python"))]}
    assert {(m, v) for m in MODELS for v in (True, False)} <= seen


@needs_native
def test_native_checks_multi_register_and_unpartitioned_kv():
    txn = parse_history("\n".join([
        '{"process": 0, "type": "invoke", "f": "txn", "value": [["w", "x", 1], ["w", "y", 1]]}',
        '{"process": 0, "type": "ok", "f": "txn", "value": [["w", "x", 1], ["w", "y", 1]]}',
        '{"process": 1, "type": "invoke", "f": "txn", "value": [["r", "x", null]]}',
        '{"process": 1, "type": "ok", "f": "txn", "value": [["r", "x", 1]]}',
        '{"process": 1, "type": "invoke", "f": "txn", "value": [["r", "y", null]]}',
        '{"process": 1, "type": "ok", "f": "txn", "value": [["r", "y", 0]]}',
    ]))
    model = get_model("multi-register", {"x": 0, "y": 0})
    parts = parts_of(model, txn)
    [n] = engine.search_native(parts, sequential=False, budget=budget())
    [p] = each(parts, False, engine="python")
    assert n.valid is p.valid is False and n.prefix == p.prefix
    for seed in range(40):
        kv = parts_of(get_model("kv"), simulate(random.Random(seed), "kv"), split=False)
        native = engine.search_native(kv, sequential=False, budget=budget())
        assert [o.valid for o in native] == [o.valid for o in each(kv, False, engine="python")]


@needs_native
def test_models_without_a_native_encoding_fall_back_to_python():
    h = parse_history('{"process": 0, "type": "invoke", "f": "add", "value": 1.5}\n'
                      '{"process": 0, "type": "ok", "f": "add", "value": 1.5}')
    parts = parts_of(get_model("counter"), h)
    assert engine.search_native(parts, sequential=False, budget=budget()) is None
    assert [o.valid for o in engine.search_parts(parts, sequential=False,
                                                 budget=budget())] == [True]
    with pytest.raises(UsageError, match="--engine native cannot check the counter model"):
        engine.search_parts(parts, sequential=False, budget=budget(), engine="native")
    sets = parts_of(get_model("set"), parse_history(
        '{"process": 0, "type": "invoke", "f": "add", "value": 1}\n'
        '{"process": 0, "type": "ok", "f": "add", "value": 1}'))
    assert engine.search_native(sets, sequential=False, budget=budget()) is None


def test_without_the_core_checks_run_in_python_and_say_so_once(monkeypatch, caplog):
    def missing():
        raise ImportError("No module named 'labrys_native'")

    monkeypatch.setattr(labrys_native_finder, "_import_native", missing)
    engine.native_module.cache_clear()
    try:
        caplog.set_level(logging.WARNING, logger=labrys_native_finder.__name__)
        stale = parse_history("\n".join([
            '{"process": 0, "type": "invoke", "f": "write", "value": 1}',
            '{"process": 0, "type": "ok", "f": "write", "value": 1}',
            '{"process": 1, "type": "invoke", "f": "read", "value": null}',
            '{"process": 1, "type": "ok", "f": "read", "value": null}',
        ]))
        for _ in range(3):
            v = check_linearizable(stale, CheckOptions(model="register"))
            assert v.valid is False
            parts = parts_of(get_model("register"), stale)
            [o] = engine.search_parts(parts, sequential=False, budget=budget())
            assert o.valid is False and o.prefix == (0,)
        warnings = [r for r in caplog.records if "native core is not installed"
                    in r.getMessage()]
        assert len(warnings) == 1
        with pytest.raises(UsageError, match="native core is not installed"):
            engine.search_parts(parts, sequential=False, budget=budget(), engine="native")
    finally:
        engine.native_module.cache_clear()


def test_an_unknown_engine_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown engine 'fast'"):
        engine.search_parts([], sequential=False, budget=budget(), engine="fast")
