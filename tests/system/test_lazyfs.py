"""The lazy file system itself: what survives a power failure and what does not.

Each test writes through a mounted `LazyDisk` from this process, cuts the power
(`power_failure`: the program stops without syncing and mounts again) and reads what
is left. Every rule of the model in ``labrys/control/_lazyfs.py`` has a case where the
data survives and one where it is lost, so a file system that kept everything, or
lost everything, fails here.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from labrys.control import LocalCluster, leftovers
from labrys.control._lazyfs import LazyDisk, Unsynced
from tests.system._netns import needs_lazyfs, needs_root

pytestmark = [*needs_root, *needs_lazyfs]


@pytest.fixture(scope="module")
def node():
    cluster = LocalCluster.up(1)
    cluster.nodes[0].use_lazy_disks()
    yield cluster.nodes[0]
    cluster.teardown()
    assert leftovers(cluster.prefix) == []


def lazy_dir(node, name: str) -> LazyDisk:
    """A fresh data directory of `node`, mounted on its own lazy disk."""
    path = node.data_dir(name)
    (made,) = [d for d in node.lazy_disks() if d.path == path]
    return made


@pytest.fixture
def disk(node, request):
    made = lazy_dir(node, request.node.name.replace("[", "-").strip("]"))
    yield made
    made.unmount()
    shutil.rmtree(made.path)


def write(path: Path, data: bytes, *, sync: str = "", flags: int = 0) -> None:
    """Write `data` to a new file, then fsync or fdatasync it if asked."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | flags, 0o644)
    try:
        os.write(fd, data)
        if sync == "fsync":
            os.fsync(fd)
        elif sync == "fdatasync":
            os.fdatasync(fd)
    finally:
        os.close(fd)


def append(path: Path, data: bytes, *, sync: bool) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, data)
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def test_written_and_never_synced_is_lost(disk):
    f = disk.path / "f"
    write(f, b"synced", sync="fsync")
    append(f, b" and more", sync=False)
    assert f.read_bytes() == b"synced and more"
    lost = disk.power_failure()
    assert f.read_bytes() == b"synced"
    assert lost == Unsynced(files=1, bytes=len(b" and more"), namespace_ops=0)


@pytest.mark.parametrize("sync", ["fsync", "fdatasync"])
def test_written_and_synced_survives(disk, sync):
    data = os.urandom(3 * 1024 * 1024 + 17)  # several chunks, not block aligned
    write(disk.path / "f", data, sync=sync)
    assert disk.power_failure() == Unsynced(files=0, bytes=0, namespace_ops=0)
    assert hashlib.sha256((disk.path / "f").read_bytes()).digest() == hashlib.sha256(data).digest()


def test_o_dsync_writes_are_synced_by_the_write(disk):
    write(disk.path / "f", b"", sync="fsync")
    fd = os.open(disk.path / "f", os.O_WRONLY | os.O_APPEND | os.O_DSYNC)
    os.write(fd, b"each write synced")
    os.close(fd)
    disk.power_failure()
    assert (disk.path / "f").read_bytes() == b"each write synced"


def test_truncation_is_data_too(disk):
    f = disk.path / "f"
    write(f, b"0123456789", sync="fsync")
    os.truncate(f, 4)
    disk.power_failure()
    assert f.read_bytes() == b"0123456789"
    os.truncate(f, 4)
    fd = os.open(f, os.O_WRONLY)
    os.fsync(fd)
    os.close(fd)
    disk.power_failure()
    assert f.read_bytes() == b"0123"


def test_a_new_file_never_synced_is_gone(disk):
    write(disk.path / "new", b"data")
    lost = disk.power_failure()
    assert not (disk.path / "new").exists()
    assert lost.namespace_ops == 1 and lost.files == 1


def test_fsync_of_a_new_file_keeps_its_name_and_data(disk):
    write(disk.path / "new", b"data", sync="fsync")
    disk.power_failure()
    assert (disk.path / "new").read_bytes() == b"data"


def test_any_fsync_commits_every_earlier_name_but_not_their_data(disk):
    # ext4's single journal: the fsync of b commits the creation of a, not a's data.
    write(disk.path / "a", b"a's data")
    os.mkdir(disk.path / "d")
    write(disk.path / "b", b"b's data", sync="fsync")
    disk.power_failure()
    assert (disk.path / "a").read_bytes() == b""
    assert (disk.path / "d").is_dir()
    assert (disk.path / "b").read_bytes() == b"b's data"


def test_a_rename_without_a_later_fsync_is_lost(disk):
    write(disk.path / "old", b"x", sync="fsync")
    os.rename(disk.path / "old", disk.path / "new")
    disk.power_failure()
    assert (disk.path / "old").exists() and not (disk.path / "new").exists()


def test_a_rename_followed_by_a_directory_fsync_is_kept(disk):
    write(disk.path / "old", b"x", sync="fsync")
    os.rename(disk.path / "old", disk.path / "new")
    fsync_dir(disk.path)
    disk.power_failure()
    assert not (disk.path / "old").exists() and (disk.path / "new").read_bytes() == b"x"


