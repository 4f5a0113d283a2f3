"""JSON Lines, the native history format: one op per line, written as it happens.

One op per line is what makes a history survive a crash of the harness (everything
flushed before the crash is readable) and what lets a million-op history be read
without a million-element array in memory at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, Self

from labrys.errors import HistoryError, brief
from labrys.history._limits import (
    MAX_DEPTH,
    holds_surrogate,
    nested_too_deep,
    surrogate_error,
    too_deep_error,
    too_long_number_error,
)
from labrys.history._op import Op


def decode_json(text: str, *, line: int | None = None) -> Any:
    """The JSON value in ``text``, nested at most `MAX_DEPTH` deep.

    Raises:
        HistoryError: the text is not JSON, or nests too deeply.
    """
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise HistoryError(f"not JSON ({e.msg}, column {e.colno})",
                           line=e.lineno if line is None else line) from None
    except RecursionError:
        raise too_deep_error(line) from None
    except ValueError:  # the only other thing json.loads refuses: too many digits
        raise too_long_number_error(line) from None
    # Counting brackets is cheap; the walk runs only where the count allows deep nesting.
    if text.count("[") + text.count("{") > MAX_DEPTH and nested_too_deep(value):
        raise too_deep_error(line)
    # json pairs surrogate escapes itself; a lone one can only come from an escape, so
    # only text with escapes is walked.
    if "\\u" in text and holds_surrogate(value):
        raise surrogate_error(line)
    return value


def iter_jsonl_records(lines: Iterable[str]) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """Yield ``(line number, record)`` for each non-blank line.

    Raises:
        HistoryError: a line is not a JSON object.
    """
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        record = decode_json(line, line=number)
        if not isinstance(record, dict):
            raise HistoryError(f"expected a JSON object per line, got {brief(line.strip())}",
                               line=number)
        yield number, record


def _default(value: Any) -> Any:
    if isinstance(value, set | frozenset):
        return sorted(value)
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# One encoder for every op: `json.dumps` with arguments builds a new encoder per call,
# which doubled the cost of writing an op (the harness writes every op as it happens).
_ENCODER = json.JSONEncoder(separators=(",", ":"), default=_default)


def dumps_op(op: Op) -> str:
    """One op as one line of JSON (no trailing newline)."""
    return _ENCODER.encode(op.to_json())


class JsonlWriter:
    """Appends ops to a file, flushing each, so a crash loses nothing already written."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._file: IO[str] = self.path.open("a", encoding="utf-8", buffering=1)

    def write(self, op: Op) -> None:
        self._file.write(dumps_op(op) + "\n")

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_jsonl(ops: Iterable[Op], path: str | Path) -> None:
    """Write a whole history as JSON Lines, replacing the file."""
    with Path(path).open("w", encoding="utf-8") as out:
        for op in ops:
            out.write(dumps_op(op) + "\n")
