"""What the fuzz tests feed the readers: bytes, nearly valid documents, and nasty cases.

Random bytes find little in a parser that refuses them at the first character, so most
inputs are *structured*: a valid document of the reader's family (a history in one of
the formats, a spec as TOML or ``test.json``) with one thing wrong: a field missing or
of the wrong type, a value no op can have (NaN, an integer of thousands of digits, a
string with NUL, a lone surrogate, nesting thousands deep), the text cut short, a line
repeated or a byte changed. Each history is rendered in every format, so each reader
also meets its neighbours' files, as it does when the format is guessed wrong.

Entry points: `inputs_for(family)`, a Hypothesis strategy of bytes for a reader's seed
family (`tests.fuzz.readers.HISTORY` or `SPEC`), and `NASTY`, the named cases every
reader must survive whatever its family.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from labrys.history._edn import dumps as edn

# -- values an op can carry, and values it cannot ----------------------------------------

_DEEP = 3_000
NASTY_TEXT = {
    "nan": "NaN",
    "infinity": "-Infinity",
    "huge-exponent": "1e999999",
    "huge-integer": "9" * 50_000,
    "deep-vector": "[" * _DEEP + "]" * _DEEP,
    "deep-map": '{"a":' * _DEEP + "1" + "}" * _DEEP,
    "deep-edn-map": "{:a " * _DEEP + "1" + "}" * _DEEP,
    "edn-nan": "##NaN",
    "edn-set-of-maps": "#{{:a 1} {:b 2} [1] :k}",
    "edn-map-key-mixed": "{{1 2, :a 3} 4}",
    "edn-ratio-zero": "1/0",
    "edn-tag": "#inst \"2020\"",
    "edn-char": "\\u12",
    "nul": '"a\u0000b"',
    "nul-raw": "\u0000",
    "surrogate": '"\\ud800"',
    "long-string": '"' + "x" * 20_000 + '"',
    "bool": "true",
    "empty-list": "[]",
}

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10, 10),
    st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8), st.sampled_from(["x", "y", "r", "w", "append", "read"]),
)
_values = st.recursive(
    _scalars, lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=3), inner, max_size=3), max_leaves=12)


@st.composite
def _op_value(draw: st.DrawFn, f: str) -> Any:
    """A plausible value for an op calling ``f``."""
    if f == "txn":
        return [[draw(st.sampled_from(["r", "w", "append"])), draw(st.sampled_from("xyz")),
                 draw(st.none() | st.integers(0, 9) | st.lists(st.integers(0, 9), max_size=3))]
                for _ in range(draw(st.integers(0, 3)))]
    if f == "cas":
        return [draw(st.integers(0, 5)), draw(st.integers(0, 5))]
    if draw(st.booleans()):
        return [draw(st.sampled_from("xyz")), draw(st.none() | st.integers(0, 9))]
    return draw(st.none() | st.integers(0, 9))


@st.composite
def valid_records(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A valid history: processes each invoking and completing ops in turn."""
    records: list[dict[str, Any]] = []
    in_flight: dict[Any, dict[str, Any]] = {}
    processes = draw(st.lists(st.integers(0, 5) | st.just("nemesis"), min_size=1,
                              max_size=4, unique=True))
    for _ in range(draw(st.integers(0, 12))):
        p = draw(st.sampled_from(processes))
        if p in in_flight:
            invoked = in_flight.pop(p)
            t = "info" if p == "nemesis" else draw(st.sampled_from(["ok", "ok", "fail", "info"]))
            records.append({**invoked, "type": t, "time": len(records)})
        else:
            f = "partition" if p == "nemesis" else draw(
                st.sampled_from(["read", "write", "cas", "txn", "add"]))
            value = None if p == "nemesis" else draw(_op_value(f))
            t = "info" if p == "nemesis" else "invoke"
            op = {"process": p, "type": t, "f": f, "value": value, "time": len(records)}
            records.append(op)
            in_flight[p] = op
    for i, r in enumerate(records):
        r["index"] = i
    return records


