"""The native reader gives exactly the Python reader's history, or its exact error.

The Python readers of `labrys.history` are the reference. For every file the native
reader either builds the same ops (same fields, same types: ``1``, ``1.0`` and ``true``
stay apart) and the same pairing, or declines and lets the Python reader speak, so a
malformed file gets the same message on both paths and never crashes the extension.
Checked on the conformance corpus, on generated files in every format, and on those
files mutated at random.
"""

import json
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from labrys._native import native_module
from labrys.errors import LabrysError
from labrys.history import read_history
from labrys.history._edn import dumps as edn_dumps
from tests.conformance.corpus import CONFORMANCE

pytestmark = pytest.mark.skipif(
    native_module() is None,
    reason="the native core (labrys_native) is not installed: run scripts/build-native.sh")


def both(path: Path, format: str | None = None):
    """(ops, pairs and whether values are keyed, or the error) from the Python reader,
    then from the native one.

    Any exception counts, not only `LabrysError`: where the Python reader itself fails
    some other way, the native path (which declines to it) must fail the same way.
    """
    out = []
    for native in (False, True):
        try:
            h = read_history(path, format=format, native=native)
            keyed = h.keyed_values()  # asked first: the native history answers on columns
            out.append((list(h), [h.completion(op) for op in h], keyed, None))
        except Exception as e:
            out.append((None, None, None, f"{type(e).__name__}: {e}"))
    return out


def same(path: Path, format: str | None = None) -> None:
    python, native = both(path, format)
    assert native == python


def was_native(path: Path, format: str | None = None) -> bool:
    return read_history(path, format=format).native() is not None


@pytest.mark.skipif(not CONFORMANCE.exists(), reason="no conformance corpus beside the repo")
def test_every_conformance_history_reads_the_same_and_natively():
    files = [p for p in sorted(CONFORMANCE.rglob("*")) if p.is_file()
             and p.suffix in (".edn", ".log", ".txt", ".json", ".jsonl")]
    assert len(files) > 200
    declined = []
    for p in files:
        same(p)
        try:
            if not was_native(p):
                declined.append(p)
        except LabrysError:
            pass
    assert declined == []


# -- generated files ---------------------------------------------------------------------

atoms = st.one_of(
    st.none(), st.booleans(), st.integers(-2**70, 2**70),
    st.floats(allow_nan=False, allow_infinity=True), st.text(max_size=8),
    st.sampled_from(["read", "write", "a\\nb", "é", "\u2028", "x\"y", "\U0001F600"]))
values = st.recursive(atoms, lambda inner: st.lists(inner, max_size=4), max_leaves=10)
processes = st.one_of(st.integers(0, 3), st.sampled_from(["nemesis", "n1"]))


@st.composite
def records(draw):
    """Well-formed or not: a history's records, pairing mostly right."""
    out = []
    open_ops: dict = {}
    for _ in range(draw(st.integers(0, 12))):
        p = draw(processes)
        if p in open_ops and draw(st.booleans()):
            f = open_ops.pop(p)
            kind = draw(st.sampled_from(["ok", "fail", "info"]))
        else:
            f = draw(st.sampled_from(["read", "write", "cas", "txn"]))
            kind = "info" if isinstance(p, str) else "invoke"
            open_ops[p] = f
        r = {"type": kind, "process": p, "f": f, "value": draw(values)}
        if draw(st.booleans()):
            r["index"] = draw(st.sampled_from([len(out), len(out) + 3, float(len(out)), None]))
        if draw(st.integers(0, 4)) == 0:
            r["time"] = draw(st.one_of(st.integers(0, 10**12), st.floats(0, 1e12)))
        if draw(st.integers(0, 4)) == 0:
            r["node"] = draw(st.sampled_from(["n1", None]))
        if draw(st.integers(0, 4)) == 0:
            r["error"] = draw(values)
        if draw(st.integers(0, 4)) == 0:
            r[draw(st.sampled_from(["extra", "source_index", "key"]))] = draw(values)
        out.append(r)
    return out


def edn_map(r: dict) -> str:
    parts = []
    for k, v in r.items():
        keyword = k in ("type", "f") or (isinstance(v, str) and k == "process")
        text = edn_dumps(v, keywordize=keyword)
        parts.append(f":{k} {text}")
    return "{" + ", ".join(parts) + "}"


FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(rs=records())
def test_generated_json_lines(tmp_path, rs):
    path = tmp_path / "h.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rs) + "\n", encoding="utf-8")
    same(path, "jsonl")


@FUZZ
@given(rs=records(), one_vector=st.booleans())
def test_generated_jepsen_edn(tmp_path, rs, one_vector):
    path = tmp_path / "h.edn"
    maps = [edn_map(r) for r in rs]
    text = ("[" + "\n ".join(maps) + "]") if one_vector else "\n".join(maps)
    path.write_text(text + "\n", encoding="utf-8")
    same(path, "jepsen-edn")


@FUZZ
@given(rs=records())
def test_generated_elle_cli_json(tmp_path, rs):
    path = tmp_path / "h.json"
    path.write_text(json.dumps(rs), encoding="utf-8")
    same(path, "elle-cli-json")


