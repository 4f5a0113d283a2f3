"""Histories: what happened during a test, op by op.

A history is the only thing between a cluster and a checker. This package defines
its two types, `Op` (one recorded event) and `History` (the ops in order, validated,
invocations paired with completions), and reads and writes the formats in use:
labrys's own JSON Lines, Jepsen's EDN, elle-cli's JSON and Porcupine's test logs.

Example:
    >>> h = parse_history('{"type":"invoke","process":0,"f":"read","value":null}\\n'
    ...                   '{"type":"ok","process":0,"f":"read","value":1}')
    >>> [op.value for op in h.operations()]
    [1]
"""

from labrys.history._formats import (
    FORMATS,
    detect_format,
    op_to_edn,
    parse_history,
    read_history,
    write_jepsen_edn,
)
from labrys.history._history import History, op_from_dict
from labrys.history._jsonl import JsonlWriter, dumps_op, write_jsonl
from labrys.history._op import NEMESIS, Op, Operation, OpType, Process

__all__ = [
    "FORMATS",
    "NEMESIS",
    "History",
    "JsonlWriter",
    "Op",
    "OpType",
    "Operation",
    "Process",
    "detect_format",
    "dumps_op",
    "op_from_dict",
    "op_to_edn",
    "parse_history",
    "read_history",
    "write_jepsen_edn",
    "write_jsonl",
]
