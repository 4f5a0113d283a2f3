"""What `labrys check` does, apart from printing: pick a model, check files, rank results.

The command line is a thin shell over these functions so that scripts and tests can
call them without a terminal.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from labrys.checkers import CheckOptions, Verdict, get_checker, run_checker, worst
from labrys.checkers._verdict import exit_status
from labrys.errors import LabrysError, UsageError
from labrys.history import History, read_history

# Checkers that judge a history against a sequential model, and so need one.
MODEL_CHECKERS = frozenset({"linearizable", "sequential"})

# The model each family of operations implies, in the order they are tried. A history
# whose client ops all use functions from one set is taken to be of that model.
_MODEL_BY_FUNCTIONS: tuple[tuple[str, frozenset[str]], ...] = (
    ("cas-register", frozenset({"read", "write", "cas"})),
    ("kv", frozenset({"get", "put", "append"})),
    ("mutex", frozenset({"acquire", "release"})),
    ("multi-register", frozenset({"txn"})),
    ("fifo-queue", frozenset({"enqueue", "dequeue"})),
)
_ADD_READ = frozenset({"add", "read"})


def guess_model(history: History) -> str:
    """The model a history's operations suggest, for when the user named none.

    Raises:
        UsageError: the functions used match no built-in model.
    """
    used = history.client_functions()
    if used <= _ADD_READ and "add" in used:
        # A set and a counter share their functions; a set's reads return collections.
        reads = (op.value for op in history.client_ops() if op.f == "read" and op.value)
        return "set" if any(isinstance(v, list) for v in reads) else "counter"
    for model, functions in _MODEL_BY_FUNCTIONS:
        if used <= functions:
            return model
    raise UsageError(
        f"cannot tell which model fits functions {sorted(used)}; pass --model "
        "(see `labrys check --help`)"
    )


@dataclass(frozen=True, slots=True)
class FileResult:
    """How checking one file ended: a verdict, or the one-line error that prevented it."""

    path: Path
    verdict: Verdict | None
    error: str | None = None

    @property
    def status(self) -> int:
        return 255 if self.verdict is None else exit_status(self.verdict.valid)


def check_file(path: Path, checker: str, options: CheckOptions, *,
               format: str | None = None) -> Verdict:
    """Read ``path`` and check it.

    Raises:
        LabrysError: the file is unreadable or malformed, or the options are wrong.
    """
    get_checker(checker)  # an unknown checker is refused before the file is read
    history = read_history(path, format=format)
    if checker in MODEL_CHECKERS and options.model is None:
        options = replace(options, model=guess_model(history))
    return run_checker(checker, history, options)


def check_files(paths: Iterable[Path], checker: str, options: CheckOptions, *,
                format: str | None = None) -> list[FileResult]:
    """Check each file; an unreadable one is recorded as an error, not raised.

    Files are checked a few at a time, on threads: the native core releases Python's
    lock while it reads and searches, so on a machine with several cores those overlap
    (checkers in pure Python simply take turns). Results come back in the order given.
    """
    paths = list(paths)

    def one(path: Path) -> FileResult:
        try:
            return FileResult(path, check_file(path, checker, options, format=format))
        except UsageError:
            raise
        except LabrysError as e:
            return FileResult(path, None, str(e))

    if len(paths) <= 1:
        return [one(p) for p in paths]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(len(paths), os.cpu_count() or 1)) as pool:
        return list(pool.map(one, paths))


def overall_status(results: Iterable[FileResult]) -> int:
    """The worst exit status: an error (255) beats invalid (1) beats unknown (2) beats 0."""
    results = list(results)
    if any(r.verdict is None for r in results):
        return 255
    return exit_status(worst(r.verdict.valid for r in results if r.verdict is not None))
