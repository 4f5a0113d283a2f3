"""Where Cassandra's jars are: fetched from Maven Central into a cache, once per version.

``make setup`` runs ``scripts/fetch-cassandra.sh``, which resolves
``org.apache.cassandra:cassandra-all:VERSION`` and its runtime dependencies with Maven
into ``$XDG_CACHE_HOME/labrys/cassandra/VERSION/lib`` (``~/.cache`` when unset),
outside the repository, and marks the folder complete. Another version is one more
run of that script. This module only finds them and says plainly what to do when they
are missing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from labrys.errors import UsageError

DEFAULT_VERSION = "5.0.9"


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/labrys/cassandra``, the folder the fetch script fills."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "labrys" / "cassandra"


@dataclass(frozen=True, slots=True, kw_only=True)
class Jars:
    """One fetched version of Cassandra.

    Attributes:
        version: the Maven version (``5.0.9``).
        lib: the folder holding every jar.
        jamm: the jamm agent jar among them.
    """

    version: str
    lib: Path
    jamm: Path


def find_jars(version: str, *, root: Path | None = None) -> Jars:
    """The jars of ``version`` in the cache.

    Raises:
        UsageError: they have not been fetched (completely); the message says how.
    """
    folder = (root or cache_root()) / version
    lib = folder / "lib"
    jamm = sorted(lib.glob("jamm-*.jar"))
    if not (folder / ".complete").exists() or not jamm:
        raise UsageError(f"Cassandra {version}'s jars are not in {lib}: fetch them with "
                         f"`bash scripts/fetch-cassandra.sh {version}` (make setup fetches "
                         f"{DEFAULT_VERSION}); it needs Debian's maven and "
                         "openjdk-17-jre-headless")
    return Jars(version=version, lib=lib, jamm=jamm[-1])
