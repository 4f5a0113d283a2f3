"""etcd's v3 API through its JSON gateway: one request, one stream, and what errors mean.

Why the gateway. etcd speaks gRPC; for clients without gRPC it serves the same API as
JSON over HTTP (etcd 3.4 under ``/v3/…``; keys and values base64). Every call labrys
needs is there: ``kv/range``, ``kv/put``, ``kv/txn``; ``watch``, a streaming call whose
HTTP response carries one JSON message per line for as long as it stays open;
``lease/grant``, ``lease/keepalive`` (a stream whose request body is one keep-alive
message, answered by one line), ``lease/revoke``; ``lock/lock`` (which answers only once
the lock is held) and ``lock/unlock``; ``cluster/member/list``, ``add`` and ``remove``.
The Python ``etcd3`` gRPC package no longer works with current protobuf, and generating
stubs would add grpcio and its code generator for no gain in semantics: behind the
gateway is the same server code (the member serves the gateway by calling its own gRPC
API), so linearizable and serializable reads, transactions, watches and leases behave
the same. What the gateway costs: a watch is one HTTP response per watch (there is no
multiplexing of watches on one stream), and a keep-alive is one HTTP request per tick
instead of one message on a long-lived stream. What it gives: per-request connect and
read timeouts, which are exactly what decides whether a failed call is ``fail`` (never
connected) or ``info`` (sent, never answered).

Members to fall back on. A client talks to its own node's member, and, when that member
refuses the connection (killed, removed from the cluster, not started yet), to the next
member that accepts one, as etcd's own clients do when given every endpoint. A refused
connection sent nothing, so trying elsewhere keeps the op one op with one outcome; a
call that was sent and not answered is never tried elsewhere (it may have been
applied). Without the fall-back a kill of one member starves the others: its clients
fail at once, so they are the workers free for the next op and take nearly every op of
the run's rate, while the clients of the members still up get few. The host reaches
every node under a partition, so a client on the minority side still connects there,
and still shows what a member cut off from the leader answers.

Errors decide verdicts, so they are a table (`ERRORS`, read by
`labrys.targets._errors.classify`): a request that never reached etcd (connection
refused, connect timeout) certainly did not happen; etcd's refusals that come before
anything is proposed (a lease that does not exist, a request too large, a duplicate key
in one transaction) are definite too; everything else (a timeout, "request timed out",
"leader changed", a connection dropped mid-call) may have been applied.
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from labrys.targets._errors import ErrorRule

CLIENT_PORT = 2379
PEER_PORT = 2380
CONNECT_TIMEOUT_S = 1.0
"""How long a client waits to connect. Nodes are on one bridge, so a connection that
takes longer is to a node that is down or cut off, and the call certainly did not
happen."""


class EtcdError(Exception):
    """etcd answered a call with an error.

    Attributes:
        code: the gRPC status code etcd gave (5 not found, 14 unavailable…), if any.
    """

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


ERRORS: tuple[ErrorRule, ...] = (
    ErrorRule(error=httpx.ConnectError, definite=True,
              why="the connection was never made, so nothing was sent"),
    ErrorRule(error=httpx.ConnectTimeout, definite=True,
              why="the connection was never made, so nothing was sent"),
    ErrorRule(error=EtcdError, contains="requested lease not found", definite=True,
              why="the lease is checked before anything is proposed"),
    ErrorRule(error=EtcdError, contains="duplicate key given in txn request", definite=True,
              why="the request is refused when it is validated, before it is proposed"),
    ErrorRule(error=EtcdError, contains="request is too large", definite=True,
              why="the request is refused when it is validated, before it is proposed"),
    ErrorRule(error=EtcdError, contains="too many requests", definite=True,
              why="a member far behind on applying refuses new proposals outright"),
)
"""Errors of the gateway, first match wins; anything else is indeterminate."""


def b64(text: str) -> str:
    """``text`` as etcd's JSON mapping wants bytes: UTF-8, then base64."""
    return base64.b64encode(text.encode()).decode()


def unb64(text: str) -> str:
    return base64.b64decode(text).decode()


def prefix_end(prefix: str) -> str:
    """The ``range_end`` that makes a range or watch cover every key starting with
    ``prefix``: the prefix with its last byte incremented (etcd's own idiom)."""
    raw = prefix.encode()
    return base64.b64encode(raw[:-1] + bytes([raw[-1] + 1])).decode()


