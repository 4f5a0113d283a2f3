"""Reading histories written by labrys, Jepsen, Porcupine's users and elle-cli.

Every reader turns a file into ``(line, record)`` pairs, records being plain dicts with
the native field names; `History.from_records` then validates them all the same way.
So a format's quirks live here and nowhere else:

- ``jsonl`` (native): one JSON object per line.
- ``jepsen-edn``: Jepsen's ``history.edn``, one map per line, or one vector of maps.
- ``elle-cli-json``: the same maps as JSON objects in one array (elle-cli's input).
- ``porcupine-etcd``: Jepsen's log lines ``INFO jepsen.util - 3 :invoke :cas [1 2]``, as
  in Porcupine's ``test_data/jepsen``. As Porcupine reads them, a read that failed with
  ``:timed-out`` has an unknown result: it becomes ``info``, so it may or may not
  have happened, and a read that may not have happened constrains nothing.
- ``porcupine-kv``: one EDN map per line with a separate ``:key``; the key moves into the
  value as ``[key, value]``, the shape of Jepsen's independent keys, which is what the
  ``kv`` model reads.

The format is guessed from the first bytes of the file (see `detect_format`); pass it
explicitly to override the guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from labrys.errors import HistoryError, UsageError, brief
from labrys.history._edn import dumps as edn_dumps
from labrys.history._edn import iter_forms
from labrys.history._history import History
from labrys.history._jsonl import decode_json, iter_jsonl_records
from labrys.history._limits import SURROGATE, bounded_lines, read_bounded, surrogate_error
from labrys.history._op import Op

FORMATS = ("jsonl", "jepsen-edn", "elle-cli-json", "porcupine-etcd", "porcupine-kv")

_PORCUPINE_LINE = re.compile(r"jepsen\.util\s+-\s+(\S+)\s+:(\w+)\s+:(\w+)\s+(.*?)\s*$")


def detect_format(head: str) -> str:
    """Guess a history's format from the start of its text.

    Raises:
        HistoryError: nothing about the text looks like a known format.
    """
    text = re.sub(r"\A(\s*;[^\n]*\n?)*", "", head).lstrip()  # EDN comments
    if not text:
        return "jsonl"  # an empty history is valid in every format
    if "jepsen.util" in text.splitlines()[0]:
        return "porcupine-etcd"
    if text.startswith("{\""):
        return "jsonl"
    if text.startswith("[") and text[1:].lstrip().startswith("{\""):
        return "elle-cli-json"
    if text[0] in "{[(":
        first = text.splitlines()[0]
        if ":key " in first and ":process" in first:
            return "porcupine-kv"
        return "jepsen-edn"
    raise HistoryError(
        f"cannot tell the format of a history starting {text[:40]!r}; pass --format, one of "
        + ", ".join(FORMATS)
    )


def _edn_records(text: str) -> Iterator[tuple[int | None, Mapping[str, Any]]]:
    """Jepsen EDN: a sequence of maps, or one vector (or list) holding them."""
    forms = iter_forms(text)
    for line, form in forms:
        if isinstance(form, list):
            # One vector of ops. Line numbers inside it are lost by the reader; ops
            # are still named by index in every message.
            for op in form:
                yield None, op
        else:
            yield line, form


def _porcupine_kv_records(text: str) -> Iterator[tuple[int | None, Mapping[str, Any]]]:
    for line, form in iter_forms(text):
        if not isinstance(form, dict):
            raise HistoryError(f"expected a map per line, got {brief(form)}", line=line)
        record = dict(form)
        record["value"] = [record.pop("key", None), record.get("value")]
        yield line, record


def _porcupine_etcd_records(text: str) -> Iterator[tuple[int | None, Mapping[str, Any]]]:
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        m = _PORCUPINE_LINE.search(raw)
        if m is None:
            raise HistoryError("not a Jepsen log line ('jepsen.util - PROCESS :TYPE :F VALUE')",
                               line=number)
        process_text, op_type, f, value_text = m.groups()
        try:
            process: int | str = int(process_text)
        except ValueError:
            process = process_text.lstrip(":")
        value = None
        if value_text and value_text != ":timed-out":
            value = next(iter_forms(value_text, first_line=number))[1]
        if op_type == "fail" and value_text == ":timed-out":
            # Porcupine: a failed read that timed out has an unknown result.
            op_type = "info"
        yield number, {"process": process, "type": op_type, "f": f, "value": value}


def _elle_cli_json_records(text: str) -> Iterator[tuple[int | None, Mapping[str, Any]]]:
    ops = decode_json(text)
    if not isinstance(ops, list):
        raise HistoryError("elle-cli JSON is one array of ops; this is not an array")
    for op in ops:
        yield None, op


_READERS = {
    "jsonl": lambda text: iter_jsonl_records(text.splitlines()),
    "jepsen-edn": _edn_records,
    "elle-cli-json": _elle_cli_json_records,
    "porcupine-etcd": _porcupine_etcd_records,
    "porcupine-kv": _porcupine_kv_records,
}


def parse_history(text: str, *, format: str | None = None) -> History:
    """A validated history from its text.

    Raises:
        UsageError: ``format`` names no known format.
        HistoryError: the text is malformed, with its line or op index.
    """
    chosen = format or detect_format(text[:4096])
    if chosen not in _READERS:
        raise UsageError(f"unknown history format {chosen!r}; known: {', '.join(FORMATS)}")
    # Text from a file is UTF-8 and holds none; text a caller decoded leniently may.
    found = SURROGATE.search(text)
    if found:
        raise surrogate_error(text.count("\n", 0, found.start()) + 1)
    return History.from_records(_READERS[chosen](text))


def read_history(path: str | Path, *, format: str | None = None) -> History:
    """Read and validate the history in ``path``.

    JSON Lines is read line by line; the other formats are read whole (their files are
    written by tools that hold the whole history in memory anyway). Either way no line
    longer than `labrys.history._limits.MAX_LINE_CHARS` is ever held: it is refused.

    Raises:
        UsageError: the file does not exist or ``format`` is unknown.
        HistoryError: the history is malformed; the error names the file and line.
    """
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as f:
            head = f.read(4096)
            chosen = format or detect_format(head)
            f.seek(0)
            if chosen == "jsonl":
                return History.from_records(iter_jsonl_records(bounded_lines(f)))
            text = read_bounded(f)
        return parse_history(text, format=chosen)
    except FileNotFoundError:
        raise UsageError(f"no such history file: {path}") from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory; give the history file inside it") from None
    except UnicodeDecodeError:
        raise HistoryError("not a text file", path=path) from None
    except HistoryError as e:
        raise e.at(path=path) from None


# Strings that Jepsen writes as keywords. Values are written as strings otherwise: a kv
# value "x 1 0 y" must stay a string, while micro-op names inside a transaction
# (["append", "x", 1]) are keywords in Jepsen's own files.
_KEYWORD_FIELDS = ("type", "f")
_MICRO_OPS = frozenset({"append", "r", "w", "read", "write"})


def _edn_value(value: Any) -> str:
    if isinstance(value, list) and value and all(
        isinstance(m, list) and m and m[0] in _MICRO_OPS for m in value
    ):
        return "[" + " ".join(
            "[" + " ".join([":" + m[0], *(edn_dumps(x, keywordize=False) for x in m[1:])]) + "]"
            for m in value
        ) + "]"
    return edn_dumps(value, keywordize=False)


def op_to_edn(op: Op) -> str:
    """One op as a Jepsen EDN map, the way Jepsen writes ``history.edn``."""
    fields = op.to_json()
    parts = []
    for key, value in fields.items():
        if key in _KEYWORD_FIELDS or (key == "process" and isinstance(value, str)):
            text = edn_dumps(value, keywordize=True)
        elif key == "value":
            text = _edn_value(value)
        else:
            text = edn_dumps(value, keywordize=False)
        parts.append(f":{key} {text}")
    return "{" + ", ".join(parts) + "}"


def write_jepsen_edn(history: History, path: str | Path) -> None:
    """Export a history for Jepsen's own tools (Knossos, Elle, elle-cli): one map a line."""
    with Path(path).open("w", encoding="utf-8") as out:
        for op in history:
            out.write(op_to_edn(op) + "\n")
