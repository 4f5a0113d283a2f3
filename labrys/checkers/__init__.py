"""Checkers: pure functions from a history to a verdict.

A checker never touches a cluster. Each is registered by name in `CHECKERS` and has
the signature ``check(history, options) -> Verdict``; `run_checker` looks one up and
runs it so that a crash becomes an ``unknown`` verdict rather than a lost run.

Checkers whose verdict is prefix-closed (an invalid prefix makes the whole history
invalid) also judge a history while it is recorded: `online_check` says how, and
`make_online_checker` builds the incremental checker (`labrys.checkers._online`).

The transactional model lattice is public too (`impossible_models`,
`prohibited_anomalies`, `implied_anomalies`, `stronger_models`): what an anomaly kind
rules out is what `labrys compare` judges claims by.

Example:
    >>> from labrys.history import parse_history
    >>> h = parse_history('{"type":"invoke","process":0,"f":"write","value":1}\\n'
    ...                   '{"type":"ok","process":0,"f":"write","value":1}')
    >>> run_checker("linearizable", h, CheckOptions(model="register")).valid
    True
"""

from labrys.checkers._online import make_online_checker, online_check
from labrys.checkers._online_types import OnlineCheck, OnlineChecker, OnlineFinding
from labrys.checkers._registry import (
    CHECKERS,
    NOT_GIVEN,
    CheckerEntry,
    CheckOptions,
    get_checker,
    run_checker,
)
from labrys.checkers._txn_models import MODELS as TXN_MODELS
from labrys.checkers._txn_models import (
    UNKNOWN_KINDS,
    implied_anomalies,
    impossible_models,
    prohibited_anomalies,
    stronger_models,
)
from labrys.checkers._verdict import (
    UNKNOWN,
    Anomaly,
    Validity,
    Verdict,
    check_safe,
    compose,
    exit_status,
    worst,
)

__all__ = [
    "CHECKERS",
    "NOT_GIVEN",
    "TXN_MODELS",
    "UNKNOWN",
    "UNKNOWN_KINDS",
    "Anomaly",
    "CheckOptions",
    "CheckerEntry",
    "OnlineCheck",
    "OnlineChecker",
    "OnlineFinding",
    "Validity",
    "Verdict",
    "check_safe",
    "compose",
    "exit_status",
    "get_checker",
    "implied_anomalies",
    "impossible_models",
    "make_online_checker",
    "online_check",
    "prohibited_anomalies",
    "run_checker",
    "stronger_models",
    "worst",
]