def json_value(kv: Mapping[str, Any]) -> Any:
    """The JSON value stored in a key-value of a range or watch answer."""
    return json.loads(unb64(kv.get("value", "")))


def revision(data: Mapping[str, Any], field: str = "revision") -> int:
    """An int64 from an answer (the gateway writes them as strings; absent is 0)."""
    return int(data.get(field, 0))


class Gateway:
    """Calls to etcd's JSON gateway, each with its own timeouts, made to the first of
    ``members`` that accepts a connection (see the module docstring).

    Args:
        members: node name to address, in the order to try them (the client's own
            node first).
        timeout_s: how long a call may wait for its answer once connected.

    Attributes:
        node: the member that took the last call (the first member before any).
    """

    def __init__(self, members: Mapping[str, str], *, timeout_s: float) -> None:
        if not members:
            raise ValueError("a gateway needs at least one member")
        self.timeout_s = timeout_s
        self.node = next(iter(members))
        self._urls = {name: f"http://{address}:{CLIENT_PORT}"
                      for name, address in members.items()}
        self._http = httpx.Client(timeout=httpx.Timeout(timeout_s, connect=CONNECT_TIMEOUT_S))

    def call(self, path: str, body: Mapping[str, Any], *,
             timeout_s: float | None = None) -> dict[str, Any]:
        """POST ``body`` to ``path`` (``/v3/kv/put``…) and return etcd's answer.

        Raises:
            httpx.HTTPError: the call did not complete (connect, read, timeout); a
                connect error only when no member accepted the connection.
            EtcdError: etcd answered with an error, or with something not JSON.
        """
        timeout = httpx.USE_CLIENT_DEFAULT if timeout_s is None else httpx.Timeout(
            timeout_s, connect=CONNECT_TIMEOUT_S)
        response = self._send(path, body, timeout, stream=False)
        return _answer(response.status_code, response.text)

    def stream(self, path: str, body: Mapping[str, Any], *,
               idle_s: float) -> Iterator[dict[str, Any]]:
        """POST ``body`` to a streaming call and yield each message as it arrives.

        The stream ends (the generator returns) when no message came for ``idle_s``;
        closing the generator closes the call.

        Raises:
            httpx.HTTPError: the call could not be made or broke mid-stream.
            EtcdError: etcd answered with an error.
        """
        timeout = httpx.Timeout(idle_s, connect=CONNECT_TIMEOUT_S)
        response = self._send(path, body, timeout, stream=True)
        try:
            if response.status_code != 200:
                _answer(response.status_code, response.read().decode(errors="replace"))
            lines = response.iter_lines()
            while True:
                try:
                    line = next(lines)
                except (StopIteration, httpx.ReadTimeout):
                    return
                if line.strip():
                    message = _answer(200, line)
                    yield message.get("result", message)
        finally:
            response.close()

    def close(self) -> None:
        self._http.close()

    def _send(self, path: str, body: Mapping[str, Any], timeout: Any, *,
              stream: bool) -> httpx.Response:
        """Send to each member in turn until one accepts the connection; `node` names
        it. Only the last member's connect error is raised."""
        names = list(self._urls)
        for name in names[:-1]:
            with contextlib.suppress(httpx.ConnectError, httpx.ConnectTimeout):
                return self._send_to(name, path, body, timeout, stream=stream)
        return self._send_to(names[-1], path, body, timeout, stream=stream)

    def _send_to(self, name: str, path: str, body: Mapping[str, Any], timeout: Any, *,
                 stream: bool) -> httpx.Response:
        self.node = name
        request = self._http.build_request("POST", self._urls[name] + path, json=body,
                                           timeout=timeout)
        return self._http.send(request, stream=stream)


def _answer(status: int, text: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError:
        raise EtcdError(f"HTTP {status}: {text.strip()[:200] or 'empty answer'}") from None
    if not isinstance(data, dict):
        raise EtcdError(f"HTTP {status}: unexpected answer {text.strip()[:200]}")
    error = data.get("error")
    if status != 200 or error:
        message = error.get("message") if isinstance(error, dict) else error
        code = error.get("code") if isinstance(error, dict) else data.get("code")
        raise EtcdError(str(message or data.get("message") or f"HTTP {status}"),
                        code=code if isinstance(code, int) else None)
    return data
