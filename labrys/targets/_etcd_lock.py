"""The etcd client of the lock workload: etcd's lock API, held with a lease.

etcd's lock (the ``v3lock`` service, ``/v3/lock/lock``) is held through a lease: the
lock is a key attached to the lease, first in line among the keys under the lock's
name, and it is released by deleting the key (``/v3/lock/unlock``) or when the lease
expires. So a holder must keep the lease alive (``/v3/lease/keepalive`` every third of
its TTL, from a thread of its own, as etcd's Go client does). When it cannot (its
member paused or cut off, or the holder itself stalled), the lease expires, the key
goes, and the next waiter gets the lock while the first still believes it holds it.
etcd's documentation says as much: a lock is safe only with fencing, a check in the
write itself that the lock is still held. This client shows both:

- ``acquire`` grants a lease of ``lease_ttl_s``, starts keeping it alive and waits for
  the lock; ``ok`` once etcd says it is held. An acquire that failed or timed out stops
  the keep-alive and revokes the lease, so a request still queued in etcd cannot hold
  the lock for ever;
- ``update E`` reads the shared list ``labrys/lock/value``, then writes it back with E
  appended: a read-modify-write that only the lock protects. With ``guard=lock-key``
  the write is a transaction that succeeds only while the lock key still exists
  (fencing; a lost lock makes it ``fail``). Its value is what it read, in short:
  ``{"element": E, "length": n, "last": x}`` (the read list's length and last element);
- ``release`` deletes the lock key and revokes the lease;
- ``read`` reads the shared list (the workload's final reads).

A client serves one process at a time. When the interpreter moves a client on to a new
process (the old one ended ``info``), the old process's lock is abandoned as a crashed
application's would be: the keep-alive stops and the lease runs out.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Mapping
from typing import Any

import httpx

from labrys.client import Completion
from labrys.errors import UsageError
from labrys.generator import Invocation
from labrys.history import OpType, Process
from labrys.targets._errors import classify, describe
from labrys.targets._etcd_gateway import ERRORS, EtcdError, Gateway, b64, json_value

LOCK_NAME = "labrys/lock/name"
VALUE_KEY = "labrys/lock/value"
GUARDS = ("none", "lock-key")


class _KeepAlive:
    """Renews one lease every third of its TTL until stopped or the lease is gone."""

    def __init__(self, members: Mapping[str, str], lease: str, ttl_s: float) -> None:
        self.lease = lease
        self._period_s = ttl_s / 3
        self._gateway = Gateway(members, timeout_s=self._period_s)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"labrys-keepalive-{lease}",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stopped.wait(self._period_s):
                try:
                    answer = self._gateway.call("/v3/lease/keepalive", {"ID": self.lease})
                except (httpx.HTTPError, EtcdError):
                    continue  # try again next period; the lease may yet survive
                if int(answer.get("result", answer).get("TTL", 0)) <= 0:
                    return  # expired: nothing left to keep alive
        finally:
            self._gateway.close()

    def stop(self) -> None:
        self._stopped.set()


class LockClient:
    """Acquire, update, release and read (see the module docstring).

    Args:
        members: node name to address, its own node first, then the members to fall
            back on when that one refuses connections (`Gateway`); each op records
            the member that took it.
        lease_ttl_s: the TTL of the lease each acquire grants.
        guard: ``none`` (the lock alone protects the update) or ``lock-key`` (the
            update's write requires the lock key to exist).
        serializable: reads of the shared list are served locally (may be stale).
        timeout_s: each call's timeout, the wait for the lock included.
    """

    def __init__(self, *, members: Mapping[str, str], lease_ttl_s: int, guard: str,
                 serializable: bool, timeout_s: float) -> None:
        if guard not in GUARDS:
            raise UsageError(f"lock guard {guard!r}: use one of {', '.join(GUARDS)}")
        self.members = members
        self.lease_ttl_s = lease_ttl_s
        self.guard = guard
        self.serializable = serializable
        self._gateway = Gateway(members, timeout_s=timeout_s)
        self._holder: Process | None = None
        self._lock_key: str | None = None
        self._keepalive: _KeepAlive | None = None

    def invoke(self, invocation: Invocation) -> Completion:
        if self._holder is not None and invocation.process != self._holder:
            self._abandon()  # the process that held it crashed; its lease runs out
        try:
            return self._perform(invocation)
        except (httpx.HTTPError, EtcdError) as e:
            kind = classify(ERRORS, e, read_only=invocation.f == "read")
            if invocation.f == "acquire":
                self._give_up()
            return Completion(type=kind, value=invocation.value, error=describe(e),
                              node=self._gateway.node)

    def close(self) -> None:
        self._abandon()
        self._gateway.close()

    def _perform(self, inv: Invocation) -> Completion:
        if inv.f == "acquire":
            if self._lock_key is not None:
                return self._fail(inv, "already held")
            return self._acquire(inv)
        if inv.f == "update":
            if self._lock_key is None:
                return self._fail(inv, "not held")
            return self._update(inv)
        if inv.f == "release":
            if self._lock_key is None:
                return self._fail(inv, "not held")
            return self._release(inv)
        if inv.f == "read":
            return self._ok(self._read_list())
        raise UsageError(f"the etcd lock client cannot do {inv.f!r}; "
                         "it does acquire, update, release, read")

    def _acquire(self, inv: Invocation) -> Completion:
        lease = self._gateway.call("/v3/lease/grant", {"TTL": str(self.lease_ttl_s)})
        lease_id = str(lease["ID"])
        self._keepalive = _KeepAlive(self.members, lease_id, self.lease_ttl_s)
        answer = self._gateway.call("/v3/lock/lock", {"name": b64(LOCK_NAME),
                                                      "lease": lease_id})
        self._lock_key = answer["key"]
        self._holder = inv.process
        return self._ok({"lease": lease_id})

    def _update(self, inv: Invocation) -> Completion:
        try:
            current = self._read_list()
        except (httpx.HTTPError, EtcdError) as e:
            return self._fail(inv, describe(e))  # only read: nothing was written
        new = json.dumps([*current, inv.value])
        summary = {"element": inv.value, "length": len(current),
                   "last": current[-1] if current else None}
        put = {"request_put": {"key": b64(VALUE_KEY), "value": b64(new)}}
        if self.guard == "none":
            self._gateway.call("/v3/kv/put", put["request_put"])
            return self._ok(summary)
        answer = self._gateway.call("/v3/kv/txn", {
            "compare": [{"key": self._lock_key, "target": "CREATE", "result": "GREATER",
                         "create_revision": "0"}],
            "success": [put]})
        if not answer.get("succeeded", False):
            return self._fail(inv, "the lock key is gone: the lock was lost")
        return self._ok(summary)

    def _release(self, inv: Invocation) -> Completion:
        try:
            self._gateway.call("/v3/lock/unlock", {"key": self._lock_key})
        finally:
            self._give_up()  # whatever unlock said, this client is done with the lock
        return self._ok(None)

    def _read_list(self) -> list[Any]:
        answer = self._gateway.call("/v3/kv/range", {"key": b64(VALUE_KEY),
                                                     "serializable": self.serializable})
        kvs = answer.get("kvs") or []
        return list(json_value(kvs[0])) if kvs else []

    def _give_up(self) -> None:
        """Stop renewing and revoke the lease (best effort): we no longer hold the lock."""
        keepalive, self._keepalive = self._keepalive, None
        self._lock_key, self._holder = None, None
        if keepalive is None:
            return
        keepalive.stop()
        # If the revoke does not get through, the lease expires on its own after its TTL.
        with contextlib.suppress(httpx.HTTPError, EtcdError):
            self._gateway.call("/v3/lease/revoke", {"ID": keepalive.lease})

    def _abandon(self) -> None:
        """Drop the lock without a word to etcd, as a crashed holder does."""
        if self._keepalive is not None:
            self._keepalive.stop()
        self._keepalive, self._lock_key, self._holder = None, None, None

    def _ok(self, value: Any) -> Completion:
        return Completion(type=OpType.OK, value=value, node=self._gateway.node)

    def _fail(self, inv: Invocation, error: str) -> Completion:
        return Completion(type=OpType.FAIL, value=inv.value, error=error, node=self._gateway.node)
