"""Removing clusters: on exit, on a signal, and after a crash.

Removal works from names, not from memory: everything of cluster ``lb3fa0`` is found
by its prefix (see `_registry`), so the same code tears down a cluster its owner is
done with and sweeps what a SIGKILLed run left behind. The order matters:

1. kill every process inside the cluster's namespaces (found by namespace inode, as
   `ip netns pids` does, and signalled through a pidfd re-checked after opening, so
   a recycled PID is never hit);
2. delete the host's iptables rules commented ``labrys <prefix>``;
3. delete the host-side veths (which takes their peers, synchronously), the bridge,
   and the namespaces' mount points;
4. detach every mount under the cluster's directory (a node's lazy file system, dead
   once its process is killed, and the bind mount under it), deepest first, then
   delete ``/etc/netns/<namespace>``, the node directories and the record;
5. check that no namespace or interface with the prefix remains, and say so if one
   does. Processes go first because a namespace with a process in it outlives
   `ip netns del`, invisibly.

Signals: `exit_on_signals` turns SIGTERM and SIGHUP into `SystemExit` so that the
``finally`` and ``with`` blocks around a run execute (SIGINT already raises
`KeyboardInterrupt`); `deferred_signals` holds SIGINT and SIGTERM back while a
teardown runs, so a second Ctrl-C cannot leave half a cluster, and delivers them after.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import shlex
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from labrys.control import _host
from labrys.control._registry import (
    BASE_DIR,
    IPTABLES_COMMENT,
    PREFIX_PATTERN,
    STATE_DIR,
    ClusterRecord,
    names_in_use,
    records,
)
from labrys.errors import ControlError

_NETNS = Path("/run/netns")
_LINKS = Path("/sys/class/net")
_ETC_NETNS = Path("/etc/netns")
_RULE_COMMENT = re.compile(rf'--comment "?{IPTABLES_COMMENT} (lb[0-9a-f]{{4}})"?')


@dataclass(frozen=True, slots=True)
class Leftovers:
    """The kernel and file-system objects of one prefix that exist right now.

    Attributes:
        prefix: the cluster prefix.
        namespaces: network namespaces (``ip netns list``).
        links: host interfaces: veths and the bridge.
        rules: host iptables rules, as ``iptables-save`` prints them.
        pids: processes inside those namespaces.
        paths: ``/etc/netns`` entries, node directories and the record file.
        mounts: mount points under the node directories (lazy file systems).
    """

    prefix: str
    namespaces: tuple[str, ...]
    links: tuple[str, ...]
    rules: tuple[str, ...]
    pids: tuple[int, ...]
    paths: tuple[str, ...]
    mounts: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return any((self.namespaces, self.links, self.rules, self.pids, self.paths, self.mounts))


def _listdir(path: Path) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except FileNotFoundError:
        return []


def _mounts_under(directory: Path) -> list[str]:
    """Mount points at or under `directory`, deepest and newest first (/proc/self/mountinfo)."""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        fields = line.split(" ")
        # Field 5 is the mount point, with space, tab, newline and backslash in octal.
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), fields[4])
        if Path(point).is_relative_to(directory):
            found.append(point)
    return sorted(reversed(found), key=lambda p: -p.count("/"))


def detach_mounts(directory: Path) -> None:
    """Detach everything mounted under `directory` (lazily: a dead FUSE mount too).

    Raises:
        ControlError: if something stays mounted.
    """
    for _ in range(16):
        points = _mounts_under(directory)
        if not points:
            return
        for point in points:
            _host.run(["umount", "-l", point])
    raise ControlError(f"could not unmount {', '.join(_mounts_under(directory))}: see `mount`")


def _host_rules() -> list[str]:
    if shutil.which("iptables-save") is None:
        return []
    return [
        line
        for line in _host.run(["iptables-save", "-t", "filter"]).check().stdout.splitlines()
        if line.startswith("-A ") and _RULE_COMMENT.search(line)
    ]


def _namespace_inodes(namespaces: list[str]) -> set[tuple[int, int]]:
    """The identities (device, inode) of the named network namespaces."""
    inodes = set()
    for name in namespaces:
        with contextlib.suppress(OSError):
            st = os.stat(_NETNS / name)
            inodes.add((st.st_dev, st.st_ino))
    return inodes


def _in_namespaces(pid: int | str, inodes: set[tuple[int, int]]) -> bool:
    try:
        st = os.stat(f"/proc/{pid}/ns/net")
    except OSError:
        return False
    return (st.st_dev, st.st_ino) in inodes


def _namespace_pids(namespaces: list[str]) -> list[int]:
    """PIDs of the processes inside the named namespaces, as `ip netns pids` finds them."""
    inodes = _namespace_inodes(namespaces)
    if not inodes:
        return []
    return [int(e) for e in _listdir(Path("/proc")) if e.isdigit() and _in_namespaces(e, inodes)]


def leftovers(prefix: str | None = None) -> list[Leftovers]:
    """Every prefix's objects on this machine (or just `prefix`'s), whoever owns them."""
    found: dict[str, dict[str, list]] = {}

    def add(name: str, kind: str, item: object) -> None:
        match = PREFIX_PATTERN.match(name)
        if match is None or (prefix is not None and match[1] != prefix):
            return
        kinds = found.setdefault(
            match[1], {k: [] for k in ("ns", "links", "rules", "paths", "mounts")}
        )
        kinds[kind].append(item)

    for name in _listdir(_NETNS):
        add(name, "ns", name)
    for name in _listdir(_LINKS):
        add(name, "links", name)
    for rule in _host_rules():
        match = _RULE_COMMENT.search(rule)
        assert match is not None
        add(match[1], "rules", rule)
    for name in _listdir(_ETC_NETNS):
        add(name, "paths", str(_ETC_NETNS / name))
    dirs = {BASE_DIR / name for name in _listdir(BASE_DIR)}
    dirs |= {Path(r.directory) for r in records()}
    for path in dirs:
        if path.exists():
            add(path.name, "paths", str(path))
        for point in _mounts_under(path):
            add(path.name, "mounts", point)
    for record in records():
        add(record.prefix, "paths", str(record.path))
    return [
        Leftovers(
            prefix=p,
            namespaces=tuple(f["ns"]),
            links=tuple(f["links"]),
            rules=tuple(f["rules"]),
            pids=tuple(_namespace_pids(f["ns"])),
            paths=tuple(sorted(f["paths"])),
            mounts=tuple(f["mounts"]),
        )
        for p, f in sorted(found.items())
    ]


def kill_namespace_processes(namespaces: list[str], *, timeout_s: float = 10.0) -> list[int]:
    """SIGKILL every process in the given namespaces and wait until they are gone.

    Each candidate is pinned with a pidfd, then checked again to be in one of the
    namespaces, so a PID that was recycled between the scan and the signal is spared.

    Returns:
        the PIDs that were killed.

    Raises:
        ControlError: if some process survives `timeout_s`.
    """
    inodes = _namespace_inodes(namespaces)
    killed: dict[int, int] = {}
    # A process may fork while we kill its parent: scan until a pass finds no one.
    for _ in range(20):
        fresh = [pid for pid in _namespace_pids(namespaces) if pid not in killed]
        if not fresh:
            break
        for pid in fresh:
            try:
                fd = os.pidfd_open(pid)
            except OSError:
                continue
            try:
                if not _in_namespaces(pid, inodes):
                    raise ProcessLookupError(pid)  # the PID now names someone else
                signal.pidfd_send_signal(fd, signal.SIGKILL)
            except OSError:
                os.close(fd)
                continue
            killed[pid] = fd
    deadline = time.monotonic() + timeout_s
    survivors = []
    for pid, fd in killed.items():
        readable, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not readable:
            survivors.append(pid)
        os.close(fd)
    if survivors:
        raise ControlError(
            f"processes {survivors} in {', '.join(namespaces)} survived SIGKILL for {timeout_s} s"
        )
    return sorted(killed)


def remove_prefix(prefix: str, *, directory: Path | None = None) -> None:
    """Remove every object of one cluster, found by its prefix; idempotent.

    Args:
        prefix: the cluster's prefix.
        directory: its node directories' parent, if not the default ``BASE_DIR/<prefix>``.

    Raises:
        ControlError: if something with the prefix is still there afterwards.
    """
    with deferred_signals():
        namespaces = [n for n in _listdir(_NETNS) if n.startswith(prefix + "-")]
        kill_namespace_processes(namespaces)
        for rule in _host_rules():
            match = _RULE_COMMENT.search(rule)
            if match is not None and match[1] == prefix:
                spec = shlex.split(rule)[1:]
                _host.run(["iptables", "-t", "filter", "-D", *spec]).check()
        # Veths first: deleting a host end removes its peer at once, whereas a
        # namespace's own interfaces go only when the kernel gets round to it.
        links = [n for n in _listdir(_LINKS) if n.startswith(prefix + "-")]
        links.sort(key=lambda n: n.endswith("-br"))
        batch = [f"link del {name}" for name in links]
        batch += [f"netns del {name}" for name in namespaces]
        if batch:
            # -force: keep going past an object that vanished meanwhile; the check
            # below is what decides success.
            _host.run(["ip", "-force", "-batch", "-"], input="\n".join(batch) + "\n")
        for name in _listdir(_ETC_NETNS):
            if name.startswith(prefix + "-"):
                shutil.rmtree(_ETC_NETNS / name, ignore_errors=True)
        for path in {directory or BASE_DIR / prefix, BASE_DIR / prefix}:
            if path.name == prefix:  # never anything but a cluster's own directory
                detach_mounts(path)
                shutil.rmtree(path, ignore_errors=True)
        (STATE_DIR / f"{prefix}.json").unlink(missing_ok=True)
        if names_in_use(prefix):
            remaining = [n for d in (_NETNS, _LINKS) for n in _listdir(d) if n.startswith(prefix)]
            raise ControlError(
                f"could not remove {', '.join(remaining)}: see `ip link`, `ip netns`"
            )


@dataclass(frozen=True, slots=True)
class DownReport:
    """What `down` did.

    Attributes:
        removed: prefixes whose objects were removed.
        kept: the records of clusters left alone because their owner is running.
    """

    removed: tuple[str, ...]
    kept: tuple[ClusterRecord, ...]


def down(*, prefix: str | None = None, everything: bool = False) -> DownReport:
    """Remove clusters and the leftovers of crashed runs.

    Without `prefix`, removes every cluster made by `labrys cluster up`, every
    cluster whose owning process is gone, and every object with a labrys prefix
    that no live cluster claims. Clusters whose owner is running (a test in another
    terminal) are kept unless `everything` is set. With `prefix`, removes that
    cluster whoever owns it. Idempotent: a second call finds nothing.

    Raises:
        ControlError: if not root, or if something could not be removed.
    """
    _host.require_root()
    recorded = {r.prefix: r for r in records()}
    found = {lo.prefix for lo in leftovers(prefix)}
    found |= set(recorded) if prefix is None else {prefix} & set(recorded)
    kept = [
        recorded[p]
        for p in sorted(found & set(recorded))
        if p != prefix and not everything and recorded[p].owned_by_live_process
    ]
    removed = []
    for p in sorted(found - {r.prefix for r in kept}):
        record = recorded.get(p)
        remove_prefix(p, directory=None if record is None else Path(record.directory))
        removed.append(p)
    return DownReport(removed=tuple(removed), kept=tuple(kept))


@contextlib.contextmanager
def exit_on_signals() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise `SystemExit` (status 128 + signal).

    So `kill PID` runs the same clean-up as Ctrl-C. Outside the main thread, where
    Python cannot install handlers, the block runs unchanged.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def leave(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = {s: signal.signal(s, leave) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block ends, then deliver them.

    A teardown interrupted half-way would leave exactly the debris it exists to
    remove. Outside the main thread the block runs unchanged.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    sigs = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, lambda signum, frame: pending.append(signum)) for s in sigs}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        for signum in pending:
            signal.raise_signal(signum)
