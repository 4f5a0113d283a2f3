"""etcd clients for the key-value workloads: register, set, counter, list-append, rw-register.

Each client talks to one member through its JSON gateway (`_etcd_gateway`). Values are
stored as JSON text under ``labrys/<kind>/…``. Reads are linearizable unless the target
was told ``read_mode=serializable`` (the member answers from its own state at once,
which under a partition may be stale).

Kinds and values (as the workloads define them):

- ``register``: read/write/cas ``[k, v]``; cas is a transaction comparing the value;
- ``set``: add ``e`` puts its own key ``labrys/set/e`` (adding twice is adding once, so
  the add needs no read); read → the sorted elements, one range over the prefix;
- ``counter``: add ``n`` and read. etcd has no increment, so an add reads the counter
  with its ``mod_revision`` and writes the sum in a transaction guarded on that
  revision: a lost race changes nothing and is retried;
- ``list-append`` and ``rw-register``: transactions of micro-ops (see `TxnPlan`).

Transactions. An etcd transaction is ``if compares then ops else ops``, all at one
revision; its ops cannot compute a new value from an old one, so an append needs the
list first. As Jepsen's etcd tests do, a transaction that writes runs in two calls:

1. read, in one transaction of ranges, every key whose old value the writes need
   (appended keys, and registers read before the transaction writes them);
2. one transaction guarded on each of those keys' ``mod_revision`` being what step 1
   saw (0 for a missing key), whose ops put the new values and range the keys the
   transaction only reads.

If the guard holds, everything happened at step 2's revision: reads of written keys
are computed from step 1's values and the transaction's own earlier writes, reads of
other keys are step 2's ranges. If it does not hold, nothing was written, so the
transaction is retried from step 1 (at most ``retries`` times, then ``fail``): a guard
that failed is etcd's definite "no". A call that timed out is never retried: it may
have been applied. A transaction that only reads is one transaction of ranges.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from labrys.client import Completion
from labrys.errors import UsageError
from labrys.generator import Invocation
from labrys.history import OpType
from labrys.targets._errors import classify, describe, only_reads
from labrys.targets._etcd_gateway import (
    ERRORS,
    EtcdError,
    Gateway,
    b64,
    json_value,
    prefix_end,
    revision,
)

KV_KINDS = ("register", "set", "counter", "list-append", "rw-register")

_PREFIX = {"register": "labrys/register/", "set": "labrys/set/",
           "counter": "labrys/counter", "list-append": "labrys/list/",
           "rw-register": "labrys/rw/"}

TXN_RETRIES = 5
"""How many times a transaction or counter add whose guard failed is tried again."""


class GuardFailed(Exception):
    """A guarded transaction found a key changed since it was read: nothing was written."""


def _kv(key: str, value: Any) -> dict[str, Any]:
    """A put's body: ``key`` holding ``value`` as JSON text."""
    return {"key": b64(key), "value": b64(json.dumps(value))}


def _put(key: str, value: Any) -> dict[str, Any]:
    """A put as one op of a transaction."""
    return {"request_put": _kv(key, value)}


def _range(key: str) -> dict[str, Any]:
    return {"request_range": {"key": b64(key)}}


def _unchanged(key: str, mod_revision: int) -> dict[str, Any]:
    return {"key": b64(key), "target": "MOD", "result": "EQUAL",
            "mod_revision": str(mod_revision)}


def _first_kv(response: Mapping[str, Any]) -> Mapping[str, Any] | None:
    kvs = response.get("kvs") or []
    return kvs[0] if kvs else None


@dataclass(frozen=True, slots=True)
class Read:
    """A key as a read saw it: its value (None when missing) and ``mod_revision``."""

    value: Any
    mod_revision: int


