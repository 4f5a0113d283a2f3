"""What a worker calls: the client protocol and the completion it must return.

A client performs one invocation against the system and says how it ended. Its
contract (Jepsen's ``jepsen.client``, restated):

- ``invoke`` returns a `Completion` whose type is ``ok`` (it certainly happened,
  with this result), ``fail`` (it certainly did not happen) or ``info`` (nobody knows,
  e.g. the request was sent and the answer never came). Saying ``fail`` when unsure is
  the one unforgivable bug: it lets a checker assume a write never happened and so
  hides lost updates. When in doubt, ``info``.
- ``invoke`` may raise: the interpreter then records ``info`` with the error, because an
  exception says nothing about whether the call took effect.
- ``invoke`` may hang: the interpreter's timeout turns that into ``info`` and the worker
  carries on as a new process with a fresh client; the hung call is abandoned.
- ``close`` releases connections; it is called once, from the worker's thread.

The nemesis is driven through the same protocol: its invocations are faults.

This module sits below targets (which implement clients) and the harness (which calls
them), so that neither imports the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from labrys.generator import Invocation
from labrys.history import OpType

__all__ = ["Client", "Completion", "validate_completion"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Completion:
    """How an invocation ended.

    Attributes:
        type: ``OpType.OK``, ``OpType.FAIL`` or ``OpType.INFO``.
        value: the result (for ok), or what the call was (for fail and info).
        error: why it failed or is indeterminate, as short text or data.
        node: the node the call went to, when the client knows it.
        extra: further fields recorded with the completion.
    """

    type: OpType
    value: Any = None
    error: Any = None
    node: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


class Client(Protocol):
    """Performs invocations against the system under test (see the module docstring)."""

    def invoke(self, invocation: Invocation) -> Completion:
        """Perform ``invocation`` and say how it ended."""
        ...

    def close(self) -> None:
        """Release what the client holds. Called once, from the worker's own thread."""
        ...


def validate_completion(invocation: Invocation, completion: object) -> Completion:
    """``completion`` if it is well formed; otherwise an ``info`` naming the client bug.

    A malformed completion is a bug in a client, but recording it as ``info`` (may or
    may not have happened) keeps the history sound and the run alive; the error text
    says what was wrong (Jepsen's ``client/validate``).
    """
    problems = []
    if not isinstance(completion, Completion):
        problems.append(f"returned {type(completion).__name__}, not a Completion")
    elif completion.type not in (OpType.OK, OpType.FAIL, OpType.INFO):
        problems.append(f"completion type {completion.type!r} is not ok, fail or info")
    if not problems:
        return completion  # type: ignore[return-value]
    return Completion(type=OpType.INFO, value=invocation.value,
                      error=f"client bug on {invocation.f}: {'; '.join(problems)}")
