"""Every reader of user files, and the contract the fuzz tests hold each of them to.

A reader takes a path and returns what it read (a history, a spec) or raises
`LabrysError`, which the command line prints as one line and turns into exit status 255.
The contract, for *any* file:

- the outcome is a value or a `LabrysError`: never another exception (a traceback to
  the user), never a `RecursionError` or `MemoryError`;
- the error is one short line (at most `MAX_MESSAGE` characters, no newline), so that
  the user can read it and a script can grep it;
- the reader returns within `TIME_LIMIT_S` seconds on the inputs the fuzzers make (the
  watchdog turns a hang into a failure naming the input);
- what it returns is safe to use: a history's strings are Unicode text (they can be
  printed) and its values are nested no deeper than the readers promise
  (`history_is_usable`).

Readers are reached through the public entry points only (`read_history`,
`parse_history`, `load_spec_file` and `build_spec`), so that whatever implementation
sits behind them (the Rust core's readers, a new format) is fuzzed too. Adding a
reader is one line in `READERS`: a name, a function of a path, the file suffix it
expects, and which generated documents to seed it with (see `tests.fuzz.inputs`).
Every history format in `labrys.history.FORMATS` is fuzzed automatically.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from labrys.claims import load_claims_file
from labrys.errors import LabrysError
from labrys.harness._spec import build_spec, load_spec_file
from labrys.history import FORMATS, History, parse_history, read_history
from labrys.suite import load_suite_file

MAX_MESSAGE = 1000
"""The longest error line a reader may print (a path of a few hundred characters included)."""

TIME_LIMIT_S = 20.0
"""How long one read may take before the watchdog calls it a hang. Inputs are at most a
few megabytes, which every reader reads in well under a second; the margin is for a
machine shared with other work."""

HISTORY = "history"
SPEC = "spec"
"""Seed families: which structured documents suit a reader (`tests.fuzz.inputs`)."""


@dataclass(frozen=True, slots=True)
class Reader:
    """A reader as the fuzz tests see it.

    Attributes:
        name: shown in test ids and in the fuzz run's report.
        read: reads the file at a path, returning anything, raising `LabrysError` on
            bad input.
        suffix: the suffix the file is given (some readers choose a parser by it).
        seeds: the family of structured documents to mutate for it.
        in_memory: the reader is an in-memory API (it is handed the whole text), so
            the tests of files too big to hold skip it.
        usable: raises AssertionError when what the reader returned is not safe to use.
    """

    name: str
    read: Callable[[Path], Any]
    suffix: str
    seeds: str
    in_memory: bool = False
    usable: Callable[[Any], None] = lambda value: None


def _history_text(path: Path) -> Any:
    """`parse_history` on text that may hold anything a file can (lone surrogates
    stand for the bytes that are not UTF-8)."""
    return parse_history(path.read_bytes().decode("utf-8", "surrogateescape"))


def _spec(path: Path) -> Any:
    """What ``labrys run SPEC`` does with a file before it starts anything."""
    return build_spec(load_spec_file(path))


MAX_DEPTH = 100
"""How deep the readers promise a value is nested at most (`labrys.history._limits`)."""


def history_is_usable(history: History) -> None:
    """Every string of every op encodes as UTF-8, and no value nests past `MAX_DEPTH`."""
    for op in history:
        stack = [(op.to_json(), 1)]
        while stack:
            value, depth = stack.pop()
            assert depth <= MAX_DEPTH + 1, f"op {op.index} nests deeper than {MAX_DEPTH}"
            if isinstance(value, str):
                value.encode("utf-8")  # UnicodeEncodeError: not printable text
            elif isinstance(value, list | tuple):
                stack.extend((v, depth + 1) for v in value)
            elif isinstance(value, dict):
                stack.extend((v, depth + 1) for v in (*value, *value.values()))


READERS: tuple[Reader, ...] = (
    Reader("history", read_history, ".jsonl", HISTORY, usable=history_is_usable),
    *(Reader(f"history-{f}", partial(read_history, format=f), ".txt", HISTORY,
             usable=history_is_usable) for f in FORMATS),
    Reader("history-text", _history_text, ".txt", HISTORY, in_memory=True,
           usable=history_is_usable),
    Reader("spec-toml", _spec, ".toml", SPEC),
    Reader("spec-test-json", _spec, ".json", SPEC),
    Reader("suite", load_suite_file, ".toml", SPEC),
    Reader("claims", load_claims_file, ".toml", SPEC),
)


class Hang(Exception):
    """A read that outlived `TIME_LIMIT_S`."""


@contextmanager
def watchdog(seconds: float) -> Iterator[None]:
    """Raise `Hang` in the reading thread after ``seconds`` (SIGALRM; main thread only)."""
    def ring(signum: int, frame: object) -> None:
        raise Hang(f"no answer after {seconds} s")

    previous = signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def holds_contract(reader: Reader, data: bytes, folder: Path) -> Any:
    """Read ``data`` with ``reader`` and fail (AssertionError) if the contract breaks.

    Returns:
        What the reader returned, or the `LabrysError` it raised.
    """
    path = folder / f"input{reader.suffix}"
    path.write_bytes(data)
    try:
        with watchdog(TIME_LIMIT_S):
            value = reader.read(path)
        reader.usable(value)
        return value
    except LabrysError as e:
        message = str(e)
        assert message, f"{reader.name}: an empty error message"
        assert "\n" not in message, f"{reader.name}: a message of several lines: {message!r}"
        assert len(message) <= MAX_MESSAGE, (
            f"{reader.name}: a message of {len(message)} characters: {message[:200]!r}…")
        return e
