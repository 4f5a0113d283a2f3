"""What the readers refuse, so that no file can exhaust the memory or the stack.

A history is read from files that may be truncated, binary, or written by a tool gone
wrong, and every reader must answer with a history or one line saying what is wrong.
Two limits make that possible without
ever holding a bad file whole:

- A *line* is at most `MAX_LINE_CHARS` characters. JSON Lines and Porcupine's logs
  hold one op per line; Jepsen's EDN one map per line or one vector of such lines;
  elle-cli writes its JSON array on one line, which at this limit still holds about
  half a million ops. Readers take lines from the file with this bound, so a 1 GB line
  is refused after reading 64 MiB of it, and a larger history is read by lines as
  long as its lines are short.
- Text is Unicode: a string holding half of a UTF-16 surrogate pair (JSON's and EDN's
  ``\ud800`` escapes allow one) cannot be printed or written as UTF-8, so it is
  refused; EDN's escapes of a whole pair read as the one character they stand for.
- A value is nested at most `MAX_DEPTH` levels deep. Jepsen's deepest values (a
  transaction of micro-ops reading lists) are four or five levels; a limit far above
  that keeps every recursive function downstream (freezing values for the checkers,
  writing EDN, printing) well inside Python's stack. EDN's reader counts depth as it
  goes; JSON's is checked on the rare lines with more than `MAX_DEPTH` brackets.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, TextIO

from labrys.errors import HistoryError, brief

MAX_LINE_CHARS = 64 << 20
"""The longest line a reader takes from a file (64 Mi characters)."""

MAX_DEPTH = 100
"""The deepest nesting of lists and maps a history value may have."""

_CHUNK = 1 << 20
SURROGATE = re.compile("[\ud800-\udfff]")
"""Half of a UTF-16 surrogate pair, which no Unicode text holds."""


def line_too_long(number: int) -> HistoryError:
    """The error for a line past `MAX_LINE_CHARS`."""
    return HistoryError(
        f"this line is longer than {MAX_LINE_CHARS >> 20} MiB; a history has one op a line "
        "(or an elle-cli array of at most about half a million ops): is this a history? "
        "Split a longer array one op a line (JSON Lines)", line=number)


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


def bounded_lines(f: TextIO) -> Iterator[str]:
    """The lines of ``f``, each read with the `MAX_LINE_CHARS` bound.

    Raises:
        HistoryError: a line is longer (having read only `MAX_LINE_CHARS` of it).
    """
    limit = MAX_LINE_CHARS
    number = 0
    while line := f.readline(limit + 1):
        number += 1
        if len(line) > limit and not line.endswith("\n"):
            raise line_too_long(number)
        yield line


def read_bounded(f: TextIO) -> str:
    """The rest of ``f`` as one text, refusing a line past `MAX_LINE_CHARS` as soon as
    it is seen (whole formats read the file at once, but never a monster line whole).

    Raises:
        HistoryError: a line is longer.
    """
    limit = MAX_LINE_CHARS
    chunks: list[str] = []
    run = 0  # characters since the last newline
    number = 1
    while chunk := f.read(min(_CHUNK, limit)):
        first = chunk.find("\n")
        if first < 0:
            run += len(chunk)
        else:
            if run + first > limit:
                raise line_too_long(number)
            number += chunk.count("\n")
            run = len(chunk) - chunk.rfind("\n") - 1
        if run > limit:
            raise line_too_long(number)
        chunks.append(chunk)
    return "".join(chunks)


def surrogate_error(line: int | None) -> HistoryError:
    """The error for a string holding half of a UTF-16 surrogate pair."""
    return HistoryError("a string holds half of a UTF-16 surrogate pair (an escape such as "
                        "\\ud800 without its partner), which is not Unicode text", line=line)


def whole_pairs(text: str, line: int | None) -> str:
    """``text`` with each UTF-16 surrogate pair made the one character it stands for.

    Raises:
        HistoryError: half of a pair stands alone.
    """
    try:
        return text.encode("utf-16", "surrogatepass").decode("utf-16")
    except UnicodeDecodeError:
        raise surrogate_error(line) from None


def holds_surrogate(value: Any) -> bool:
    """Whether any string in ``value`` (keys of maps too) holds a surrogate."""
    stack = [value]
    while stack:
        v = stack.pop()
        if type(v) is str:
            if SURROGATE.search(v):
                return True
        elif type(v) is list:
            stack.extend(v)
        elif type(v) is dict:
            stack.extend(v)
            stack.extend(v.values())
    return False


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