def test_unlink_and_rmdir_are_undone_unless_committed(disk):
    write(disk.path / "f", b"keep me", sync="fsync")
    os.mkdir(disk.path / "d")
    fsync_dir(disk.path)
    os.unlink(disk.path / "f")
    os.rmdir(disk.path / "d")
    disk.power_failure()
    assert (disk.path / "f").read_bytes() == b"keep me" and (disk.path / "d").is_dir()
    os.unlink(disk.path / "f")
    fsync_dir(disk.path)
    disk.power_failure()
    assert not (disk.path / "f").exists()


def test_renaming_over_a_file_flushes_the_new_version(disk):
    # The safe-replace idiom without an fsync of the new version (ext4 auto_da_alloc):
    # after the rename is committed, the new version is whole.
    write(disk.path / "config", b"version 1", sync="fsync")
    write(disk.path / "config.tmp", b"version 2")
    os.rename(disk.path / "config.tmp", disk.path / "config")
    fsync_dir(disk.path)
    disk.power_failure()
    assert (disk.path / "config").read_bytes() == b"version 2"
    assert not (disk.path / "config.tmp").exists()


def test_renaming_over_a_file_without_a_commit_keeps_the_old_version(disk):
    write(disk.path / "config", b"version 1", sync="fsync")
    write(disk.path / "config.tmp", b"version 2")
    os.rename(disk.path / "config.tmp", disk.path / "config")
    disk.power_failure()
    assert (disk.path / "config").read_bytes() == b"version 1"


def test_closing_a_file_truncated_to_zero_flushes_it(disk):
    write(disk.path / "f", b"old contents", sync="fsync")
    write(disk.path / "f", b"new")  # O_TRUNC, write, close: no fsync
    disk.power_failure()
    assert (disk.path / "f").read_bytes() == b"new"


def test_owner_and_mode_follow_the_same_rules(disk):
    write(disk.path / "f", b"x", sync="fsync")
    os.chmod(disk.path / "f", 0o600)
    disk.power_failure()
    assert (disk.path / "f").stat().st_mode & 0o777 == 0o644
    os.chmod(disk.path / "f", 0o600)
    os.chown(disk.path / "f", 65534, 65534)
    fsync_dir(disk.path)
    disk.power_failure()
    st = (disk.path / "f").stat()
    assert (st.st_mode & 0o777, st.st_uid, st.st_gid) == (0o600, 65534, 65534)


def test_files_created_by_another_user_are_theirs(disk):
    os.chmod(disk.path, 0o777)
    subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-c",
         f"echo hi > {disk.path}/theirs && sync {disk.path}/theirs"],
        check=True,
    )  # fmt: skip
    st = (disk.path / "theirs").stat()
    assert (st.st_uid, st.st_gid) == (65534, 65534)


def test_sync_makes_everything_durable_as_sync_1_would(disk):
    write(disk.path / "a", b"data")
    os.mkdir(disk.path / "d")
    assert disk.sync() == Unsynced(files=1, bytes=4, namespace_ops=2)
    assert disk.power_failure() == Unsynced(files=0, bytes=0, namespace_ops=0)
    assert (disk.path / "a").read_bytes() == b"data" and (disk.path / "d").is_dir()


def test_what_the_directory_held_before_the_first_mount_is_durable(node):
    path = node.directory / "imported"
    (path / "sub").mkdir(parents=True)
    (path / "sub" / "file").write_bytes(b"there before")
    made = lazy_dir(node, "imported")
    try:
        made.power_failure()
        assert (path / "sub" / "file").read_bytes() == b"there before"
    finally:
        made.unmount()
    assert not (path / "sub").exists()  # the contents live in the state directory


def test_data_directories_are_plain_unless_the_node_is_told_otherwise():
    cluster = LocalCluster.up(1)
    try:
        (n1,) = cluster.nodes
        path = n1.data_dir("plain")
        assert path.is_dir() and n1.lazy_disks() == []
        assert str(path) not in Path("/proc/self/mountinfo").read_text()
    finally:
        cluster.teardown()


def test_a_killed_program_leaves_the_synced_state_and_is_replaced(disk):
    write(disk.path / "f", b"synced", sync="fsync")
    append(disk.path / "f", b" lost", sync=False)
    disk._process.signal(signal.SIGKILL)
    disk._process.wait()
    with pytest.raises(OSError):  # a dead mount: ENOTCONN
        (disk.path / "f").read_bytes()
    disk.mount()
    assert (disk.path / "f").read_bytes() == b"synced"


def test_a_process_started_before_a_power_failure_sees_the_next_boot(disk, node):
    write(disk.path / "f", b"synced", sync="fsync")
    # A node's process has its own copy of the mount table, taken when it started.
    sleeper = node.spawn(["sleep", "600"], log_path=node.directory / "sleeper.log")
    try:
        append(disk.path / "f", b" lost", sync=False)
        disk.power_failure()
        inside = ["nsenter", f"--mount=/proc/{sleeper.pid}/ns/mnt"]
        seen = node.run([*inside, "cat", str(disk.path / "f")])
        assert seen.stdout == "synced"
    finally:
        sleeper.kill()


def test_cluster_teardown_detaches_a_dead_mount():
    cluster = LocalCluster.up(1)
    try:
        (n1,) = cluster.nodes
        n1.use_lazy_disks()
        made = lazy_dir(n1, "data")
        made._process.signal(signal.SIGKILL)
        made._process.wait()
        assert leftovers(cluster.prefix)[0].mounts
    finally:
        cluster.teardown()
    assert leftovers(cluster.prefix) == []
