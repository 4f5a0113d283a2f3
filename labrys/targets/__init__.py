"""Targets: the databases labrys can run, one module each.

`TARGETS` maps a name (``labrys run --target NAME``) to a `TargetEntry`: its options
and a constructor. A target implements `Target` (setup, teardown) and whichever
capabilities it has (clients, logs, version; kill, pause and primaries for the
nemesis), see ``_target.py``.

Example:
    >>> entry = get_target("etcd")
    >>> sorted(entry.options)
    ['client_timeout_s', 'etcd_binary', 'read_mode']
"""

from labrys.errors import lookup
from labrys.targets import cassandra, etcd, postgres, redis
from labrys.targets._target import ClientSource, HasLogs, HasVersion, Target, TargetEntry

TARGETS: dict[str, TargetEntry] = {
    e.name: e for e in [etcd.ENTRY, redis.ENTRY, postgres.ENTRY, cassandra.ENTRY]}


def node_packages() -> list[str]:
    """Every Debian package some target needs on its nodes, once each, sorted."""
    return sorted({package for entry in TARGETS.values() for package in entry.packages})


def get_target(name: str) -> TargetEntry:
    """The target called ``name``.

    Raises:
        UsageError: there is none; the message lists those there are.
    """
    return lookup(TARGETS, name, what="target")


__all__ = ["TARGETS", "ClientSource", "HasLogs", "HasVersion", "Target", "TargetEntry",
           "get_target",
           "node_packages"]