@dataclass(frozen=True, slots=True)
class TxnPlan:
    """How one transaction of micro-ops becomes etcd calls (see the module docstring).

    Attributes:
        kind: ``list-append`` or ``rw-register``.
        txn: the micro-ops, ``[f, k, v]``.
        prefix: where its keys live.
    """

    kind: str
    txn: Sequence[Sequence[Any]]
    prefix: str

    def key(self, k: Any) -> str:
        return f"{self.prefix}{k}"

    @property
    def written(self) -> list[Any]:
        """Keys written, in first-write order."""
        return list(dict.fromkeys(k for f, k, _ in self.txn if f != "r"))

    @property
    def needs_old_value(self) -> list[Any]:
        """Keys whose value before the transaction its writes or reads depend on:
        every appended key, and every written register read before its first write."""
        will_write = set(self.written)
        needed: dict[Any, None] = {}
        written: set[Any] = set()
        for f, k, _ in self.txn:
            if f == "append" or (f == "r" and k in will_write and k not in written):
                needed[k] = None
            if f != "r":
                written.add(k)
        return list(needed)

    def read_request(self) -> dict[str, Any]:
        """Step 1: one transaction ranging every key of `needs_old_value`."""
        return {"success": [_range(self.key(k)) for k in self.needs_old_value]}

    def old_values(self, answer: Mapping[str, Any]) -> dict[Any, Read]:
        """What step 1 saw, by key."""
        out: dict[Any, Read] = {}
        for k, response in zip(self.needs_old_value, _responses(answer), strict=True):
            kv = _first_kv(response.get("response_range", {}))
            out[k] = (Read(json_value(kv), revision(kv, "mod_revision")) if kv is not None
                      else Read(None, 0))
        return out

    def write_request(self, old: Mapping[Any, Read]) -> tuple[dict[str, Any], list[Any]]:
        """Step 2: the guarded transaction, and each micro-op's result where it is
        already known (None where a range inside the transaction will say).

        Each written key is put once, with its final value: etcd refuses two puts of
        one key in one transaction, and the puts all take effect at one revision
        anyway.
        """
        state = {k: read.value for k, read in old.items()}
        results: list[Any] = []
        ranged: list[Any] = []
        written = set(self.written)
        for f, k, v in self.txn:
            if f == "append":
                state[k] = [*(state.get(k) or []), v]
                results.append(v)
            elif f == "w":
                state[k] = v
                results.append(v)
            elif k in written:
                # A read of a key this transaction writes: known from step 1 and the
                # writes before it, all guarded.
                value = state.get(k)
                results.append(list(value) if isinstance(value, list) else value)
            else:
                results.append(None)
                ranged.append(k)
        ops = [_put(self.key(k), state[k]) for k in self.written]
        ops += [_range(self.key(k)) for k in dict.fromkeys(ranged)]
        compare = [_unchanged(self.key(k), read.mod_revision) for k, read in old.items()]
        return {"compare": compare, "success": ops}, results

    def completed(self, known: Sequence[Any], answer: Mapping[str, Any]) -> list[list[Any]]:
        """The micro-ops with every read's result, from ``known`` and the ranges of
        ``answer`` (step 2's, or a read-only transaction's)."""
        written = set(self.written)
        ranged = list(dict.fromkeys(k for f, k, _ in self.txn if f == "r" and k not in written))
        ranges = _responses(answer)[-len(ranged):] if ranged else []
        seen: dict[Any, Any] = {}
        for k, response in zip(ranged, ranges, strict=True):
            kv = _first_kv(response.get("response_range", {}))
            seen[k] = None if kv is None else json_value(kv)
        empty = [] if self.kind == "list-append" else None
        out: list[list[Any]] = []
        for (f, k, v), value in zip(self.txn, known, strict=True):
            if f != "r":
                out.append([f, k, v])
            elif k in seen:
                out.append([f, k, seen[k] if seen[k] is not None else empty])
            else:
                out.append([f, k, value if value is not None else empty])
        return out


