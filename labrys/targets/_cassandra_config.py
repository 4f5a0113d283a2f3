"""What a Cassandra node is started with: its cassandra.yaml, its logging, its JVM.

Cassandra has no Debian package, and labrys does not use the binary tarball either:
``make setup`` fetches the server's jars from Maven Central (``cassandra-all`` and its
runtime dependencies, see `labrys.targets._cassandra_jars`), and everything the
tarball's ``conf/`` folder and ``bin/cassandra`` script would have supplied is written
here, as pure functions of the node and the options, so each is unit-tested:

- `cassandra_yaml`: the settings Cassandra refuses to start without (cluster name,
  partitioner, snitch, commit log sync, seeds, every data directory, the addresses it
  listens on) and a few that suit a test cluster. It is written as JSON, which is YAML
  too, so no YAML library is needed to write it. Keys use the spellings Cassandra 4.0
  introduced and 5.0 still reads (``*_in_ms``), and nothing newer, so one file serves
  every version a ``version`` option can name.
- `logback_xml`: without a logback configuration Cassandra logs everything at DEBUG to
  the console; the server logs INFO to its console (the node's log file), and
  `TOOLS_LOGBACK_XML` keeps nodetool's output clean (warnings only, on stderr).
- `daemon_argv` / `nodetool_argv`: the ``java`` command lines. Java 17 needs the
  module ``--add-exports``/``--add-opens`` flags Cassandra's ``conf/jvm17-server.options``
  lists (they let the server reach JDK internals such as ``sun.nio.ch``); nodetool
  needs the same. The JVM is kept small for a 2-core machine running three nodes:
  a fixed heap of ``heap_mb`` (512 MB by default: about 0.95 GB resident per node),
  two GC threads, no pre-touched heap, and only the quick C1 JIT compiler: a test
  cluster serves hundreds of operations a second, not hundreds of thousands, and
  without C2 a node reaches "listening for CQL clients" on about 45 % less CPU time
  (6.7 s instead of 11.8 s, measured here).

Fast start. By default a node waits 30 s of "ring delay" for gossip to settle before
it joins the ring, and a node that is not a seed bootstraps (streams data) from the
others, one at a time. A test cluster starts empty, so every node is a seed, nothing
bootstraps (``auto_bootstrap: false``), all nodes are started together, and the ring
delay is cut to one second (``-Dcassandra.ring_delay_ms``,
``-Dcassandra.skip_wait_for_gossip_to_settle=0``): three nodes serve CQL in well under
a minute instead of four.

JMX (which nodetool speaks) listens on the node's loopback only
(``-Dcassandra.jmx.local.port``), so nodetool runs on the node itself.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

CQL_PORT = 9042
STORAGE_PORT = 7000
JMX_PORT = 7199
CLUSTER_NAME = "labrys"

DAEMON_CLASS = "org.apache.cassandra.service.CassandraDaemon"
NODETOOL_CLASS = "org.apache.cassandra.tools.NodeTool"

JAVA17_MODULE_FLAGS: tuple[str, ...] = (
    *(f"--add-exports={m}=ALL-UNNAMED" for m in (
        "java.base/jdk.internal.misc",
        "java.base/java.lang.ref",
        "java.management.rmi/com.sun.jmx.remote.internal.rmi",
        "java.rmi/sun.rmi.registry",
        "java.rmi/sun.rmi.server",
        "java.sql/java.sql",
        "jdk.unsupported/sun.misc",
        "jdk.compiler/com.sun.tools.javac.file",
        "jdk.attach/sun.tools.attach",
    )),
    *(f"--add-opens={m}=ALL-UNNAMED" for m in (
        "java.base/java.io",
        "java.base/java.lang",
        "java.base/java.lang.module",
        "java.base/java.lang.reflect",
        "java.base/java.util",
        "java.base/jdk.internal.loader",
        "java.base/jdk.internal.math",
        "java.base/jdk.internal.module",
        "java.base/jdk.internal.ref",
        "java.base/jdk.internal.reflect",
        "java.base/jdk.internal.util.jar",
        "java.base/sun.nio.ch",
        "jdk.compiler/com.sun.tools.javac",
        "jdk.management/com.sun.management.internal",
    )),
)
"""The JDK internals Cassandra (and nodetool) reach into, opened to them on Java 17."""


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeFiles:
    """Where one node's Cassandra files live, under the node's own directory.

    Attributes:
        root: ``<node directory>/cassandra``; everything below is inside it.
    """

    root: PurePosixPath

    @classmethod
    def under(cls, node_directory: PurePosixPath | str) -> NodeFiles:
        return cls(root=PurePosixPath(node_directory) / "cassandra")

    @property
    def config(self) -> PurePosixPath:
        return self.root / "cassandra.yaml"

    @property
    def logback(self) -> PurePosixPath:
        return self.root / "logback.xml"

    @property
    def tools_logback(self) -> PurePosixPath:
        return self.root / "logback-tools.xml"

    @property
    def log(self) -> PurePosixPath:
        """The server's console: everything it logs at INFO and above."""
        return self.root / "cassandra.log"

    @property
    def clock(self) -> PurePosixPath:
        """The libfaketime offset file the node's JVM reads its wall clock through."""
        return self.root / "clock"

    @property
    def data(self) -> PurePosixPath:
        return self.root / "data"

    def directories(self) -> dict[str, PurePosixPath]:
        """Every directory cassandra.yaml names, by its key."""
        return {
            "commitlog_directory": self.data / "commitlog",
            "hints_directory": self.data / "hints",
            "saved_caches_directory": self.data / "saved_caches",
            "cdc_raw_directory": self.data / "cdc_raw",
        }


