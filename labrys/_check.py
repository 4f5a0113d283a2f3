"""What `labrys check` does, apart from printing: pick a model, check files, rank results.

A file is checked one of two ways. A stored run (a run folder, or a history with the
run's ``test.json`` beside it) is checked by its own workload's checks, with its own
options (`labrys._stored_run`), unless a ``--checker`` is named. Any other history is
checked by the named checker, ``linearizable`` by default, with what the user left out
guessed from the operations: the model, and whether values are ``[key value]`` pairs
of independent keys.

The command line is a thin shell over these functions so that scripts and tests can
call them without a terminal.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from labrys._stored_run import HISTORY, check_stored_run, find_stored_run
from labrys.checkers import CheckOptions, Verdict, get_checker, run_checker, worst
from labrys.checkers._verdict import exit_status
from labrys.errors import LabrysError, UsageError
from labrys.history import History, OpType, read_history
from labrys.models import KV

DEFAULT_CHECKER = "linearizable"
"""The checker of a history that is not a stored run, when none is named."""

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


def looks_independent(history: History) -> bool:
    """Whether the history's values are ``[key value]`` pairs of independent keys.

    Jepsen's ``independent`` workloads (and labrys's register workload) record every
    value as ``[key value]``: a read invoked as ``[3 nil]`` returns ``[3 1]``, a cas
    carries ``[3 [1 2]]``. Checked as one object, such a history is nonsense (a read of
    key 0 "returned [0 nil], but the register held [3 1]"), so it is recognised here: every
    client invocation and ok completion carries a pair, every cas a pair whose second
    element is itself ``[old new]``, and some operation is not a cas (a history of cas
    ``[old new]`` alone is a plain cas-register's).
    """
    not_cas = False
    for op in history.client_ops():
        if op.type not in (OpType.INVOKE, OpType.OK):
            continue
        value = op.value
        if not (isinstance(value, list | tuple) and len(value) == 2):
            return False
        if op.f == "cas":
            if not (isinstance(value[1], list | tuple) and len(value[1]) == 2):
                return False
        else:
            not_cas = True
    return not_cas


def guess_model(history: History, *, independent: bool = False) -> str:
    """The model a history's operations suggest, for when the user named none.

    With ``independent``, values are ``[key value]`` and the model is that of one key.

    Raises:
        UsageError: the functions used match no built-in model.
    """
    used = {op.f for op in history.client_ops()}
    if used <= _ADD_READ and "add" in used:
        # A set and a counter share their functions; a set's reads return collections.
        reads = (op.value[1] if independent else op.value for op in history.client_ops()
                 if op.f == "read" and op.value)
        return "set" if any(isinstance(v, list) for v in reads) else "counter"
    for model, functions in _MODEL_BY_FUNCTIONS:
        if used <= functions:
            return model
    raise UsageError(
        f"cannot tell which model fits functions {sorted(used)}; pass --model "
        "(see `labrys check --help`)"
    )


def with_guesses(history: History, checker: str, options: CheckOptions, *,
                 independent: bool | None = None) -> CheckOptions:
    """The options with what the user left out filled in from the history.

    For the model checkers: the model, when ``--model`` was not given, and whether
    keys are independent, when neither ``--independent`` nor ``--no-independent`` was
    (a kv history is keyed by its own model and never counts as independent keys).
    """
    if checker not in MODEL_CHECKERS:
        return options
    guessed = looks_independent(history) if independent is None else independent
    model = options.model or guess_model(history, independent=guessed)
    if independent is None and model == KV.name:
        guessed = False
    return replace(options, model=model, independent=guessed)


@dataclass(frozen=True, slots=True)
class FileResult:
    """How checking one file ended: a verdict, or the one-line error that prevented it."""

    path: Path
    verdict: Verdict | None
    error: str | None = None

    @property
    def status(self) -> int:
        return 255 if self.verdict is None else exit_status(self.verdict.valid)


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckRequest:
    """What ``labrys check`` was asked, apart from the files.

    Attributes:
        checker: the checker named with ``--checker``; None for a stored run's own
            checks, or ``linearizable`` for any other history.
        options: the checker's options.
        format: the history format, or None to recognise it.
        independent: ``--independent`` / ``--no-independent``; None to recognise it.
        run_options: ``key=value`` texts overriding a stored run's workload options
            (``--option``).
    """

    checker: str | None = None
    options: CheckOptions = field(default_factory=CheckOptions)
    format: str | None = None
    independent: bool | None = None
    run_options: Sequence[str] = ()


def check_file(path: Path, request: CheckRequest) -> Verdict:
    """Check one history file or run folder as ``request`` says.

    Raises:
        LabrysError: the file is unreadable or malformed, or the options are wrong.
    """
    if request.checker is None:
        run = find_stored_run(path)
        if run is not None:
            _refuse_checker_options(request)
            return check_stored_run(run, overrides=request.run_options, format=request.format)
    if request.run_options:
        raise UsageError("--option changes a stored run's workload options; it needs a run "
                         "folder or a history with test.json beside it, and no --checker")
    checker = request.checker or DEFAULT_CHECKER
    get_checker(checker)  # an unknown checker is refused before the file is read
    history = read_history(path / HISTORY if path.is_dir() else path, format=request.format)
    options = with_guesses(history, checker, request.options, independent=request.independent)
    return run_checker(checker, history, options)


def _refuse_checker_options(request: CheckRequest) -> None:
    """A stored run is checked with its own options: a checker's option given with it
    would be ignored, so it is refused with what to do instead."""
    if request.options != CheckOptions() or request.independent is not None:
        raise UsageError("a stored run is checked with its own checks and the options in "
                         "its test.json; name a --checker to check it with other options, "
                         "or change the run's workload options with --option key=value "
                         "(e.g. --option check_timeout_s=300)")


def check_files(paths: Iterable[Path], request: CheckRequest) -> list[FileResult]:
    """Check each file; an unreadable one is recorded as an error, not raised."""
    results = []
    for path in paths:
        try:
            results.append(FileResult(path, check_file(path, request)))
        except UsageError:
            raise
        except LabrysError as e:
            results.append(FileResult(path, None, str(e)))
    return results


def overall_status(results: Iterable[FileResult]) -> int:
    """The worst exit status: an error (255) beats invalid (1) beats unknown (2) beats 0."""
    results = list(results)
    if any(r.verdict is None for r in results):
        return 255
    return exit_status(worst(r.verdict.valid for r in results if r.verdict is not None))
