"""What the readers refuse, so that no file can exhaust the memory or the stack.

A history is read from files that may be truncated, binary, or written by a tool gone
wrong, and every reader must answer with a history or one line saying what is wrong.
The limit on nesting makes that
possible without recursion:

- A value is nested at most `MAX_DEPTH` levels deep. Jepsen's deepest values (a
  transaction of micro-ops reading lists) are four or five levels; a limit far above
  that keeps every recursive function downstream (freezing values for the checkers,
  writing EDN, printing) well inside Python's stack. EDN's reader counts depth as it
  goes; JSON's is checked on the rare lines with more than `MAX_DEPTH` brackets.
"""

from __future__ import annotations

from typing import Any

from labrys.errors import HistoryError, brief

MAX_DEPTH = 100
"""The deepest nesting of lists and maps a history value may have."""


def too_long_number_error(line: int | None, text: str | None = None) -> HistoryError:
    """The error for an integer past Python's 4,300 decimal digits (Python refuses to
    convert longer ones, since doing so takes time quadratic in their length)."""
    number = "a number" if text is None else f"the number {brief(text)}"
    return HistoryError(f"{number} has more than 4300 digits; no history needs one that "
                        "long: is this a history?", line=line)


def too_deep_error(line: int | None) -> HistoryError:
    """The error for a value nested past `MAX_DEPTH`."""
    return HistoryError(f"a value is nested more than {MAX_DEPTH} levels deep; no history "
                        "op needs that many: is this a history?", line=line)


def nested_too_deep(value: Any) -> bool:
    """Whether ``value`` has lists or maps nested more than `MAX_DEPTH` levels deep
    (iteratively, so that the check itself cannot overflow the stack)."""
    if type(value) is not list and type(value) is not dict:
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if depth > MAX_DEPTH:
            return True
        for x in (v.values() if type(v) is dict else v):
            if type(x) is list or type(x) is dict:
                stack.append((x, depth + 1))
    return False
