"""The etcd client of the watch workload: unique writes, and watches that resume.

etcd promises that a watch delivers the changes to the keys it covers in revision
order, none twice, none skipped, from any revision still in the history (etcd's "API
guarantees": ordered, unique, reliable, atomic, resumable). The watch workload tests
that across faults: writers put unique values on a few keys, watchers follow every
key at once (one watch on the prefix ``labrys/watch/``).

A watcher keeps, across its operations, the revision it has seen up to. Each ``watch``
op opens a watch from the revision after it, as a client reconnecting after a fault
does, collects the events that arrive for ``watch_s`` seconds, closes it and returns
them; the next op resumes where this one stopped. This is Jepsen's etcd watch test,
over several keys. A member that is cut off or paused just delivers nothing for a
while; one that is down refuses the connection (``fail``: nothing was seen). A stream
that breaks after delivering events ends the op ``ok`` with those events (they were
seen) and says why it ended; the next op resumes after the last of them.

``final-watch`` catches up once every fault is healed: it asks (linearizably, again
while the cluster settles) for the newest change to any watched key, then watches
until it has seen it.

Values (the checker, `labrys.checkers._watch`, reads exactly these):

- ``write {"key": k, "value": v}`` → ``{"key": k, "value": v, "revision": r}``, r the
  revision etcd gave the put;
- ``watch`` → ``{"from": f, "events": [[k, r, v], …]}``, every event delivered by a
  watch created at revision f, in the order delivered;
- ``final-watch`` → the same, plus ``"caught_up_to"``: the newest revision it set out
  to reach, or None if it ran out of time before reaching it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

import httpx

from labrys.client import Completion
from labrys.errors import UsageError
from labrys.generator import Invocation
from labrys.history import OpType
from labrys.targets._errors import classify, describe
from labrys.targets._etcd_gateway import (
    ERRORS,
    EtcdError,
    Gateway,
    b64,
    prefix_end,
    revision,
    unb64,
)

PREFIX = "labrys/watch/"


class WatchClient:
    """Writes and watches (see the module docstring).

    Args:
        members: node name to address, its own node first, then the members to fall
            back on when that one refuses connections (`Gateway`); each op records
            the member that took it.
        watch_s: how long a ``watch`` op collects events.
        timeout_s: each call's timeout, and how long ``final-watch`` may take to
            catch up.
    """

    def __init__(self, *, members: Mapping[str, str], watch_s: float,
                 timeout_s: float) -> None:
        self.watch_s = watch_s
        self.timeout_s = timeout_s
        self._gateway = Gateway(members, timeout_s=timeout_s)
        self._next = 1
        """The revision the next watch starts from: one past the last event seen."""

    def invoke(self, invocation: Invocation) -> Completion:
        if invocation.f == "write":
            return self._write(invocation)
        if invocation.f in ("watch", "final-watch"):
            return self._watch(invocation)
        raise UsageError(f"the etcd watch client cannot do {invocation.f!r}; "
                         "it does write, watch, final-watch")

    def close(self) -> None:
        self._gateway.close()

    def _write(self, invocation: Invocation) -> Completion:
        key, value = invocation.value["key"], invocation.value["value"]
        try:
            answer = self._gateway.call("/v3/kv/put", {"key": b64(f"{PREFIX}{key}"),
                                                       "value": b64(json.dumps(value))})
        except (httpx.HTTPError, EtcdError) as e:
            return Completion(type=classify(ERRORS, e, read_only=False),
                              value=invocation.value, error=describe(e), node=self._gateway.node)
        return Completion(type=OpType.OK, node=self._gateway.node, value={
            "key": key, "value": value, "revision": revision(answer["header"])})

    def _watch(self, invocation: Invocation) -> Completion:
        start = self._next
        events: list[list[Any]] = []
        target: int | None = None
        final = invocation.f == "final-watch"
        try:
            if final:
                target = self._newest_change()
            self._follow(events, until_revision=target)
        except (httpx.HTTPError, EtcdError) as e:
            if not events:  # a watch only reads: seeing nothing is as if it never ran
                return Completion(type=OpType.FAIL, value=invocation.value,
                                  error=describe(e), node=self._gateway.node)
            return self._done(start, events, target, error=describe(e))
        return self._done(start, events, target)

    def _done(self, start: int, events: list[list[Any]], target: int | None,
              error: str | None = None) -> Completion:
        value: dict[str, Any] = {"from": start, "events": events}
        if target is not None:
            value["caught_up_to"] = target if self._next > target else None
        return Completion(type=OpType.OK, value=value, error=error, node=self._gateway.node)

    def _newest_change(self) -> int:
        """The newest revision of any watched key, asked linearizably (0 for none).

        Asked again for up to `timeout_s` while it fails: a member that was cut off
        forces an election when the partition heals (etcd 3.4 runs without pre-vote),
        and the reads of that moment fail with "leader changed". A read changes
        nothing, so asking again is safe.

        Raises:
            httpx.HTTPError, EtcdError: the last failure, once the time is up.
        """
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                answer = self._gateway.call("/v3/kv/range", {
                    "key": b64(PREFIX), "range_end": prefix_end(PREFIX), "keys_only": True})
            except (httpx.HTTPError, EtcdError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
                continue
            return max((revision(kv, "mod_revision") for kv in answer.get("kvs") or []),
                       default=0)

    def _follow(self, events: list[list[Any]], *, until_revision: int | None) -> None:
        """Watch from `_next`, appending each event to ``events`` and advancing `_next`,
        for `watch_s` (or, with ``until_revision``, until it is seen or `timeout_s`
        passes)."""
        if until_revision is not None and self._next > until_revision:
            return
        duration = self.watch_s if until_revision is None else self.timeout_s
        deadline = time.monotonic() + duration
        request = {"create_request": {"key": b64(PREFIX), "range_end": prefix_end(PREFIX),
                                      "start_revision": str(self._next)}}
        stream = self._gateway.stream("/v3/watch", request, idle_s=duration)
        try:
            for message in stream:
                if message.get("canceled"):
                    raise EtcdError("the watch was cancelled: " + str(
                        message.get("cancel_reason") or message.get("compact_revision")))
                for event in message.get("events") or []:
                    kv = event.get("kv", {})
                    at = revision(kv, "mod_revision")
                    key = unb64(kv.get("key", ""))[len(PREFIX):]
                    value = json.loads(unb64(kv["value"])) if kv.get("value") else None
                    events.append([key, at, value])
                    self._next = max(self._next, at + 1)
                if until_revision is not None and self._next > until_revision:
                    return
                if time.monotonic() > deadline:
                    return
        finally:
            stream.close()
