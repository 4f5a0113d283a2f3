"""etcd's membership API, asked of whichever member answers: list, remove, add.

A membership change is a Raft configuration change, and etcd is careful with them: with
``--strict-reconfig-check`` (its default) it refuses one that it judges unsafe at the
moment ("unhealthy cluster": a member started or reconnected less than 5 s ago; "not
enough started members"). And a change in flight when the leader changes can be lost
without an answer: a proposal forwarded to a leader that has just removed itself is
dropped, and the call hangs until it times out. So every change here is asked with a
short timeout, of each other member in turn, until it is answered, refused for good,
or ``RECONFIGURE_TIMEOUT_S`` passes; and after any error the member list says whether
the change was made after all (``done``), because a call that timed out may have been
applied, and asking for it again would then be refused ("member not found", "Peer URLs
already exists").
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from labrys.errors import TargetError
from labrys.targets._errors import describe
from labrys.targets._etcd_gateway import EtcdError, Gateway

RECONFIGURE_TIMEOUT_S = 30.0
"""How long a membership change may take, refusals while the cluster settles included."""
CALL_TIMEOUT_S = 5.0
"""How long one call waits: a dropped proposal is asked again of another member."""
_REFUSED_FOR_NOW = re.compile(r"unhealthy cluster|not enough started members|leader changed|"
                              r"request timed out|no leader")

Members = list[dict[str, Any]]


def member_list(others: Mapping[str, str], *, node: str) -> Members:
    """The members, as the first of ``others`` (name to address) that answers lists them.

    Raises:
        TargetError: none answered (``node`` is the one being changed).
    """
    for name, address in others.items():
        gateway = Gateway({name: address}, timeout_s=CALL_TIMEOUT_S)
        try:
            return gateway.call("/v3/cluster/member/list", {})["members"]
        except (httpx.HTTPError, EtcdError, KeyError):
            continue
        finally:
            gateway.close()
    raise TargetError("no other member answered, so the membership cannot change", node=node)


def reconfigure(others: Mapping[str, str], path: str, body: dict[str, Any], *, node: str,
                done: Callable[[Members], bool]) -> Members:
    """Ask for a membership change (see the module docstring); the members after it.

    Args:
        others: the members to ask, in turn, name to address (never the one being
            changed).
        path: ``/v3/cluster/member/remove`` or ``/v3/cluster/member/add``.
        body: the call's body.
        node: the node being changed, for errors.
        done: whether a member list shows the change made.

    Raises:
        TargetError: refused for good, or not made by the deadline.
    """
    what = f"{path.rsplit('/', 1)[-1]} of a member"
    deadline = time.monotonic() + RECONFIGURE_TIMEOUT_S
    asked = list(others.items())
    for attempt in itertools.count():
        gateway = Gateway(dict([asked[attempt % len(asked)]]), timeout_s=CALL_TIMEOUT_S)
        try:
            return gateway.call(path, body)["members"]
        except (EtcdError, httpx.HTTPError) as e:
            error: Exception = e
        finally:
            gateway.close()
        try:
            if done(member_list(others, node=node)):
                return member_list(others, node=node)
        except TargetError:
            pass  # nobody answers for now: ask again, until the deadline
        again = (isinstance(error, httpx.TimeoutException | httpx.ConnectError)
                 or bool(_REFUSED_FOR_NOW.search(str(error))))
        if not again or time.monotonic() > deadline:
            raise TargetError(f"{what}: {describe(error)}", node=node)
        time.sleep(0.5)
    raise AssertionError("itertools.count() never ends")
