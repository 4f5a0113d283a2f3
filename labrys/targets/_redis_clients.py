"""Redis clients for each workload kind, and the table of which errors are definite.

Every client reaches Redis through redis-py's Sentinel support: writes go to
``master_for(service)``, which asks the sentinels (the client's own node's first) for
the primary's address when it connects; reads go there too, or with
``read_from=replica`` to ``slave_for(service)``, which rotates over the replicas the
sentinels list. Connections are kept between operations, as an application's pool
keeps them, so a client connected to a primary that has since been cut off and
replaced keeps talking to it until the connection breaks or the server refuses.

Retries are off (redis-py 6+ retries three times by default): a retried INCRBY
that had in fact been applied would count twice, and a retry hides that an
operation's fate was open.

Multi-key operations are Lua scripts (EVAL), which Redis runs atomically, so a
transaction of micro-ops is one script whose result lists each read. With ``wait``,
the write and a ``WAIT numreplicas timeout`` go down the same connection in one
pipeline, because WAIT counts the replication of the connection's own last write.
A write acknowledged by fewer replicas than asked for is ``info``: the primary
applied it, but it may still be lost.

Kinds and values (as the workloads define them):

- ``register``: read/write/cas ``[k, v]`` on ``register:k``;
- ``set``: add ``e`` (SADD), read → sorted list (SMEMBERS);
- ``counter``: add ``n`` (INCRBY), read → integer;
- ``list-append``: txn ``[["append", k, v], ["r", k, None]…]`` over lists ``la:k``;
- ``rw-register``: txn ``[["w", k, v], ["r", k, None]…]`` over strings ``rw:k``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import MasterNotFoundError, Sentinel, SlaveNotFoundError

from labrys.client import Completion
from labrys.errors import UsageError
from labrys.generator import Invocation
from labrys.history import OpType
from labrys.targets._errors import ErrorRule, classify, describe, only_reads
from labrys.targets._target import check_kind

CLIENT_KINDS = ("register", "set", "counter", "list-append", "rw-register")

ERRORS: tuple[ErrorRule, ...] = (
    ErrorRule(error=MasterNotFoundError, definite=True,
              why="no sentinel named a primary, so nothing was sent"),
    ErrorRule(error=SlaveNotFoundError, definite=True,
              why="no sentinel named a replica, so nothing was sent"),
    ErrorRule(error=redis.exceptions.ConnectionError, contains="connecting to", definite=True,
              why="the connection was never made, so nothing was sent"),
    ErrorRule(error=redis.exceptions.TimeoutError, contains="timeout connecting", definite=True,
              why="the connection was never made, so nothing was sent"),
    ErrorRule(error=redis.exceptions.ConnectionError, contains="previous master is now a slave",
              definite=True, why="redis-py's word for READONLY from a demoted primary: "
              "the server refused the write"),
    ErrorRule(error=redis.exceptions.ResponseError, contains="NOREPLICAS", definite=True,
              why="min-replicas-to-write: the primary refused the write"),
    ErrorRule(error=redis.exceptions.ReadOnlyError, definite=True,
              why="READONLY: a replica refuses a write before executing it"),
    ErrorRule(error=redis.exceptions.MasterDownError, definite=True,
              why="MASTERDOWN: a replica cut off from its primary refuses the command"),
    ErrorRule(error=redis.exceptions.BusyLoadingError, definite=True,
              why="LOADING: the server is loading its data and refuses every command"),
    ErrorRule(error=redis.exceptions.ConnectionError, contains="max number of clients",
              definite=True, why="refused while connecting, before the command was sent"),
    ErrorRule(error=redis.exceptions.ConnectionError, definite=False,
              why="the connection broke after the command may have been sent"),
    ErrorRule(error=redis.exceptions.TimeoutError, definite=False,
              why="no answer in time: the command may have been applied"),
)
"""redis-py errors, first match wins (see `labrys.targets._errors`)."""

_CAS = """
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2]); return 1 end
return 0
"""

# Micro-ops arrive as (f, key, value) triples in ARGV; each read's result is a list
# (a Lua nil inside a returned table would cut it short, so a missing register is {}).
_TXN = """
local out = {}
for i = 1, #ARGV, 3 do
  local f, k, v = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if f == 'append' then
    redis.call('RPUSH', 'la:' .. k, v); out[#out + 1] = 0
  elseif f == 'w' then
    redis.call('SET', 'rw:' .. k, v); out[#out + 1] = 0
  elseif f == 'r' and KEYS[1] == 'la' then
    out[#out + 1] = redis.call('LRANGE', 'la:' .. k, 0, -1)
  else
    local x = redis.call('GET', 'rw:' .. k)
    if x then out[#out + 1] = {x} else out[#out + 1] = {} end
  end
end
return out
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientConfig:
    """How a Redis client connects and behaves.

    Attributes:
        node: the node the client is bound to (recorded on its ops).
        sentinels: ``(address, port)`` of every sentinel, its own node's first.
        service: the name the sentinels monitor.
        read_from: ``primary`` or ``replica``.
        wait: replicas to WAIT for after a write; 0 for none.
        wait_timeout_ms: WAIT's timeout.
        timeout_s: socket timeout of each command.
    """

    node: str
    sentinels: Sequence[tuple[str, int]]
    service: str
    read_from: str
    wait: int
    wait_timeout_ms: int
    timeout_s: float


class RedisClient:
    """One client of one kind (see the module docstring)."""

    def __init__(self, kind: str, config: ClientConfig) -> None:
        self.kind = kind
        self.config = config
        no_retry = Retry(NoBackoff(), 0)
        self._sentinel = Sentinel(
            list(config.sentinels),
            sentinel_kwargs={"socket_timeout": 0.5, "socket_connect_timeout": 0.5,
                             "retry": no_retry},
            socket_timeout=config.timeout_s, socket_connect_timeout=config.timeout_s,
            retry=no_retry, decode_responses=True)
        self._primary = self._sentinel.master_for(config.service)
        self._reader = (self._sentinel.slave_for(config.service)
                        if config.read_from == "replica" else self._primary)

    def invoke(self, invocation: Invocation) -> Completion:
        read_only = only_reads(invocation)
        try:
            value = self._perform(invocation, read_only)
        except redis.RedisError as e:
            return Completion(type=classify(ERRORS, e, read_only=read_only),
                              value=invocation.value, error=describe(e), node=self.config.node)
        except _NotReplicated as e:
            return Completion(type=OpType.INFO, value=invocation.value, error=str(e),
                              node=self.config.node)
        if isinstance(value, _CasMismatch):
            return Completion(type=OpType.FAIL, value=invocation.value, error="cas mismatch",
                              node=self.config.node)
        return Completion(type=OpType.OK, value=value, node=self.config.node)

    def close(self) -> None:
        for client in (self._primary, self._reader):
            client.close()

    # -- one method per kind -----------------------------------------------------------

    def _perform(self, inv: Invocation, read_only: bool) -> Any:
        if self.kind == "register":
            return self._register(inv)
        if self.kind == "set":
            if inv.f == "add":
                self._write("SADD", "set", inv.value)
                return inv.value
            return sorted(int(e) for e in self._reader.smembers("set"))
        if self.kind == "counter":
            if inv.f == "add":
                self._write("INCRBY", "counter", inv.value)
                return inv.value
            read = self._reader.get("counter")
            return 0 if read is None else int(read)
        if self.kind in ("list-append", "rw-register"):
            return self._txn(inv, read_only)
        raise UsageError(f"redis has no {self.kind!r} client; it supports: "
                         f"{', '.join(CLIENT_KINDS)}")

    def _register(self, inv: Invocation) -> Any:
        key, value = inv.value
        name = f"register:{key}"
        if inv.f == "read":
            read = self._reader.get(name)
            return [key, None if read is None else int(read)]
        if inv.f == "write":
            self._write("SET", name, value)
            return [key, value]
        if inv.f == "cas":
            old, new = value
            swapped = self._write("EVAL", _CAS, 1, name, old, new)
            return [key, value] if swapped == 1 else _CasMismatch()
        raise UsageError(f"the redis register client cannot do {inv.f!r}; "
                         "it does read, write, cas")

    def _txn(self, inv: Invocation, read_only: bool) -> list[list[Any]]:
        args: list[Any] = []
        for f, key, value in inv.value:
            args += [f, key, "" if value is None else value]
        # KEYS[1] tells the script which data type a read is of.
        family = "la" if self.kind == "list-append" else "rw"
        if read_only:
            results = self._reader.execute_command("EVAL", _TXN, 1, family, *args)
        else:
            results = self._write("EVAL", _TXN, 1, family, *args)
        out: list[list[Any]] = []
        for (f, key, value), result in zip(inv.value, results, strict=True):
            if f != "r":
                out.append([f, key, value])
            elif self.kind == "list-append":
                out.append([f, key, [int(x) for x in result]])
            else:
                out.append([f, key, int(result[0]) if result else None])
        return out

    def _write(self, *command: Any) -> Any:
        """Run a write on the primary, then WAIT for replicas when asked to."""
        if self.config.wait == 0:
            return self._primary.execute_command(*command)
        pipe = self._primary.pipeline(transaction=False)
        pipe.execute_command(*command)
        pipe.execute_command("WAIT", self.config.wait, self.config.wait_timeout_ms)
        result, acked = pipe.execute()
        if int(acked) < self.config.wait:
            raise _NotReplicated(f"WAIT: {acked} of {self.config.wait} replicas acknowledged "
                                 f"within {self.config.wait_timeout_ms} ms")
        return result


class _CasMismatch:
    """A cas whose comparison was false: it certainly wrote nothing."""


class _NotReplicated(Exception):
    """The primary applied a write that WAIT could not see replicated: indeterminate."""


def open_redis_client(kind: str, config: ClientConfig) -> RedisClient:
    """A client of ``kind``.

    Raises:
        UsageError: Redis has no client of that kind.
    """
    check_kind("redis", kind, CLIENT_KINDS)
    return RedisClient(kind, config)