@st.composite
def _broken_records(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A valid history with one field made wrong, or one op removed or repeated."""
    records = [dict(r) for r in draw(valid_records())]
    if not records:
        return records
    i = draw(st.integers(0, len(records) - 1))
    change = draw(st.sampled_from(["field", "drop-field", "drop-op", "repeat-op", "none"]))
    if change == "field":
        field = draw(st.sampled_from(["type", "process", "f", "value", "time", "index",
                                      "node", "error", "key"]))
        records[i][field] = draw(_values)
    elif change == "drop-field":
        records[i].pop(draw(st.sampled_from(sorted(records[i]))), None)
    elif change == "drop-op":
        del records[i]
    elif change == "repeat-op":
        records.insert(i, dict(records[i]))
    return records


# -- rendering a history in each format -------------------------------------------------


def _json(value: Any) -> str:
    return json.dumps(value, default=str)


def _edn_value(value: Any) -> str:
    try:
        return edn(value, keywordize=False)
    except TypeError:
        return _json(value)


def _edn_map(record: dict[str, Any]) -> str:
    parts = []
    for k, v in record.items():
        keyword = k in ("type", "f") and isinstance(v, str) and v.isidentifier()
        parts.append(f":{k} " + (f":{v}" if keyword else _edn_value(v)))
    return "{" + ", ".join(parts) + "}"


def _porcupine_etcd(record: dict[str, Any]) -> str:
    return (f"INFO  jepsen.util - {record.get('process')} :{record.get('type')} "
            f":{record.get('f')} {_edn_value(record.get('value'))}")


def _porcupine_kv(record: dict[str, Any]) -> str:
    value = record.get("value")
    key, v = (value[0], value[1]) if isinstance(value, list) and len(value) == 2 else ("k", value)
    return _edn_map({"process": record.get("process"), "type": record.get("type"),
                     "f": record.get("f"), "key": key, "value": v})


RENDERERS = {
    "jsonl": lambda rs: "\n".join(_json(r) for r in rs),
    "jepsen-edn": lambda rs: "\n".join(_edn_map(r) for r in rs),
    "jepsen-edn-vector": lambda rs: "[" + "\n ".join(_edn_map(r) for r in rs) + "]",
    "elle-cli-json": lambda rs: "[\n" + ",\n".join(_json(r) for r in rs) + "\n]",
    "porcupine-etcd": lambda rs: "\n".join(_porcupine_etcd(r) for r in rs),
    "porcupine-kv": lambda rs: "\n".join(_porcupine_kv(r) for r in rs),
}


# -- specs ---------------------------------------------------------------------------

_SPEC_KEYS = {
    "name": st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True),
    "target": st.sampled_from(["etcd", "redis", "postgres"]),
    "nodes": st.integers(1, 7),
    "workload": st.sampled_from(["register", "set", "bank"]),
    "nemesis": st.lists(st.sampled_from(["partition", "kill", "pause"]), unique=True),
    "nemesis_interval": st.floats(0.5, 30),
    "topologies": st.lists(st.sampled_from(["primaries", "halves"]), unique=True),
    "time_limit": st.floats(1, 600),
    "concurrency": st.integers(1, 50),
    "rate": st.floats(0, 1000),
    "seed": st.integers(0, 2**63),
    "store": st.just("results"),
    "leave_running": st.booleans(),
    "options": st.dictionaries(st.sampled_from(["read_mode", "sync", "wait"]),
                               st.sampled_from(["serializable", "on", "2"]), max_size=2),
}


@st.composite
def spec_tables(draw: st.DrawFn) -> dict[str, Any]:
    """A spec table, valid or with one key or value wrong."""
    keys = draw(st.lists(st.sampled_from(sorted(_SPEC_KEYS)), unique=True, max_size=6))
    table = {k: draw(_SPEC_KEYS[k]) for k in keys}
    change = draw(st.sampled_from(["none", "value", "key"]))
    if change == "value" and keys:
        table[draw(st.sampled_from(keys))] = draw(_values)
    elif change == "key":
        table[draw(st.text(max_size=6))] = draw(_values)
    return table


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return {"nan": "nan", "inf": "inf", "-inf": "-inf"}.get(str(value), repr(value))
    if isinstance(value, int | str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}"
                               for k, v in value.items()) + "}"
    return '""'


def _toml(table: dict[str, Any]) -> str:
    return "\n".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in table.items())


def _test_json(table: dict[str, Any]) -> str:
    return json.dumps({"spec": table, "seed": table.get("seed"), "labrys": "0.1.0"},
                      default=str)


# -- mutations of text ------------------------------------------------------------------


def _utf8(text: str) -> bytes:
    """``text`` as UTF-8, a lone surrogate written as the bytes it stands for."""
    return text.encode("utf-8", "surrogatepass")


@st.composite
def _mutated(draw: st.DrawFn, text: str) -> bytes:
    """``text`` as UTF-8, with up to two edits: cut, insert, delete, repeat a line…"""
    data = _utf8(text)
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(data)))
        edit = draw(st.sampled_from(["cut", "insert", "nasty", "delete", "byte",
                                     "repeat-line", "invalid-utf8", "nul"]))
        if edit == "cut":
            data = data[:at]
        elif edit == "insert":
            data = data[:at] + _utf8(draw(st.text(max_size=6))) + data[at:]
        elif edit == "nasty":
            nasty = NASTY_TEXT[draw(st.sampled_from(sorted(NASTY_TEXT)))]
            data = data[:at] + _utf8(nasty) + data[at:]
        elif edit == "delete":
            data = data[:at] + data[at + draw(st.integers(1, 8)):]
        elif edit == "byte" and data:
            at = min(at, len(data) - 1)
            data = data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1:]
        elif edit == "repeat-line":
            lines = data.split(b"\n")
            k = draw(st.integers(0, len(lines) - 1))
            lines.insert(k, lines[k])
            data = b"\n".join(lines)
        elif edit == "invalid-utf8":
            data = data[:at] + b"\xff\xfe\xc3" + data[at:]
        elif edit == "nul":
            data = data[:at] + b"\x00" + data[at:]
    return data


@st.composite
def _history_document(draw: st.DrawFn) -> bytes:
    records = draw(_broken_records())
    render = RENDERERS[draw(st.sampled_from(sorted(RENDERERS)))]
    return draw(_mutated(render(records)))


@st.composite
def _spec_document(draw: st.DrawFn) -> bytes:
    table = draw(spec_tables())
    render = draw(st.sampled_from([_toml, _test_json]))
    return draw(_mutated(render(table)))


def _nasty_document(name: str) -> st.SearchStrategy[bytes]:
    """A nasty value where an op's or a spec's value belongs, in each syntax."""
    text = NASTY_TEXT[name]
    return st.sampled_from([
        f'{{"type":"invoke","process":0,"f":"read","value":{text}}}',
        f'{{"type":"invoke","process":{text},"f":"read"}}',
        f'{{"type":"invoke","process":0,"f":"read","time":{text}}}',
        f'{{"type":{text},"process":0,"f":"read"}}',
        f"[{{:type :invoke, :process 0, :f {text}}}]",
        f"{{:type :invoke, :process 0, :f :read, :value {text}}}",
        f"INFO  jepsen.util - 0 :invoke :read {text}",
        f'{{:process 0, :type :invoke, :f :put, :key {text}, :value 1}}',
        f"[{text}]",
        text,
        f"time_limit = {text}",
        f'nodes = 3\n[options]\nread_mode = {text}',
        f'{{"spec": {{"seed": {text}}}}}',
        f'{{"spec": {text}}}',
    ]).map(_utf8)


NASTY = st.sampled_from(sorted(NASTY_TEXT)).flatmap(_nasty_document)
"""A nasty value in one of the places a reader meets values."""

_FAMILIES = {"history": _history_document(), "spec": _spec_document()}


def inputs_for(family: str) -> st.SearchStrategy[bytes]:
    """Bytes for a reader of ``family``: mostly its own documents, also the others',
    nasty values, and arbitrary bytes."""
    own = _FAMILIES[family]
    others = st.one_of(*(s for name, s in _FAMILIES.items() if name != family))
    return st.one_of(own, own, own, NASTY, others, st.binary(max_size=200))