def _responses(answer: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(answer.get("responses") or [])


class KvClient:
    """A client of one key-value kind (see the module docstring).

    Args:
        kind: one of `KV_KINDS`.
        members: node name to address, its own node first, then the members to fall
            back on when that one refuses connections (`Gateway`); each op records
            the member that took it.
        serializable: serve reads from the member's own state (may be stale).
        timeout_s: each call's timeout; past it a write is indeterminate.
    """

    def __init__(self, kind: str, *, members: Mapping[str, str], serializable: bool,
                 timeout_s: float) -> None:
        if kind not in KV_KINDS:
            raise UsageError(f"etcd has no {kind!r} key-value client; it has: "
                             f"{', '.join(KV_KINDS)}")
        self.kind = kind
        self.serializable = serializable
        self.prefix = _PREFIX[kind]
        self._gateway = Gateway(members, timeout_s=timeout_s)

    def invoke(self, invocation: Invocation) -> Completion:
        read_only = only_reads(invocation)
        try:
            value = self._perform(invocation)
        except (httpx.HTTPError, EtcdError) as e:
            return Completion(type=classify(ERRORS, e, read_only=read_only),
                              value=invocation.value, error=describe(e), node=self._gateway.node)
        except GuardFailed as e:
            return Completion(type=OpType.FAIL, value=invocation.value, error=str(e),
                              node=self._gateway.node)
        return Completion(type=OpType.OK, value=value, node=self._gateway.node)

    def close(self) -> None:
        self._gateway.close()

    def _perform(self, inv: Invocation) -> Any:
        if self.kind == "register":
            return self._register(inv)
        if self.kind == "set":
            if inv.f == "add":
                self._gateway.call("/v3/kv/put", _kv(f"{self.prefix}{inv.value}", inv.value))
                return inv.value
            answer = self._gateway.call("/v3/kv/range", {
                "key": b64(self.prefix), "range_end": prefix_end(self.prefix),
                "serializable": self.serializable})
            return sorted(json_value(kv) for kv in answer.get("kvs") or [])
        if self.kind == "counter":
            if inv.f == "add":
                self._add(inv.value)
                return inv.value
            kv = _first_kv(self._read(self.prefix))
            return 0 if kv is None else json_value(kv)
        return self._txn(TxnPlan(self.kind, inv.value, self.prefix))

    def _read(self, key: str) -> dict[str, Any]:
        return self._gateway.call("/v3/kv/range", {"key": b64(key),
                                                   "serializable": self.serializable})

    def _register(self, inv: Invocation) -> Any:
        key, value = inv.value
        name = f"{self.prefix}{key}"
        if inv.f == "read":
            kv = _first_kv(self._read(name))
            return [key, None if kv is None else json_value(kv)]
        if inv.f == "write":
            self._gateway.call("/v3/kv/put", _kv(name, value))
            return [key, value]
        if inv.f == "cas":
            old, new = value
            answer = self._gateway.call("/v3/kv/txn", {
                "compare": [{"key": b64(name), "target": "VALUE", "result": "EQUAL",
                             "value": b64(json.dumps(old))}],
                "success": [_put(name, new)]})
            if not answer.get("succeeded", False):
                raise GuardFailed("cas mismatch")
            return [key, value]
        raise UsageError(f"the etcd register client cannot do {inv.f!r}; "
                         "it does read, write, cas")

    def _add(self, amount: int) -> None:
        """Add ``amount`` to the counter: read, then put the sum guarded on the read's
        revision, again while another add got there first."""
        for _ in range(1 + TXN_RETRIES):
            kv = _first_kv(self._gateway.call("/v3/kv/range", {"key": b64(self.prefix)}))
            current, mod = (0, 0) if kv is None else (json_value(kv),
                                                      revision(kv, "mod_revision"))
            answer = self._gateway.call("/v3/kv/txn", {
                "compare": [_unchanged(self.prefix, mod)],
                "success": [_put(self.prefix, current + amount)]})
            if answer.get("succeeded", False):
                return
        raise GuardFailed(f"the counter changed under every one of {1 + TXN_RETRIES} tries")

    def _txn(self, plan: TxnPlan) -> list[list[Any]]:
        if not plan.written:
            answer = self._gateway.call("/v3/kv/txn", {
                "success": [{"request_range": {"key": b64(plan.key(k)),
                                               "serializable": self.serializable}}
                            for k in dict.fromkeys(k for _, k, _ in plan.txn)]})
            return plan.completed([None] * len(plan.txn), answer)
        for _ in range(1 + TXN_RETRIES):
            old = plan.old_values(self._gateway.call("/v3/kv/txn", plan.read_request()))
            request, known = plan.write_request(old)
            answer = self._gateway.call("/v3/kv/txn", request)
            if answer.get("succeeded", False):
                return plan.completed(known, answer)
        raise GuardFailed(f"keys changed between read and write in every one of "
                          f"{1 + TXN_RETRIES} tries")
