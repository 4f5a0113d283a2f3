"""Checking a stored run again, exactly as the run itself checked it.

A run folder (``results/<test>/<time>/``) holds the history and ``test.json``, the
spec the run was made from: its workload and every ``--option``. Given a run folder,
or a history with a ``test.json`` beside it, and no ``--checker``, ``labrys check``
rebuilds the run's workload from that spec and calls the workload's own ``check``:
the very function that judged the run. So a re-check cannot drift from the run (a
different checker, other options, values read another way), and a workload added
later is re-checkable with no change here.

The run's workload options can be changed for one check (``--option
check_timeout_s=300``); they are validated against the workload's table, as ``labrys
run`` validates them. The options of a named checker (``--timeout``, ``--model``…)
belong to ``--checker``; with a stored run and no checker they are refused rather
than silently ignored.

Example::

    labrys check results/latest                      # the run's own verdict, again
    labrys check results/latest/history.jsonl        # the same
    labrys check --checker linearizable results/latest   # one checker of your choosing
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from labrys.checkers import Verdict
from labrys.errors import HistoryError, UsageError
from labrys.history import read_history
from labrys.options import check_known, parse_options

HISTORY = "history.jsonl"
TEST_JSON = "test.json"


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredRun:
    """A history recorded by ``labrys run``, with the spec it was recorded under.

    Attributes:
        history: the history file.
        test_json: the run's ``test.json``.
        workload: the workload's name.
        options: every ``--option`` of the run, as text (target options included).
    """

    history: Path
    test_json: Path
    workload: str
    options: Mapping[str, str]


def find_stored_run(path: Path) -> StoredRun | None:
    """The run ``path`` belongs to: a run folder, or a file with ``test.json`` beside it.

    Returns:
        None for a file with no ``test.json`` beside it: a history like any other.

    Raises:
        UsageError: a folder that holds no history.
        HistoryError: a ``test.json`` that cannot be read as a run's spec.
    """
    if path.is_dir():
        history, test_json = path / HISTORY, path / TEST_JSON
        if not history.is_file():
            raise UsageError(f"{path} is a folder without a {HISTORY}; give a run folder "
                             "(results/<test>/<time>/) or a history file")
        if not test_json.is_file():
            raise HistoryError(f"no {TEST_JSON} beside the history, so the run's checks are "
                               f"unknown; check {history} with --checker", path=path)
    else:
        history, test_json = path, path.parent / TEST_JSON
        if not test_json.is_file():
            return None
    # The spec's reader lives with the run orchestration: imported only for a stored
    # run, so checking any other history never loads it (``labrys check`` starts fast).
    from labrys.harness._spec import build_spec, load_spec_file

    try:
        spec = build_spec(load_spec_file(test_json))
    except UsageError as e:
        raise HistoryError(f"cannot read the run's spec ({e})", path=test_json) from None
    return StoredRun(history=history, test_json=test_json, workload=spec.workload,
                     options=spec.options)


def check_stored_run(run: StoredRun, *, overrides: Sequence[str] = (),
                     format: str | None = None) -> Verdict:
    """The run's own checks on its history, with its options.

    Args:
        run: the stored run.
        overrides: ``key=value`` texts (``--option``) changing the run's workload options.
        format: the history's format, or None to recognise it.

    Raises:
        UsageError: an override the workload does not have, or a bad value.
        LabrysError: the history is unreadable or malformed.
    """
    from labrys.harness._spec import parse_option
    from labrys.workloads import get_workload

    entry = get_workload(run.workload)
    changed = dict(parse_option(text, example="check_timeout_s=300") for text in overrides)
    check_known(changed, (f"workload {run.workload}", entry.options))
    workload = entry.make(parse_options(entry.options, {**run.options, **changed}))
    return workload.check(read_history(run.history, format=format))
