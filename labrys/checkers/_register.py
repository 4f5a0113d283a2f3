"""The ``register`` checker: what the register workload's runs are judged by, by name.

The register workload reads, writes and compare-and-sets small integers over
independent keys, recording values as ``[key value]`` (Jepsen's register test with
``jepsen.independent``). Its verdict composes two checkers:

- ``linearizable``, per key, against the ``cas-register`` model (each key starts at
  nil: a key never written is missing, and a read of it returns nil);
- ``stats``: every function succeeded at least once, since a workload whose writes
  all fail tests nothing.

It has a name of its own so that ``labrys check --checker register history.jsonl``
judges a stored run's history exactly as the run did: the workload's ``check`` calls
this very function. Options: ``init`` (every key's initial value, nil by default),
``timeout_s``, ``memory_limit_mb``, ``engine`` and ``minimize`` go to the
linearizability search, which shares one budget over all keys.
"""

from __future__ import annotations

import dataclasses

from labrys.checkers._registry import NOT_GIVEN, CheckOptions, run_checker
from labrys.checkers._verdict import Verdict, check_safe, compose
from labrys.history import History

MODEL = "cas-register"
"""The model of one key."""


def check_register(history: History, options: CheckOptions) -> Verdict:
    """Per-key linearizability (cas-register from nil) and stats, composed.

    Raises:
        UsageError: a value is not ``[key value]``, or an operation is not a read,
            write or cas.
    """
    linear = check_safe("linearizable", lambda: run_checker(
        "linearizable", history, linearizable_options(options)))
    stats = check_safe("stats", lambda: run_checker("stats", history, CheckOptions()))
    return compose([linear, stats], checker="register")


def linearizable_options(options: CheckOptions) -> CheckOptions:
    """The options of the linearizability half of the check: cas-register per key, from
    ``options.init`` or nil. The online check of a run uses them too
    (`labrys.checkers._online`), so it judges each key exactly as this check does."""
    return dataclasses.replace(options, model=MODEL, independent=True,
                               init=None if options.init is NOT_GIVEN else options.init)
