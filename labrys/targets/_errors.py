"""Exception tables: which client errors are definite, which leave the outcome open.

The one unforgivable client bug is to call an operation ``fail`` when it may have
happened: a checker then assumes a lost write never existed. Maelstrom keeps, per
error, whether it is definite (``resources/errors.edn``); labrys keeps one such table
per target, as data, so that the choice for each error is written down once, with its
reason, and tested.

An `ErrorRule` matches an exception by class and, optionally, by a fragment of its
message (drivers often use one class for "could not connect" and "connection lost
mid-request", and only the text tells them apart). The first matching rule decides.
An error that matches no rule is indeterminate. Whatever the table says, an operation
that only reads is ``fail`` on error: it changed nothing, so it may safely be taken
as not having happened.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from labrys.generator import Invocation
from labrys.history import OpType


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorRule:
    """One row of an exception table.

    Attributes:
        error: the exception class (subclasses match too).
        contains: a fragment the message must contain (case-insensitive); "" for any.
        definite: True when the operation certainly did not take effect.
        why: the reason, for the reader of the table.
    """

    error: type[BaseException]
    contains: str = ""
    definite: bool
    why: str

    def matches(self, error: BaseException) -> bool:
        return isinstance(error, self.error) and self.contains.lower() in str(error).lower()


def only_reads(invocation: Invocation) -> bool:
    """True when ``invocation`` only reads: a ``read``, or a ``txn`` whose micro-ops are
    all ``r``. Such an operation is ``fail`` on any error (see `classify`), and may be
    sent to a replica."""
    if invocation.f == "txn":
        return all(op[0] == "r" for op in invocation.value)
    return invocation.f == "read"


def classify(table: Sequence[ErrorRule], error: BaseException, *, read_only: bool) -> OpType:
    """``FAIL`` if ``error`` proves the operation did not happen (or it only read),
    else ``INFO``."""
    if read_only:
        return OpType.FAIL
    for rule in table:
        if rule.matches(error):
            return OpType.FAIL if rule.definite else OpType.INFO
    return OpType.INFO


def describe(error: BaseException) -> str:
    """``ClassName: message``, on one line."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