@FUZZ
@given(rs=records())
def test_generated_porcupine_kv(tmp_path, rs):
    path = tmp_path / "h.txt"
    path.write_text("\n".join(edn_map({**r, "key": str(r["process"])}) for r in rs) + "\n",
                    encoding="utf-8")
    same(path, "porcupine-kv")


@FUZZ
@given(rs=records())
def test_generated_porcupine_etcd(tmp_path, rs):
    path = tmp_path / "h.log"
    lines = [f"INFO  jepsen.util - {r['process']}\t:{r['type']}\t:{r['f']}\t"
             f"{edn_dumps(r['value'], keywordize=False)}" for r in rs]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    same(path, "porcupine-etcd")


keyed = st.one_of(st.tuples(st.integers(0, 3), values).map(list),
                  st.tuples(st.integers(0, 3), st.tuples(atoms, atoms).map(list)).map(list),
                  values)


@example(ops=[("read", [0, None], "ok"), ("cas", [1, [1, 2]], "fail")])  # keyed
@example(ops=[("cas", [1, 2], "ok")])  # a plain cas-register's
@FUZZ
@given(ops=st.lists(st.tuples(st.sampled_from(["read", "write", "cas"]), keyed,
                              st.sampled_from(["ok", "fail", "info"])), max_size=6))
def test_keyed_values_are_recognised_the_same_natively(tmp_path, ops):
    lines = []
    for p, (f, value, kind) in enumerate(ops):
        lines.append({"type": "invoke", "process": p, "f": f, "value": value})
        lines.append({"type": kind, "process": p, "f": f, "value": value})
    path = tmp_path / "h.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    assert read_history(path).native() is not None
    same(path, "jsonl")


EDN_QUIRKS = ["#_ 1 ", "; comment\n", ",,", "#inst ", "#{3 1 2} ", "#{\"b\" \"a\"} ",
              "\\a ", "\\newline ", "1/3 ", "12N ", "1.5M ", "##Inf ", ":a/b ", "sym ",
              "\"\\u00e9\\t\" ", "(1 2) ", "#_#_ 1 2 ", "[", "]", "{", "}", "#{nil nil} "]


@FUZZ
@given(rs=records(), quirks=st.lists(st.tuples(st.integers(0, 10**6),
                                               st.sampled_from(EDN_QUIRKS)), max_size=4))
def test_edn_quirks_read_the_same(tmp_path, rs, quirks):
    text = "\n".join(edn_map(r) for r in rs) + "\n"
    for at, quirk in quirks:
        at %= len(text) + 1
        text = text[:at] + quirk + text[at:]
    path = tmp_path / "h.edn"
    path.write_text(text, encoding="utf-8")
    same(path, "jepsen-edn")


@FUZZ
@given(rs=records(), format=st.sampled_from(["jsonl", "jepsen-edn", "porcupine-etcd"]),
       cuts=st.lists(st.tuples(st.integers(0, 10**6), st.binary(max_size=3)), min_size=1,
                     max_size=3))
def test_mutated_files_read_the_same_or_fail_the_same(tmp_path, rs, format, cuts):
    if format == "jsonl":
        data = "\n".join(json.dumps(r) for r in rs).encode()
    elif format == "jepsen-edn":
        data = "\n".join(edn_map(r) for r in rs).encode()
    else:
        data = "\n".join(f"INFO jepsen.util - {r['process']} :{r['type']} :{r['f']} "
                         f"{edn_dumps(r['value'], keywordize=False)}" for r in rs).encode()
    for at, junk in cuts:
        at %= len(data) + 1
        data = data[:at] + junk + data[at + random.Random(at).randint(0, 2):]
    path = tmp_path / "h"
    path.write_bytes(data)
    same(path, format)


@pytest.mark.parametrize("depth", [60, 80, 101, 150])
@pytest.mark.parametrize("format", ["jsonl", "jepsen-edn"])
def test_deep_values_and_long_numbers_read_as_the_reference_reads_them(tmp_path, depth,
                                                                       format):
    deep = "[" * depth + "1" + "]" * depth
    long = "9" * 4500
    for value in (deep, long, "-" + "1" * 4100):
        path = tmp_path / "h"
        if format == "jsonl":
            path.write_text(f'{{"type":"invoke","process":0,"f":"w","value":{value}}}\n')
        else:
            path.write_text(f"{{:type :invoke, :process 0, :f :w, :value {value}}}\n")
        same(path, format)


def test_a_million_op_shape_is_read_without_making_ops(tmp_path):
    path = tmp_path / "h.jsonl"
    lines = []
    for i in range(1000):
        lines.append(json.dumps({"index": 2 * i, "time": i, "type": "invoke", "process": i % 5,
                                 "f": "write", "value": i}))
        lines.append(json.dumps({"index": 2 * i + 1, "time": i, "type": "ok",
                                 "process": i % 5, "f": "write", "value": i}))
    path.write_text("\n".join(lines), encoding="utf-8")
    h = read_history(path)
    assert h.native() is not None and len(h) == 2000
    assert h[1999].value == 999 and h.completion(h[0]).index == 1
    assert h.client_functions() == {"write"}
    assert list(h) == list(read_history(path, native=False))