def cassandra_yaml(*, address: str, seeds: Sequence[str], files: NodeFiles) -> str:
    """The cassandra.yaml of the node at ``address``, whose cluster's seeds are ``seeds``.

    Every node of a labrys cluster is a seed and none bootstraps (see the module
    docstring). The result is JSON, which Cassandra's YAML parser reads.
    """
    settings: dict[str, object] = {
        "cluster_name": CLUSTER_NAME,
        "num_tokens": 16,
        "partitioner": "org.apache.cassandra.dht.Murmur3Partitioner",
        "endpoint_snitch": "SimpleSnitch",
        "seed_provider": [{
            "class_name": "org.apache.cassandra.locator.SimpleSeedProvider",
            "parameters": [{"seeds": ",".join(seeds)}],
        }],
        "auto_bootstrap": False,
        "listen_address": address,
        "rpc_address": address,
        "storage_port": STORAGE_PORT,
        "native_transport_port": CQL_PORT,
        "start_native_transport": True,
        "data_file_directories": [str(files.data / "data")],
        **{key: str(path) for key, path in files.directories().items()},
        # Commit log fsynced every 10 s, Cassandra's default: an acknowledged write
        # lives in the memtables of its replicas and, within 10 s, on their disks.
        "commitlog_sync": "periodic",
        "commitlog_sync_period_in_ms": 10000,
        # A small machine: one compaction at a time, small caches.
        "concurrent_compactors": 1,
        "key_cache_size_in_mb": 16,
        "counter_cache_size_in_mb": 16,
    }
    header = "# Written by labrys for one node of a test cluster (JSON is YAML).\n"
    return header + json.dumps(settings, indent=2) + "\n"


def logback_xml(*, level: str = "INFO") -> str:
    """The server's logback configuration: ``level`` and above to the console."""
    return f"""<configuration scan="false">
  <appender name="CONSOLE" class="ch.qos.logback.core.ConsoleAppender">
    <encoder><pattern>%-5level [%thread] %date{{ISO8601}} %logger{{1}} - %msg%n</pattern></encoder>
  </appender>
  <root level="{level}"><appender-ref ref="CONSOLE"/></root>
</configuration>
"""


TOOLS_LOGBACK_XML = """<configuration scan="false">
  <appender name="STDERR" class="ch.qos.logback.core.ConsoleAppender">
    <target>System.err</target>
    <encoder><pattern>%-5level %msg%n</pattern></encoder>
  </appender>
  <root level="WARN"><appender-ref ref="STDERR"/></root>
</configuration>
"""
"""nodetool's logback configuration: warnings only, on stderr, so stdout is its answer."""


def daemon_argv(*, java: str, lib: PurePosixPath, jamm_jar: PurePosixPath, files: NodeFiles,
                heap_mb: int) -> list[str]:
    """The command line that runs CassandraDaemon in the foreground on one node.

    Args:
        java: the ``java`` executable (Java 17).
        lib: the folder holding every jar (``cassandra-all`` and its dependencies).
        jamm_jar: the jamm jar in it, loaded as an agent (Cassandra measures object
            sizes with it).
        files: the node's files.
        heap_mb: the fixed heap size.
    """
    return [
        java,
        f"-Xms{heap_mb}m", f"-Xmx{heap_mb}m", "-Xss256k",
        "-XX:+UseG1GC", "-XX:ParallelGCThreads=2", "-XX:ConcGCThreads=1",
        "-XX:TieredStopAtLevel=1",
        "-XX:+PerfDisableSharedMem", "-XX:+HeapDumpOnOutOfMemoryError",
        f"-XX:HeapDumpPath={files.root}",
        "-ea", "-da:net.openhft...",
        "-Djava.net.preferIPv4Stack=true",
        "-Djdk.attach.allowAttachSelf=true",
        "-Dio.netty.tryReflectionSetAccessible=true",
        "-Dio.netty.allocator.useCacheForAllThreads=true",
        "-Dio.netty.allocator.maxOrder=11",
        *JAVA17_MODULE_FLAGS,
        f"-javaagent:{jamm_jar}",
        "-Dcassandra-foreground=yes",
        f"-Dcassandra.config=file://{files.config}",
        f"-Dlogback.configurationFile={files.logback}",
        f"-Dcassandra.logdir={files.root}",
        f"-Dcassandra.storagedir={files.data}",
        f"-Dcassandra.jmx.local.port={JMX_PORT}",
        "-Dcassandra.ring_delay_ms=1000",
        "-Dcassandra.skip_wait_for_gossip_to_settle=0",
        "-cp", f"{lib}/*",
        DAEMON_CLASS,
    ]


def nodetool_argv(*, java: str, lib: PurePosixPath, files: NodeFiles,
                  command: Sequence[str]) -> list[str]:
    """The command line that runs ``nodetool COMMAND…`` against the node it runs on."""
    return [
        java, "-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
        *JAVA17_MODULE_FLAGS,
        f"-Dlogback.configurationFile={files.tools_logback}",
        "-cp", f"{lib}/*",
        NODETOOL_CLASS, "-h", "127.0.0.1", "-p", str(JMX_PORT), *command,
    ]
